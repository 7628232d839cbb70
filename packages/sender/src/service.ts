import { hostname } from "node:os";
import type { Database } from "@imap-proxy/db";
import type { SmtpPolicyOptions } from "@imap-proxy/smtp";
import { type ImapServiceOptions, startImapService } from "./imap-service.ts";
import { SendHandler } from "./send-handler.ts";
import { type WorkerReport, runWorker } from "./worker.ts";

export interface SenderOptions {
  db: Database;
  keyring: { decryptSecret(token: string): string };
  /** Messages sent at once by this process (default 10). */
  concurrency?: number;
  /** Lease owner, unique per process (default host:pid). */
  owner?: string;
  smtp?: SmtpPolicyOptions;
  /** Wait between claims while the queue is empty (default 1000 ms). */
  idleMs?: number;
  /**
   * Also run the IMAP side (Sent copies, bounce watchers for mailboxes with bounce reading on):
   * what `serve` and `worker` do. Tests of sending alone leave it out.
   */
  imap?: Omit<ImapServiceOptions, "db" | "secrets">;
}

export interface SenderService {
  /** Settles when the worker has stopped. */
  readonly stopped: Promise<WorkerReport>;
  /**
   * Stops claiming, lets running sends finish, releases prefetched messages and closes every
   * SMTP connection (and, with `imap`, stops the Sent copier and the bounce watchers).
   */
  stop(): Promise<WorkerReport>;
}

export const DEFAULT_SENDER_CONCURRENCY = 10;

/** The sending worker as a service: what `imap-proxy worker` and `imap-proxy serve` run. */
export function startSender(options: SenderOptions): SenderService {
  const controller = new AbortController();
  const handler = new SendHandler({ db: options.db, keyring: options.keyring, smtp: options.smtp });
  const imap = options.imap
    ? startImapService({ ...options.imap, db: options.db, secrets: options.keyring })
    : undefined;
  // However the worker ends, the IMAP side ends with it: nothing outlives `stopped`.
  const stopped = runWorker({
    db: options.db,
    owner: options.owner ?? `${hostname()}:${process.pid}`,
    concurrency: options.concurrency ?? DEFAULT_SENDER_CONCURRENCY,
    handler: handler.handle,
    idleMs: options.idleMs,
    signal: controller.signal,
  })
    .finally(() => handler.close())
    .finally(() => imap?.stop());
  return {
    stopped,
    stop() {
      controller.abort();
      return stopped;
    },
  };
}
