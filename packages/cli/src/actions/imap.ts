import { type MailboxSettings, findMailboxRow } from "@imap-proxy/db";
import {
  DEFAULT_IMAP_TIMEOUT_MS,
  ImapError,
  type ImapSettings,
  type ImapTlsMode,
  type ImapVerification,
  imapExtraCaFromEnv,
  verifyImap,
} from "@imap-proxy/imap";
import type { CliErrorCode } from "@imap-proxy/errors";
import { CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import type { BouncesFlags } from "../commands/bounces.ts";
import type { MailboxesVerifyImapFlags } from "../commands/mailboxes-verify-imap.ts";

export type ImapVerifyOutcome =
  { ok: true; result: ImapVerification } | { ok: false; error: ImapError };

export function imapTimeoutFromFlag(value: string | undefined): number {
  if (value === undefined) return DEFAULT_IMAP_TIMEOUT_MS;
  const match = /^([1-9][0-9]{0,4})(ms|s)$/.exec(value);
  if (!match)
    throw new CliError(
      "invalid_input",
      `Invalid --imap-timeout "${value}": use e.g. 15s or 500ms.`,
    );
  return Number(match[1]) * (match[2] === "s" ? 1000 : 1);
}

/** Connect, upgrade, log in, list folders, log out: behind verify-imap and --verify. */
export async function checkImap(
  settings: ImapSettings,
  io: Io,
  timeoutMs: number,
): Promise<ImapVerifyOutcome> {
  try {
    return {
      ok: true,
      result: await verifyImap(settings, { extraCa: imapExtraCaFromEnv(io.env), timeoutMs }),
    };
  } catch (error) {
    if (error instanceof ImapError) return { ok: false, error };
    throw error;
  }
}

/** A mailbox being created has the database's IMAP TLS mode default unless given. */
export function imapSettingsOfInput(
  settings: MailboxSettings & { imapTlsMode?: ImapTlsMode },
): ImapSettings {
  return {
    host: settings.imapHost,
    port: settings.imapPort,
    tlsMode: settings.imapTlsMode ?? "implicit",
    username: settings.imapUsername,
    password: settings.imapPassword,
  };
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
  const timeoutMs = imapTimeoutFromFlag(flags.imapTimeout);
  const keyring = await keyringFor(io);
  const row = await withDatabase(io, async ({ db }) => {
    const found = await findMailboxRow(db, idOrEmail);
    if (found === undefined) throw new CliError("not_found", `No mailbox matches "${idOrEmail}".`);
    return found;
  });
  const outcome = await checkImap(
    {
      host: row.imapHost,
      port: row.imapPort,
      tlsMode: row.imapTlsMode,
      username: row.imapUsername,
      password: keyring.decryptSecret(row.imapPasswordEncrypted),
    },
    io,
    timeoutMs,
  );
  if (flags.json)
    writeJson(
      io,
      outcome.ok
        ? { mailbox: row.id, ok: true, ...outcome.result }
        : { mailbox: row.id, ok: false, code: outcome.error.code, message: outcome.error.message },
    );
  else if (outcome.ok) writeLine(io.stdout, describeImapVerification(outcome));
  if (!outcome.ok) {
    if (flags.json)
      throw new CliError(outcome.error.code, `IMAP verification failed (${outcome.error.code}).`);
    throw new CliError(outcome.error.code, outcome.error.message);
  }
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
      if (!row) throw new CliError("not_found", `No mailbox matches "${flags.mailbox}".`);
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
