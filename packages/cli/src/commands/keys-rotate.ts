import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

const options = () =>
  withCommonOptions(
    new Command("keys:rotate")
      .description(
        "re-encrypt every stored secret under the first key of FERNET_KEY (FERNET_KEY=new,old)",
      )
      .option("--batch-size <n>", "mailboxes per transaction", "200"),
  );

export type KeysRotateFlags = ReturnType<ReturnType<typeof options>["opts"]>;

export const keysRotate = (io: Io) =>
  options().action(async (flags) => (await import("../actions/keys.ts")).runKeysRotate(flags, io));
