import { resumeMailbox } from "@imap-proxy/db";
import {
  DEFAULT_SMTP_TIMEOUT_MS,
  SmtpError,
  type SmtpSettings,
  type SmtpVerification,
  extraCaFromEnv,
  verifySmtp,
} from "@imap-proxy/smtp";
import type { Io } from "../io.ts";
import { withDatabase } from "../runtime.ts";
import { durationFlag } from "../validation.ts";
import type { MailboxesVerifySmtpFlags } from "../commands/mailboxes-verify-smtp.ts";
import { type CheckOutcome, outcomeOf, runVerifyCommand, serverSettingsOf } from "./verify.ts";

export { DEFAULT_SMTP_TIMEOUT_MS };
export type VerifyOutcome = CheckOutcome<SmtpVerification, SmtpError>;

/** Connect, upgrade, authenticate, quit: the shared step behind verify-smtp and --verify. */
export function checkSmtp(
  settings: SmtpSettings,
  io: Io,
  timeoutMs: number,
): Promise<VerifyOutcome> {
  return outcomeOf(
    verifySmtp(settings, { extraCa: extraCaFromEnv(io.env), timeoutMs }),
    (error) => error instanceof SmtpError,
  );
}

export function describeVerification(outcome: VerifyOutcome): string {
  if (!outcome.ok) return `SMTP verification failed: ${outcome.error.message}`;
  const r = outcome.result;
  return [
    `SMTP verified: ${r.serverName ?? "server"} accepted the login over ${r.tlsProtocol} (${r.tlsCipher}).`,
    `Certificate ${r.certificateSubject ?? "(no subject)"}, valid until ${r.certificateExpiresAt ?? "unknown"}.`,
  ].join("\n");
}

export async function runMailboxesVerifySmtp(
  idOrEmail: string,
  flags: MailboxesVerifySmtpFlags,
  io: Io,
): Promise<void> {
  const timeoutMs = durationFlag("--smtp-timeout", flags.smtpTimeout, DEFAULT_SMTP_TIMEOUT_MS);
  await runVerifyCommand(idOrEmail, flags, io, {
    protocol: "SMTP",
    check: (row, keyring) =>
      checkSmtp(
        serverSettingsOf("smtp", {
          ...row,
          smtpPassword: keyring.decryptSecret(row.smtpPasswordEncrypted),
        }),
        io,
        timeoutMs,
      ),
    describe: describeVerification,
    // A passing check is the fix a paused mailbox waits for: sending resumes.
    after: async (row, ok) => {
      const resumed = ok && row.pauseReason !== null;
      if (resumed) await withDatabase(io, ({ db }) => resumeMailbox(db, row.id));
      return {
        json: { resumed },
        text: resumed ? "\nSending resumed (the mailbox was paused)." : "",
      };
    },
  });
}
