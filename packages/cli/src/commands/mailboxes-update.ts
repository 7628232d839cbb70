import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withMailboxOptions } from "./mailbox-options.ts";
import { withCommonOptions } from "./options.ts";

export const mailboxesUpdate = (io: Io) =>
  withCommonOptions(
    withMailboxOptions(
      new Command("mailboxes:update")
        .description("change IMAP or SMTP settings, passwords included")
        .argument("<id|email>"),
    ),
  ).action(async (idOrEmail, flags) =>
    (await import("../actions/mailboxes-update.ts")).runMailboxesUpdate(idOrEmail, flags, io),
  );
