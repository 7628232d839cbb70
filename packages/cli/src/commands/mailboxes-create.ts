import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withMailboxOptions } from "./mailbox-options.ts";
import { withCommonOptions } from "./options.ts";

const options = () =>
  withCommonOptions(
    withMailboxOptions(
      new Command("mailboxes:create").description(
        "register a mailbox (prompts in a terminal; flags in scripts)",
      ),
    ),
  );

export type MailboxesCreateFlags = ReturnType<ReturnType<typeof options>["opts"]>;

export const mailboxesCreate = (io: Io) =>
  options().action(async (flags) =>
    (await import("../actions/mailboxes-create.ts")).runMailboxesCreate(flags, io),
  );
