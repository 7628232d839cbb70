import type { MailboxSettings, MailboxTlsMode } from "@imap-proxy/db";
import { CliError } from "../errors.ts";
import type { MailboxFlags } from "../commands/mailbox-options.ts";
import type { Io } from "../io.ts";
import { readSecret } from "../secrets.ts";
import {
  emailSchema,
  hostSchema,
  parseTlsMode,
  portSchema,
  secretSchema,
  usernameSchema,
  validateAll,
} from "../validation.ts";

/** Passwords on the command line leak into shell history and `ps`; refuse them outright. */
export function refuseArgvSecrets(flags: MailboxFlags): void {
  for (const [present, name] of [
    [flags.imapPassword !== undefined, "IMAP"],
    [flags.smtpPassword !== undefined, "SMTP"],
  ] as const) {
    if (present) {
      throw new CliError(
        "secret_in_argv",
        `Passwords are never taken from the command line; use ${name}_PASSWORD or --${name.toLowerCase()}-password-file.`,
      );
    }
  }
}

/** Everything the flags and env give, validated; absent fields stay undefined. */
export async function mailboxFieldsFromFlags(
  flags: MailboxFlags,
  io: Io,
): Promise<Partial<MailboxSettings>> {
  refuseArgvSecrets(flags);
  // The mode goes through parseTlsMode before anything else, so a bad mode touches nothing.
  const smtpTlsMode: MailboxTlsMode | undefined =
    flags.smtpTlsMode === undefined ? undefined : parseTlsMode(flags.smtpTlsMode);
  if (flags.imapPasswordFile === "-" && flags.smtpPasswordFile === "-") {
    throw new CliError(
      "invalid_input",
      "Only one of --imap-password-file and --smtp-password-file can read stdin.",
    );
  }
  const imapPassword = await readSecret(
    { variable: "IMAP_PASSWORD", file: flags.imapPasswordFile, flag: "--imap-password-file" },
    io.env,
    io.stdin,
  );
  const smtpPassword = await readSecret(
    { variable: "SMTP_PASSWORD", file: flags.smtpPasswordFile, flag: "--smtp-password-file" },
    io.env,
    io.stdin,
  );
  const fields = validateAll<Omit<MailboxSettings, "smtpTlsMode">>({
    email: { label: "--email", schema: emailSchema, value: flags.email },
    imapHost: { label: "--imap-host", schema: hostSchema, value: flags.imapHost },
    imapPort: { label: "--imap-port", schema: portSchema, value: flags.imapPort },
    imapUsername: { label: "--imap-username", schema: usernameSchema, value: flags.imapUsername },
    imapPassword: { label: "the IMAP password", schema: secretSchema, value: imapPassword },
    smtpHost: { label: "--smtp-host", schema: hostSchema, value: flags.smtpHost },
    smtpPort: { label: "--smtp-port", schema: portSchema, value: flags.smtpPort },
    smtpUsername: { label: "--smtp-username", schema: usernameSchema, value: flags.smtpUsername },
    smtpPassword: { label: "the SMTP password", schema: secretSchema, value: smtpPassword },
  });
  return { ...fields, ...(smtpTlsMode === undefined ? {} : { smtpTlsMode }) };
}

export const REQUIRED_FOR_CREATE: [keyof MailboxSettings, string][] = [
  ["email", "--email"],
  ["imapHost", "--imap-host"],
  ["imapUsername", "--imap-username"],
  ["imapPassword", "the IMAP password (IMAP_PASSWORD or --imap-password-file)"],
  ["smtpHost", "--smtp-host"],
  ["smtpUsername", "--smtp-username"],
  ["smtpPassword", "the SMTP password (SMTP_PASSWORD or --smtp-password-file)"],
];
