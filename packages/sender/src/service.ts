import { hostname } from "node:os";
import type { Database } from "@imap-proxy/db";
import type { SmtpPolicyOptions } from "@imap-proxy/smtp";
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
  /** A background failure (the worker stops; `stopped` rejects with it). */
  idleMs?: number;
}

export interface SenderService {
  /** Settles when the worker has stopped. */
  readonly stopped: Promise<WorkerReport>;
  /**
   * Stops claiming, lets running sends finish, releases prefetched messages and closes every
   * SMTP connection.
   */
  stop(): Promise<WorkerReport>;
}

export const DEFAULT_SENDER_CONCURRENCY = 10;

/** The sending worker as a service: what `imap-proxy worker` and `imap-proxy serve` run. */
export function startSender(options: SenderOptions): SenderService {
  const controller = new AbortController();
  const handler = new SendHandler({ db: options.db, keyring: options.keyring, smtp: options.smtp });
  const stopped = runWorker({
    db: options.db,
    owner: options.owner ?? `${hostname()}:${process.pid}`,
    concurrency: options.concurrency ?? DEFAULT_SENDER_CONCURRENCY,
    handler: handler.handle,
    idleMs: options.idleMs,
    signal: controller.signal,
  }).finally(() => handler.close());
  return {
    stopped,
    stop() {
      controller.abort();
      return stopped;
    },
  };
}
