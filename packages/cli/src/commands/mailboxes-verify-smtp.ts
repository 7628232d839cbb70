import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { smtpTimeoutOption, withCommonOptions } from "./options.ts";

const options = () =>
  withCommonOptions(
    new Command("mailboxes:verify-smtp")
      .description("connect to the mailbox's SMTP server, upgrade, log in and quit; sends nothing")
      .argument("<id|email>")
      .addOption(smtpTimeoutOption()),
  );

export type MailboxesVerifySmtpFlags = ReturnType<ReturnType<typeof options>["opts"]>;

export const mailboxesVerifySmtp = (io: Io) =>
  options().action(async (idOrEmail, flags) =>
    (await import("../actions/smtp.ts")).runMailboxesVerifySmtp(idOrEmail, flags, io),
  );
