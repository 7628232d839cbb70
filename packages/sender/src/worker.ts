import { type Database, DatabaseError } from "@imap-proxy/db";
import {
  type ClaimedMessage,
  DEFAULT_LEASE_MS,
  DEFAULT_RETRY_POLICY,
  type Failure,
  type QueueClock,
  type RetryPolicy,
  claim,
  extendLeases,
  giveUpAfterMs,
  markBouncedMany,
  markDataStarted,
  markFailedMany,
  markSentMany,
  pauseMany,
  recoverStale,
  releaseMany,
  renewalPeriodMs,
} from "@imap-proxy/db/queue";
import type { SendResult } from "./send-handler.ts";

/**
 * What a handler reports; a thrown error counts as `{ failed: error.message }`. The short forms
 * are for handlers with nothing more to record; the send handler reports a `SendResult`.
 */
export type Outcome = "sent" | "bounced" | { failed: string } | SendResult;

const normalized = (outcome: Outcome): SendResult =>
  outcome === "sent"
    ? { kind: "sent", reply: undefined }
    : outcome === "bounced"
      ? { kind: "bounced", errorCode: "bounced", reply: undefined, error: "bounced" }
      : "failed" in outcome
        ? {
            kind: "failed",
            errorCode: undefined,
            reply: undefined,
            error: outcome.failed,
            final: false,
          }
        : outcome;

export interface HandlerContext {
  /**
   * Aborts (reason: a `DatabaseError` with code `lease_lost`) the moment the worker finds this
   * message's lease lost: renewal was refused (the row was recovered, maybe claimed by another
   * worker) or could not be confirmed for too long. Check it right before any step that cannot
   * be undone (SMTP DATA): once aborted, another worker may be sending the same message.
   * After that step, finish and report the outcome; the finish is fenced and simply refused if
   * the lease is gone.
   */
  signal: AbortSignal;
  /**
   * Records durably, before the first byte of a body goes out, that the message may now be
   * delivered (recovery then never queues it again). False when the lease is no longer held:
   * send nothing. Calls from handlers running at once share one statement.
   */
  beginData: () => Promise<boolean>;
}

export type Handler = (message: ClaimedMessage, context: HandlerContext) => Promise<Outcome>;

export interface WorkerOptions {
  db: Database;
  /** Lease owner name, unique per process (e.g. host:pid). */
  owner: string;
  /** Handlers running at once. */
  concurrency: number;
  /** Messages claimed ahead per round trip, the prefetch depth (default 10 × concurrency). */
  batchSize?: number;
  handler: Handler;
  policy?: RetryPolicy;
  /**
   * How long a lease lasts without renewal (default 60 s). Every lease this worker holds is
   * renewed every `leaseMs / 3`; rows of other workers not renewed for `leaseMs` are recovered.
   */
  leaseMs?: number;
  /** A prefetched message not started within this long goes back to the queue (default leaseMs). */
  prefetchWaitMs?: number;
  /** Wait between claims while the queue is empty (default 1000 ms). */
  idleMs?: number;
  /** Return once the queue is empty instead of waiting for more (batch jobs, tests, benchmarks). */
  stopWhenEmpty?: boolean;
  /** Stops the worker: no more claims, running handlers finish, prefetched messages are released. */
  signal?: AbortSignal;
  /** Background renewal and recovery failures (the worker keeps going; leases expire locally). */
  onError?: (error: Error, during: "renewal" | "recovery") => void;
  clock?: QueueClock;
}

export interface WorkerReport {
  processed: number;
  /** Leases found lost: finishes refused, or handlers aborted / never started because of it. */
  leaseLost: number;
  /** Prefetched messages given back unstarted (waited too long, or the worker stopped). */
  released: number;
}

type Held = {
  message: ClaimedMessage;
  /** Local time (performance.now) of the claim. */
  claimedAt: number;
  /** Local time at which the last confirmed claim or renewal was sent: the lease runs from here. */
  confirmedAt: number;
  state: "buffered" | "running" | "finishing";
  /** Set once the lease is lost: why, which is also what the handler's signal aborts with. */
  lost?: DatabaseError;
  /** Made when the handler first reads its signal (most never do: an AbortSignal costs µs). */
  controller?: AbortController;
};

