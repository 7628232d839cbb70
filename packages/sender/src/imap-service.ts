import type { Database } from "@imap-proxy/db";
import type { ImapPolicyOptions } from "@imap-proxy/imap";
import { bounceReadingMailboxIds, watchBounces } from "./bounces.ts";
import type { SecretOpener } from "./imap-settings.ts";
import { runSentCopier } from "./sent-copy.ts";

export interface ImapServiceOptions {
  db: Database;
  secrets: SecretOpener;
  imap?: ImapPolicyOptions;
  /** Sent-copy passes (default 5 s: a pass with nothing due is one indexed query). */
  copyIntervalMs?: number;
  /** How often the set of mailboxes with bounce reading on is read again (default 60 s). */
  refreshMs?: number;
  /** A background failure (logged by the caller; the loops keep going). */
  onError?: (
    error: unknown,
    context: { mailboxId?: string; task: "sent_copy" | "bounces" },
  ) => void;
}

export interface ImapService {
  /** Stops the copier and every bounce watcher (each logs out) and resolves when all have. */
  stop(): Promise<void>;
}

/**
 * The IMAP side of a sending process: the Sent copier, and one bounce watcher (IDLE) per
 * mailbox whose `bounce_reading` is on — started and stopped as that set changes.
 */
export function startImapService(options: ImapServiceOptions): ImapService {
  const stopping = new AbortController();
  const copier = runSentCopier({
    db: options.db,
    secrets: options.secrets,
    imap: options.imap,
    signal: stopping.signal,
    intervalMs: options.copyIntervalMs ?? 5_000,
    onError: (error) => options.onError?.(error, { task: "sent_copy" }),
  });

  const watchers = new Map<string, { stop: AbortController; done: Promise<void> }>();
  const retired: Promise<void>[] = [];
  const refresh = async () => {
    const wanted = new Set(await bounceReadingMailboxIds(options.db));
    for (const [mailboxId, watcher] of watchers) {
      if (wanted.has(mailboxId)) continue;
      watcher.stop.abort();
      watchers.delete(mailboxId);
      retired.push(watcher.done);
    }
    for (const mailboxId of wanted) {
      if (watchers.has(mailboxId) || stopping.signal.aborted) continue;
      const stop = new AbortController();
      const done = watchBounces({
        db: options.db,
        secrets: options.secrets,
        mailboxId,
        imap: options.imap,
        signal: AbortSignal.any([stopping.signal, stop.signal]),
        onError: (error) => options.onError?.(error, { mailboxId, task: "bounces" }),
      });
      watchers.set(mailboxId, { stop, done });
    }
  };
  const supervisor = (async () => {
    while (!stopping.signal.aborted) {
      await refresh().catch((error: unknown) => options.onError?.(error, { task: "bounces" }));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.refreshMs ?? 60_000);
        stopping.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), {
          once: true,
        });
      });
    }
  })();

  return {
    async stop() {
      stopping.abort();
      await supervisor;
      await Promise.all([copier, ...retired, ...[...watchers.values()].map((w) => w.done)]);
    },
  };
}
