import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

const options = () =>
  withCommonOptions(
    new Command("mailboxes:verify-imap")
      .description(
        "connect to the mailbox's IMAP server, upgrade, log in, list folders and log out; changes nothing",
      )
      .argument("<id|email>")
      .option(
        "--imap-timeout <duration>",
        "bound for connecting and the greeting, e.g. 15s (default)",
      ),
  );

export type MailboxesVerifyImapFlags = ReturnType<ReturnType<typeof options>["opts"]>;

export const mailboxesVerifyImap = (io: Io) =>
  options().action(async (idOrEmail, flags) =>
    (await import("../actions/imap.ts")).runMailboxesVerifyImap(idOrEmail, flags, io),
  );