/** The handler's signal: aborted already if the lease was lost before it was first read. */
function signalOf(entry: Held): AbortSignal {
  if (entry.controller === undefined) {
    entry.controller = new AbortController();
    if (entry.lost !== undefined) entry.controller.abort(entry.lost);
  }
  return entry.controller.signal;
}

/**
 * One claimer per process feeding `concurrency` local handlers. The buffer is refilled in the
 * background before it runs dry, and finishes are coalesced into one statement per outcome
 * while handlers keep running: round trips per message fall with load, which is what decides
 * throughput. Beside that, every `leaseMs / 3` one statement renews all held leases, and every
 * `leaseMs` the worker recovers rows whose holder stopped renewing (any number of workers may).
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerReport> {
  const { db, owner, concurrency, handler, clock } = options;
  const batchSize = options.batchSize ?? 10 * concurrency;
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const renewEveryMs = renewalPeriodMs(leaseMs);
  const giveUpMs = giveUpAfterMs(leaseMs);
  const prefetchWaitMs = options.prefetchWaitMs ?? leaseMs;
  if (!(concurrency >= 1) || !(batchSize >= 1) || !(leaseMs > 0))
    throw new DatabaseError(
      "invalid_input",
      "runWorker needs concurrency, batchSize and leaseMs of at least 1.",
    );
  const report: WorkerReport = { processed: 0, leaseLost: 0, released: 0 };
  const held = new Map<string, Held>();
  const buffer: Held[] = [];
  const done: Held[] = [];
  const results = new Map<Held, SendResult>();
  let claiming: Promise<number> | undefined;
  let flushing: Promise<void> | undefined;
  let renewing: Promise<void> | undefined;
  let recovering: Promise<void> | undefined;
  // A failed claim or finish stops the worker and is rethrown at the end.
  let failure: Error | undefined;
  const fail = (error: unknown) => {
    failure ??= error instanceof Error ? error : new Error(String(error));
  };
  const stopping = () => options.signal?.aborted === true || failure !== undefined;
  const reportError = (error: unknown, during: "renewal" | "recovery") =>
    options.onError?.(error instanceof Error ? error : new Error(String(error)), during);

  // Statements that touch this worker's leased rows run one at a time: a renewal and a finish
  // of the same rows from two connections could otherwise deadlock each other.
  let leaseStatements: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(statement: () => Promise<T>): Promise<T> => {
    const next = leaseStatements.then(statement);
    leaseStatements = next.catch(() => undefined);
    return next;
  };

  /** Stops tracking an entry, unless its row is held by a newer entry by now. */
  const forget = (entry: Held) => {
    if (held.get(entry.message.id) === entry) held.delete(entry.message.id);
  };

  const loseLease = (entry: Held, why: string) => {
    if (entry.lost || entry.state === "finishing") return;
    entry.lost = new DatabaseError(
      "lease_lost",
      `Message ${entry.message.id}: the lease of ${owner} (attempt ${entry.message.lease.attempt}) is lost: ${why}.`,
    );
    report.leaseLost += 1;
    if (entry.state === "buffered") forget(entry);
    entry.controller?.abort(entry.lost);
  };

  const refill = (): Promise<number> =>
    (claiming ??= (async () => {
      const sentAt = performance.now();
      // A full batch per round trip: claims of what is missing would shrink to half a batch
      // once refills start at half, doubling the round trips per message.
      const batch = await claim(db, { limit: batchSize, owner, clock });
      for (const message of batch) {
        const earlier = held.get(message.id);
        if (earlier !== undefined) {
          // The same lease again: the database lost this worker's claim (claim.ts) and handed
          // the row out anew. The earlier entry holds exactly this lease and carries on; running
          // both would send twice.
          if (earlier.message.lease.attempt === message.attempts) continue;
          // A later attempt: the earlier lease was recovered; that entry is stale.
          loseLease(earlier, "the row was recovered and claimed again");
        }
        const entry: Held = {
          message,
          claimedAt: sentAt,
          confirmedAt: sentAt,
          state: "buffered",
        };
        held.set(message.id, entry);
        buffer.push(entry);
      }
      return batch.length;
    })().finally(() => (claiming = undefined)));

  // Refill while half the buffer is still there, so handlers never wait for a claim round trip.
  const refillEarly = () => {
    if (claiming === undefined && !stopping() && buffer.length <= batchSize / 2)
      refill().catch(fail);
  };

  const flush = (): Promise<void> =>
    (flushing ??= (async () => {
      // Handlers finishing in the same turn (a batch of quick ones) share the first statement.
      await new Promise(setImmediate);
      while (done.length > 0) {
        const batch = done.splice(0);
        const of = <K extends SendResult["kind"]>(kind: K) =>
          batch.flatMap((e) => {
            const result = results.get(e)!;
            return result.kind === kind
              ? [{ lease: e.message.lease, result: result as Extract<SendResult, { kind: K }> }]
              : [];
          });
        const sent = of("sent").map(({ lease, result }) => ({ ...lease, reply: result.reply }));
        const bounced = of("bounced").map(({ lease, result }) => ({ ...lease, ...result }));
        const failures = of("failed").map(({ lease, result }): Failure => ({
          ...lease,
          ...result,
        }));
        const pauses = of("pause").map(({ lease, result }) => ({ ...lease, ...result.pause }));
        const released = of("release").map(({ lease }) => lease);
        const finished = await oneAtATime(() =>
          Promise.all([
            sent.length ? markSentMany(db, sent, clock) : undefined,
            bounced.length ? markBouncedMany(db, bounced, clock) : undefined,
            failures.length ? markFailedMany(db, failures, policy, clock) : undefined,
            pauses.length ? pauseMany(db, pauses, clock) : undefined,
            released.length ? releaseMany(db, released) : undefined,
          ]),
        );
        const rejected = new Set(finished.flatMap((result) => result?.rejected ?? []));
        for (const entry of batch) {
          if (rejected.has(entry.message.id) && !entry.lost) report.leaseLost += 1;
          forget(entry);
          results.delete(entry);
        }
      }
    })().finally(() => (flushing = undefined)));

  // DATA markers asked for while one statement is in flight go together in the next one.
  let marking: Promise<void> | undefined;
  const toMark = new Map<Held, (held: boolean) => void>();
  const markAll = (): Promise<void> =>
    (marking ??= (async () => {
      while (toMark.size > 0) {
        const batch = new Map(toMark);
        toMark.clear();
        const entries = [...batch.keys()];
        try {
          const { finished } = await oneAtATime(() =>
            markDataStarted(
              db,
              entries.map((e) => e.message.lease),
              clock,
            ),
          );
          const ok = new Set(finished);
          for (const [entry, answer] of batch)
            answer(ok.has(entry.message.id) && entry.lost === undefined);
        } catch {
          // Not recorded: the body must not go out.
          for (const answer of batch.values()) answer(false);
        }
      }
    })().finally(() => (marking = undefined)));
  const beginData = (entry: Held) => (): Promise<boolean> => {
    if (entry.lost) return Promise.resolve(false);
    return new Promise((resolve) => {
      toMark.set(entry, resolve);
      void markAll();
    });
  };

  // Releases in flight: their rows are due again as soon as they commit.
  const releasing = new Set<Promise<void>>();
  const release = (entries: Held[]): Promise<void> => {
    if (entries.length === 0) return Promise.resolve();
    for (const entry of entries) forget(entry);
    const released = oneAtATime(() =>
      releaseMany(
        db,
        entries.map((e) => e.message.lease),
      ),
    ).then((result) => {
      report.released += result.finished.length;
    });
    releasing.add(released);
    void released.catch(() => undefined).finally(() => releasing.delete(released));
    return released;
  };

  const renew = () => {
    // A lease not confirmed for giveUpMs is given up before anyone may recover it (lease.ts).
    const now = performance.now();
    for (const entry of held.values())
      if (now - entry.confirmedAt >= giveUpMs)
        loseLease(entry, `not renewed for ${Math.round(now - entry.confirmedAt)} ms`);
    renewing ??= (async () => {
      // Never started, so nothing of them was sent: those that waited too long, and those whose
      // lease was just given up, go back to the queue without using an attempt. The release is
      // fenced (owner, attempt, processing): a row recovered or claimed again meanwhile is not
      // touched, and one whose renewal was merely late is not left for recovery to count.
      const unstarted = buffer.filter((e) => e.lost || now - e.claimedAt >= prefetchWaitMs);
      if (unstarted.length > 0) {
        for (const entry of unstarted) buffer.splice(buffer.indexOf(entry), 1);
        await release(unstarted);
      }
      const entries = [...held.values()].filter((e) => !e.lost);
      if (entries.length === 0) return;
      const sentAt = performance.now();
      const { extended, lost } = await oneAtATime(() =>
        extendLeases(
          db,
          entries.map((e) => e.message.lease),
          clock,
        ),
      );
      // By the entries renewed: by now an id may belong to a newer claim of the row.
      const renewed = new Map(entries.map((e) => [e.message.id, e]));
      for (const id of extended) {
        const entry = renewed.get(id);
        if (entry !== undefined) entry.confirmedAt = sentAt;
      }
      for (const id of lost) {
        const entry = renewed.get(id);
        if (entry !== undefined) loseLease(entry, "renewal refused (recovered or claimed again)");
      }
    })()
      .catch((error: unknown) => reportError(error, "renewal"))
      .finally(() => (renewing = undefined));
  };

  const recover = () => {
    recovering ??= recoverStale(db, {
      olderThanMs: leaseMs,
      leaseMs,
      maxAttempts: policy.maxAttempts,
      clock,
    })
      .then(() => undefined)
      .catch((error: unknown) => reportError(error, "recovery"))
      .finally(() => (recovering = undefined));
  };

  const sleepers = new Set<() => void>();
  const idle = () =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, options.idleMs ?? 1000);
      sleepers.add(wake);
    });
  const onStop = () => {
    for (const wake of [...sleepers]) wake();
  };
  options.signal?.addEventListener("abort", onStop);

  const slot = async () => {
    for (;;) {
      if (stopping()) return;
      refillEarly();
      const entry = buffer.shift();
      if (entry === undefined) {
        const claimed = await (claiming ?? refill());
        if (claimed === 0 && buffer.length === 0) {
          // Not empty while rows given back are on their way to the queue.
          if (releasing.size > 0) {
            await Promise.allSettled(releasing);
            continue;
          }
          if (options.stopWhenEmpty) return;
          await idle();
        }
        continue;
      }
      if (entry.lost || performance.now() - entry.confirmedAt >= giveUpMs) {
        loseLease(entry, "not renewed in time before its handler started");
        // Unstarted: back to the queue if the row is still ours (fenced, as in renew).
        release([entry]).catch((error: unknown) => reportError(error, "renewal"));
        continue;
      }
      entry.state = "running";
      let outcome: SendResult;
      try {
        outcome = normalized(
          await handler(entry.message, {
            get signal() {
              return signalOf(entry);
            },
            beginData: beginData(entry),
          }),
        );
      } catch (error) {
        outcome = normalized({ failed: error instanceof Error ? error.message : String(error) });
      }
      // Even with its lease lost the outcome is reported: the finish is fenced, and if the row
      // is still ours after all (renewal could not be confirmed) this records what happened.
      entry.state = "finishing";
      report.processed += 1;
      if (outcome.kind === "abandoned") {
        // Stopped before the body because the lease is gone: the row is not ours to write.
        forget(entry);
        continue;
      }
      results.set(entry, outcome);
      done.push(entry);
      flush().catch(fail);
    }
  };

  const renewTimer = setInterval(renew, renewEveryMs);
  const recoverTimer = setInterval(recover, leaseMs);
  recover();
  try {
    await Promise.all(Array.from({ length: concurrency }, slot));
    await claiming?.catch(fail);
    // Claimed but never started (stopped early): back to the queue as if never claimed.
    await release(buffer.splice(0)).catch(fail);
    await flushing?.catch(fail);
    await flush().catch(fail);
  } finally {
    clearInterval(renewTimer);
    clearInterval(recoverTimer);
    options.signal?.removeEventListener("abort", onStop);
    await renewing;
    await recovering;
  }
  if (failure !== undefined) throw failure;
  return report;
}
