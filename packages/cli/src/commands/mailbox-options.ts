import { type Command, Option, type OptionValues } from "@commander-js/extra-typings";
import { smtpTimeoutOption } from "./options.ts";

/** The flags of mailboxes:create and mailboxes:update: every field, plus the save-time checks. */
export function withMailboxOptions<
  A extends unknown[],
  O extends OptionValues,
  G extends OptionValues,
>(command: Command<A, O, G>) {
  return (
    command
      .option("--email <address>", "the mailbox's email address (unique, case-insensitive)")
      .option("--imap-host <host>", "IMAP server hostname or IP")
      .option("--imap-port <port>", "IMAP port (default 993)")
      .option("--imap-username <name>", "IMAP login")
      .option(
        "--imap-password-file <path>",
        "read the IMAP password from a file ('-' = stdin); or set IMAP_PASSWORD",
      )
      .option("--smtp-host <host>", "SMTP server hostname or IP")
      .option(
        "--smtp-port <port>",
        "SMTP port (default 465 for implicit, 587 for starttls_required)",
      )
      .option("--smtp-username <name>", "SMTP login")
      .option(
        "--smtp-password-file <path>",
        "read the SMTP password from a file ('-' = stdin); or set SMTP_PASSWORD",
      )
      .option("--smtp-tls-mode <mode>", "implicit | starttls_required (default starttls_required)")
      .option("--allow-port-mismatch", "accept 465 with starttls_required, or 587/25 with implicit")
      .option(
        "--verify",
        "check the SMTP settings before saving (connect, TLS, log in, send nothing)",
      )
      .option("--save-anyway", "with --verify: save even if the check fails")
      .addOption(smtpTimeoutOption())
      // Accepted only to refuse them with a clear message: argv leaks into `ps` and history.
      .addOption(new Option("--imap-password <value>").hideHelp())
      .addOption(new Option("--smtp-password <value>").hideHelp())
  );
}

/** The mailbox flags as commander hands them over (strings until validated). */
export type MailboxFlags = ReturnType<
  ReturnType<typeof withMailboxOptions<[], Record<never, never>, Record<never, never>>>["opts"]
>;
