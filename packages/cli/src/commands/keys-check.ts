import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

const options = () =>
  withCommonOptions(
    new Command("keys:check").description(
      "check that every stored secret decrypts under FERNET_KEY (exit 1 naming the mailboxes that do not)",
    ),
  );

export type KeysCheckFlags = ReturnType<ReturnType<typeof options>["opts"]>;

export const keysCheck = (io: Io) =>
  options().action(async (flags) =>
    (await import("../actions/keys-check.ts")).runKeysCheck(flags, io),
  );
