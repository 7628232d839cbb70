import type { MailboxSettings } from "@imap-proxy/db";
import { findMailboxRow, resumeMailbox } from "@imap-proxy/db";
import {
  DEFAULT_SMTP_TIMEOUT_MS,
  SmtpError,
  type SmtpSettings,
  type SmtpVerification,
  extraCaFromEnv,
  verifySmtp,
} from "@imap-proxy/smtp";
import { CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import type { MailboxesVerifySmtpFlags } from "../commands/mailboxes-verify-smtp.ts";

export type VerifyOutcome =
  { ok: true; result: SmtpVerification } | { ok: false; error: SmtpError };

export function timeoutFromFlag(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SMTP_TIMEOUT_MS;
  const match = /^([1-9][0-9]{0,4})(ms|s)$/.exec(value);
  if (!match)
    throw new CliError(
      "invalid_input",
      `Invalid --smtp-timeout "${value}": use e.g. 15s or 500ms.`,
    );
  return Number(match[1]) * (match[2] === "s" ? 1000 : 1);
}

/** Connect, upgrade, authenticate, quit: the shared step behind verify-smtp and --verify. */
export async function checkSmtp(
  settings: SmtpSettings,
  io: Io,
  timeoutMs: number,
): Promise<VerifyOutcome> {
  try {
    return {
      ok: true,
      result: await verifySmtp(settings, { extraCa: extraCaFromEnv(io.env), timeoutMs }),
    };
  } catch (error) {
    if (error instanceof SmtpError) return { ok: false, error };
    throw error;
  }
}

export function smtpSettingsOf(settings: MailboxSettings): SmtpSettings {
  return {
    host: settings.smtpHost,
    port: settings.smtpPort,
    tlsMode: settings.smtpTlsMode,
    username: settings.smtpUsername,
    password: settings.smtpPassword,
  };
}

export function describeVerification(outcome: VerifyOutcome): string {
  if (!outcome.ok) return `SMTP verification failed: ${outcome.error.message}`;
  const r = outcome.result;
  return [
    `SMTP verified: ${r.serverName ?? "server"} accepted the login over ${r.tlsProtocol} (${r.tlsCipher}).`,
    `Certificate ${r.certificateSubject ?? "(no subject)"}, valid until ${r.certificateExpiresAt ?? "unknown"}.`,
  ].join("\n");
}

export function verificationJson(outcome: VerifyOutcome) {
  return outcome.ok
    ? { ok: true, ...outcome.result }
    : { ok: false, code: outcome.error.code, message: outcome.error.message };
}

export async function runMailboxesVerifySmtp(
  idOrEmail: string,
  flags: MailboxesVerifySmtpFlags,
  io: Io,
): Promise<void> {
  const timeoutMs = timeoutFromFlag(flags.smtpTimeout);
  const keyring = await keyringFor(io);
  const row = await withDatabase(io, async ({ db }) => {
    const found = await findMailboxRow(db, idOrEmail);
    if (found === undefined) throw new CliError("not_found", `No mailbox matches "${idOrEmail}".`);
    return found;
  });
  const outcome = await checkSmtp(
    {
      host: row.smtpHost,
      port: row.smtpPort,
      tlsMode: row.smtpTlsMode,
      username: row.smtpUsername,
      password: keyring.decryptSecret(row.smtpPasswordEncrypted),
    },
    io,
    timeoutMs,
  );
  // A passing check is the fix a paused mailbox waits for: sending resumes.
  const resumed = outcome.ok && row.pauseReason !== null;
  if (resumed) await withDatabase(io, ({ db }) => resumeMailbox(db, row.id));
  if (flags.json) writeJson(io, { mailbox: row.id, ...verificationJson(outcome), resumed });
  else if (outcome.ok)
    writeLine(
      io.stdout,
      describeVerification(outcome) +
        (resumed ? "\nSending resumed (the mailbox was paused)." : ""),
    );
  if (!outcome.ok) {
    if (flags.json)
      throw new CliError(outcome.error.code, `SMTP verification failed (${outcome.error.code}).`);
    throw new CliError(outcome.error.code, outcome.error.message);
  }
}
