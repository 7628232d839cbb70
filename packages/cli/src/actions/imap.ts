import { findMailboxRow } from "@imap-proxy/db";
import {
  DEFAULT_IMAP_TIMEOUT_MS,
  ImapError,
  type ImapSettings,
  type ImapVerification,
  imapExtraCaFromEnv,
  verifyImap,
} from "@imap-proxy/imap";
import { type CliErrorCode, quoted } from "@imap-proxy/errors";
import { CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import { durationFlag } from "../validation.ts";
import { type CheckOutcome, outcomeOf, runVerifyCommand, serverSettingsOf } from "./verify.ts";
import type { BouncesFlags } from "../commands/bounces.ts";
import type { MailboxesVerifyImapFlags } from "../commands/mailboxes-verify-imap.ts";

export type ImapVerifyOutcome = CheckOutcome<ImapVerification, ImapError>;

/** Connect, upgrade, log in, list folders, log out: behind verify-imap and --verify. */
export function checkImap(
  settings: ImapSettings,
  io: Io,
  timeoutMs: number,
): Promise<ImapVerifyOutcome> {
  return outcomeOf(
    verifyImap(settings, { extraCa: imapExtraCaFromEnv(io.env), timeoutMs }),
    (error) => error instanceof ImapError,
  );
}

export function describeImapVerification(outcome: ImapVerifyOutcome): string {
  if (!outcome.ok) return `IMAP verification failed: ${outcome.error.message}`;
  const r = outcome.result;
  return [
    `IMAP verified: ${r.serverName ?? "server"} accepted the login over ${r.tlsProtocol} (${r.tlsCipher}).`,
    `Sent folder: ${r.sentFolder ?? "none flagged \\Sent"}; Junk: ${r.junkFolder ?? "none"}; IDLE: ${r.idle ? "yes" : "no"}${r.appendLimit ? `; APPENDLIMIT ${r.appendLimit}` : ""}.`,
  ].join("\n");
}

export async function runMailboxesVerifyImap(
  idOrEmail: string,
  flags: MailboxesVerifyImapFlags,
  io: Io,
): Promise<void> {
  const timeoutMs = durationFlag("--imap-timeout", flags.imapTimeout, DEFAULT_IMAP_TIMEOUT_MS);
  await runVerifyCommand(idOrEmail, flags, io, {
    protocol: "IMAP",
    check: (row, keyring) =>
      checkImap(
        serverSettingsOf("imap", {
          ...row,
          imapPassword: keyring.decryptSecret(row.imapPasswordEncrypted),
        }),
        io,
        timeoutMs,
      ),
    describe: describeImapVerification,
  });
}

/**
 * `imap-proxy bounces [--mailbox m] [--watch]`: reads INBOX (and Junk) of one mailbox, or of
 * every mailbox with bounce reading on, from the stored checkpoints, and records what DSN/ARF
 * reports say per recipient. Read-only on the server.
 */
export async function runBounces(flags: BouncesFlags, io: Io): Promise<void> {
  const { bounceReadingMailboxIds, readBounces, watchBounces } = await import("@imap-proxy/sender");
  const keyring = await keyringFor(io);
  const imap = { extraCa: imapExtraCaFromEnv(io.env) };
  await withDatabase(io, async ({ db }) => {
    let ids: string[];
    if (flags.mailbox) {
      const row = await findMailboxRow(db, flags.mailbox);
      if (!row) throw new CliError("not_found", `No mailbox matches ${quoted(flags.mailbox)}.`);
      ids = [row.id];
    } else {
      ids = await bounceReadingMailboxIds(db);
    }
    if (flags.watch) {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
      writeLine(io.stderr, `Watching ${ids.length} mailbox(es) for bounces; Ctrl-C stops.`);
      await Promise.all(
        ids.map((mailboxId) =>
          watchBounces({
            db,
            secrets: keyring,
            mailboxId,
            imap,
            signal: stop.signal,
            onPass: (report) => {
              if (report.reports > 0)
                writeLine(io.stdout, JSON.stringify({ mailbox: mailboxId, ...report }));
            },
            onError: (error) =>
              writeLine(
                io.stderr,
                `mailbox ${mailboxId}: ${error instanceof Error ? error.message : String(error)}`,
              ),
          }),
        ),
      );
      return;
    }
    const results = [];
    for (const mailboxId of ids) {
      try {
        results.push({
          mailbox: mailboxId,
          ok: true,
          ...(await readBounces({ db, secrets: keyring, mailboxId, imap })),
        });
      } catch (error) {
        const code = error instanceof ImapError ? error.code : "unexpected_state";
        const message = error instanceof Error ? error.message : String(error);
        results.push({ mailbox: mailboxId, ok: false, code, message });
      }
    }
    if (flags.json) writeJson(io, results);
    else
      for (const r of results)
        writeLine(
          io.stdout,
          r.ok
            ? `${r.mailbox}: ${"reports" in r ? r.reports : 0} report(s), ${"recorded" in r ? r.recorded : 0} recorded, ${"bounced" in r ? r.bounced : 0} bounced, ${"ignored" in r ? r.ignored : 0} not ours`
            : `${r.mailbox}: ${"message" in r ? r.message : ""}`,
        );
    const failed = results.find((r) => !r.ok);
    if (failed && "code" in failed && failed.code)
      throw new CliError(
        failed.code as CliErrorCode,
        `Reading bounces failed for ${failed.mailbox}.`,
      );
  });
}
