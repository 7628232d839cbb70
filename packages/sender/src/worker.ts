import type { Database } from "@imap-proxy/db";
import {
  type ClaimedMessage,
  DEFAULT_RETRY_POLICY,
  type Failure,
  type Lease,
  type QueueClock,
  type RetryPolicy,
  claim,
  markBouncedMany,
  markFailedMany,
  markSentMany,
  releaseMany,
} from "@imap-proxy/db/queue";

export type Outcome = "sent" | "bounced" | { failed: string };

export interface WorkerOptions {
  db: Database;
  /** Lease owner name, unique per process (e.g. host:pid). */
  owner: string;
  /** Handlers running at once. */
  concurrency: number;
  /** Messages claimed per round trip (default 2 × concurrency, at least 10). */
  batchSize?: number;
  handler: (message: ClaimedMessage) => Promise<Outcome>;
  policy?: RetryPolicy;
  /** Wait between claims while the queue is empty (default 1000 ms). */
  idleMs?: number;
  /** Return once the queue is empty instead of waiting for more (batch jobs, tests, benchmarks). */
  stopWhenEmpty?: boolean;
  signal?: AbortSignal;
  clock?: QueueClock;
}

export interface WorkerReport {
  processed: number;
  /** Finishes refused because the lease had been recovered by then (the row is safe). */
  leaseLost: number;
}

/**
 * One claimer per process feeding `concurrency` local handlers, with finishes coalesced into one
 * statement per outcome kind while handlers keep running. Round trips per message fall with
 * load, which is what decides throughput.
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerReport> {
  const { db, owner, concurrency, handler, clock } = options;
  const batchSize = options.batchSize ?? Math.max(10, concurrency * 2);
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const report: WorkerReport = { processed: 0, leaseLost: 0 };
  const local: ClaimedMessage[] = [];
  let claiming: Promise<number> | undefined;
  const done = { sent: [] as Lease[], bounced: [] as Lease[], failed: [] as Failure[] };
  let flushing: Promise<void> | undefined;
  // A failed background claim or finish stops the worker and is rethrown at the end.
  let failure: Error | undefined;
  const fail = (error: unknown) => {
    failure ??= error instanceof Error ? error : new Error(String(error));
  };

  const refill = () =>
    (claiming ??= claim(db, { limit: batchSize, owner, clock })
      .then((batch) => {
        local.push(...batch);
        return batch.length;
      })
      .finally(() => (claiming = undefined)));

  const flush = (): Promise<void> =>
    (flushing ??= (async () => {
      while (done.sent.length + done.bounced.length + done.failed.length > 0) {
        const sent = done.sent.splice(0);
        const bounced = done.bounced.splice(0);
        const failed = done.failed.splice(0);
        const results = await Promise.all([
          sent.length ? markSentMany(db, sent, clock) : undefined,
          bounced.length ? markBouncedMany(db, bounced, clock) : undefined,
          failed.length ? markFailedMany(db, failed, policy, clock) : undefined,
        ]);
        for (const result of results) report.leaseLost += result?.rejected.length ?? 0;
      }
    })().finally(() => (flushing = undefined)));

  const slot = async () => {
    for (;;) {
      if (options.signal?.aborted || failure !== undefined) return;
      if (local.length < concurrency && claiming === undefined) refill().catch(fail);
      if (local.length === 0) {
        const claimed = await (claiming ?? refill());
        if (claimed === 0 && local.length === 0) {
          if (options.stopWhenEmpty) return;
          await new Promise((resolve) => setTimeout(resolve, options.idleMs ?? 1000));
        }
        continue;
      }
      const message = local.shift()!;
      let outcome: Outcome;
      try {
        outcome = await handler(message);
      } catch (error) {
        outcome = { failed: error instanceof Error ? error.message : String(error) };
      }
      if (outcome === "sent") done.sent.push(message.lease);
      else if (outcome === "bounced") done.bounced.push(message.lease);
      else done.failed.push({ ...message.lease, error: outcome.failed });
      report.processed += 1;
      flush().catch(fail);
    }
  };

  await Promise.all(Array.from({ length: concurrency }, slot));
  await claiming?.catch(fail);
  // Claimed but never started (stopped early): back to the queue as if never claimed.
  if (local.length > 0)
    await releaseMany(
      db,
      local.splice(0).map((m) => m.lease),
    );
  await flushing?.catch(fail);
  await flush().catch(fail);
  if (failure !== undefined) throw failure;
  return report;
}
