import { type SQL, and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { DatabaseError } from "./errors.ts";
import { rowsOf } from "./rows.ts";
import { type OutboundMessageStatus, outboundMessages as t } from "./schema.ts";

/*
 * The durable send queue on `outbound_messages`. One SQL statement per state transition:
 *   enqueue            → queued
 *   claim              queued (due) → processing, attempts + 1, lease = (owner, attempts)
 *   markSent / Bounced processing → sent / bounced        (lease holder only)
 *   markFailed         processing → queued (backoff) | failed (attempts exhausted)
 *   recoverStale       processing (lease too old) → queued | failed
 * A lease is (id, owner, attempt): a worker whose lease expired and was claimed again (with a
 * higher attempt) can no longer finish the row. The database's checks and transition trigger
 * hold for every writer besides this module.
 */

export interface EnqueueInput {
  recipientEmail: string;
  subject: string;
  /** Same key for the same mailbox → the existing row is returned, nothing new is created. */
  idempotencyKey?: string;
}

export interface EnqueueResult {
  id: string;
  status: OutboundMessageStatus;
  /** False when an earlier enqueue with the same idempotency key already created it. */
  created: boolean;
}

/** What a worker holds between claim and finish. */
export interface Lease {
  id: string;
  owner: string;
  attempt: number;
}

export interface ClaimedMessage {
  id: string;
  mailboxId: string;
  recipientEmail: string;
  subject: string;
  attempts: number;
  lease: Lease;
}

export interface RetryPolicy {
  /** After this many attempts a failure is final (`failed`). */
  maxAttempts: number;
  /** Delay before the 2nd attempt; doubles each time. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** 0..1: the delay is drawn uniformly from [delay × (1 − jitter), delay]. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 30_000,
  maxDelayMs: 6 * 3600_000,
  jitter: 0.5,
};

/** Time and randomness are injectable so schedules can be tested exactly. */
export interface QueueClock {
  now?: () => Date;
  random?: () => number;
}

const nowOf = (clock: QueueClock | undefined) => clock?.now?.() ?? new Date();
/**
 * "Now" inside SQL: the injected clock in tests, else the database's own clock, so every host
 * agrees on due times and lease ages (and rows created by `DEFAULT now()` compare exactly).
 */
const sqlNow = (clock: QueueClock | undefined) => {
  const injected = clock?.now?.();
  return injected === undefined ? sql`now()` : sql`${injected.toISOString()}::timestamptz`;
};

/** Exponential backoff with jitter for the retry after `attempt` failed attempts. */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(
    policy.maxDelayMs,
    policy.baseDelayMs * 2 ** Math.max(0, attempt - 1),
  );
  return Math.round(exponential * (1 - policy.jitter * random()));
}

/** One line per failure: time, attempt and a single-line, bounded message (callers pass no secrets). */
export function errorLogLine(at: Date, attempt: number, error: string): string {
  const message = error.replace(/\s+/g, " ").trim().slice(0, 500) || "unknown error";
  return `${at.toISOString()} attempt ${attempt}: ${message}\n`;
}

/**
 * Enqueues one or many messages for a mailbox in one round trip (a second only when an
 * idempotency key already existed). The rows travel as one JSON parameter, so a batch of any
 * size is one short statement on both drivers.
 */
export async function enqueue(
  db: Database,
  mailboxId: string,
  inputs: EnqueueInput | readonly EnqueueInput[],
): Promise<EnqueueResult[]> {
  const list = Array.isArray(inputs)
    ? (inputs as readonly EnqueueInput[])
    : [inputs as EnqueueInput];
  if (list.length === 0) return [];
  // The same key twice in one call is one message.
  const keys = new Set<string>();
  const unique = list.filter((input) => {
    if (input.idempotencyKey === undefined) return true;
    if (keys.has(input.idempotencyKey)) return false;
    keys.add(input.idempotencyKey);
    return true;
  });
  const payload = JSON.stringify(
    unique.map((input) => ({
      r: input.recipientEmail,
      s: input.subject,
      k: input.idempotencyKey ?? null,
    })),
  );
  const inserted = rowsOf<{
    id: string;
    idempotency_key: string | null;
    status: OutboundMessageStatus;
  }>(
    await db.execute(sql`
      INSERT INTO outbound_messages (mailbox_id, recipient_email, subject, idempotency_key)
      SELECT ${mailboxId}::uuid, i.r, i.s, i.k
      FROM ROWS FROM (jsonb_to_recordset(${payload}::jsonb) AS (r text, s text, k text)) WITH ORDINALITY AS i(r, s, k, ord)
      ORDER BY i.ord
      ON CONFLICT (mailbox_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id, idempotency_key, status`),
  );
  const byKey = new Map<string, EnqueueResult>();
  const unkeyed: EnqueueResult[] = [];
  for (const row of inserted) {
    const result = { id: row.id, status: row.status, created: true };
    if (row.idempotency_key === null) unkeyed.push(result);
    else byKey.set(row.idempotency_key, result);
  }
  const missingKeys = [...keys].filter((key) => !byKey.has(key));
  if (missingKeys.length > 0) {
    const existing = await db
      .select({ id: t.id, status: t.status, key: t.idempotencyKey })
      .from(t)
      .where(and(eq(t.mailboxId, mailboxId), inArray(t.idempotencyKey, missingKeys)));
    for (const row of existing)
      byKey.set(row.key!, { id: row.id, status: row.status, created: false });
  }
  // Results in input order; rows come back in insertion (ORDER BY ord) order.
  let nextUnkeyed = 0;
  return list.map((input) => {
    if (input.idempotencyKey === undefined) return unkeyed[nextUnkeyed++]!;
    const found = byKey.get(input.idempotencyKey);
    if (found === undefined)
      throw new DatabaseError("invalid_argument", "An idempotent enqueue lost its row.");
    return found;
  });
}

/**
 * Atomically moves up to `limit` due messages (queued, retry time null or past), oldest due
 * first, to `processing` under `owner`'s lease. `SKIP LOCKED` lets any number of workers claim
 * concurrently without ever receiving the same row; the subquery walks the due-row index in
 * its key order, so the cost does not grow with finished rows.
 */
export async function claim(
  db: Database,
  options: { limit: number; owner: string; clock?: QueueClock },
): Promise<ClaimedMessage[]> {
  if (!(options.limit >= 1))
    throw new DatabaseError("invalid_argument", "claim needs a limit of at least 1.");
  const now = sqlNow(options.clock);
  const rows = rowsOf<{
    id: string;
    mailbox_id: string;
    recipient_email: string;
    subject: string;
    attempts: number;
  }>(
    await db.execute(sql`
      UPDATE outbound_messages AS o
      SET status = 'processing', attempts = o.attempts + 1, processing_started_at = ${now},
          lease_owner = ${options.owner}, next_retry_at = NULL
      WHERE o.id = ANY(ARRAY(
        SELECT id FROM outbound_messages
        WHERE status = 'queued' AND coalesce(next_retry_at, created_at) <= ${now}
        ORDER BY coalesce(next_retry_at, created_at), id
        LIMIT ${options.limit}
        FOR UPDATE SKIP LOCKED))
      RETURNING o.id, o.mailbox_id, o.recipient_email, o.subject, o.attempts`),
  );
  return rows.map((row) => ({
    id: row.id,
    mailboxId: row.mailbox_id,
    recipientEmail: row.recipient_email,
    subject: row.subject,
    attempts: row.attempts,
    lease: { id: row.id, owner: options.owner, attempt: row.attempts },
  }));
}

/** Leases as one JSON parameter: the same on both drivers, any number of rows, one round trip. */
function leaseRows(leases: readonly object[]) {
  return sql`jsonb_to_recordset(${JSON.stringify(leases)}::jsonb)`;
}

/** What a batch finish did: ids it changed and ids whose lease was no longer held. */
export interface FinishResult {
  finished: string[];
  rejected: string[];
}

function finishResult(leases: readonly Lease[], finishedIds: string[]): FinishResult {
  const finished = new Set(finishedIds);
  return {
    finished: finishedIds,
    rejected: leases.filter((l) => !finished.has(l.id)).map((l) => l.id),
  };
}

/** Matches rows still held under the lease in `l`: the fence against late finishers. */
const STILL_HELD = sql`o.id = l.id AND o.status = 'processing' AND o.lease_owner = l.owner AND o.attempts = l.attempt`;

/** Ends the leases in one statement: `changes` plus clearing the lease, on held rows only. */
async function endLeases(
  db: Database,
  leases: readonly Lease[],
  changes: SQL,
): Promise<FinishResult> {
  if (leases.length === 0) return { finished: [], rejected: [] };
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      UPDATE outbound_messages AS o
      SET ${changes}, processing_started_at = NULL, lease_owner = NULL
      FROM ${leaseRows(leases)} AS l(id uuid, owner text, attempt int)
      WHERE ${STILL_HELD}
      RETURNING o.id`),
  );
  return finishResult(
    leases,
    rows.map((r) => r.id),
  );
}

function finishMany(
  db: Database,
  leases: readonly Lease[],
  status: "sent" | "bounced",
  clock?: QueueClock,
): Promise<FinishResult> {
  const sentAt = status === "sent" ? sqlNow(clock) : sql`NULL`;
  return endLeases(
    db,
    leases,
    sql`status = ${status}::outbound_message_status, sent_at = ${sentAt}`,
  );
}

function requireHeld(result: FinishResult, lease: Lease): void {
  if (result.rejected.length > 0) {
    throw new DatabaseError(
      "lease_lost",
      `Message ${lease.id}: the lease of ${lease.owner} (attempt ${lease.attempt}) is no longer held; another worker owns it or it was recovered.`,
    );
  }
}

export async function markSent(db: Database, lease: Lease, clock?: QueueClock): Promise<void> {
  requireHeld(await finishMany(db, [lease], "sent", clock), lease);
}
export function markSentMany(
  db: Database,
  leases: readonly Lease[],
  clock?: QueueClock,
): Promise<FinishResult> {
  return finishMany(db, leases, "sent", clock);
}
export async function markBounced(db: Database, lease: Lease, clock?: QueueClock): Promise<void> {
  requireHeld(await finishMany(db, [lease], "bounced", clock), lease);
}
export function markBouncedMany(
  db: Database,
  leases: readonly Lease[],
  clock?: QueueClock,
): Promise<FinishResult> {
  return finishMany(db, leases, "bounced", clock);
}

export interface Failure extends Lease {
  error: string;
}

/**
 * Records failed attempts: each goes back to `queued` with a backoff, or to `failed` once it has
 * had `maxAttempts`; every failure appends a line to `error_log`. One round trip for any number.
 */
export async function markFailedMany(
  db: Database,
  failures: readonly Failure[],
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  clock?: QueueClock,
): Promise<FinishResult> {
  if (failures.length === 0) return { finished: [], rejected: [] };
  const now = nowOf(clock);
  const random = clock?.random ?? Math.random;
  const rows = failures.map((failure) => {
    const final = failure.attempt >= policy.maxAttempts;
    return {
      id: failure.id,
      owner: failure.owner,
      attempt: failure.attempt,
      status: final ? "failed" : "queued",
      delay_ms: final ? null : retryDelayMs(failure.attempt, policy, random),
      line: errorLogLine(now, failure.attempt, failure.error),
    };
  });
  const updated = rowsOf<{ id: string }>(
    await db.execute(sql`
      UPDATE outbound_messages AS o
      SET status = l.status, next_retry_at = ${sqlNow(clock)} + l.delay_ms * interval '1 millisecond',
          error_log = coalesce(o.error_log, '') || l.line, processing_started_at = NULL, lease_owner = NULL
      FROM ${leaseRows(rows)}
        AS l(id uuid, owner text, attempt int, status outbound_message_status, delay_ms bigint, line text)
      WHERE ${STILL_HELD}
      RETURNING o.id`),
  );
  return finishResult(
    failures,
    updated.map((r) => r.id),
  );
}

export async function markFailed(
  db: Database,
  lease: Lease,
  error: string,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  clock?: QueueClock,
): Promise<void> {
  requireHeld(await markFailedMany(db, [{ ...lease, error }], policy, clock), lease);
}

export interface RecoveryResult {
  requeued: string[];
  failed: string[];
}

/**
 * Rows whose lease started more than `olderThanMs` ago belong to a crashed worker: they go back
 * to `queued` (due at once), or to `failed` when they already had `maxAttempts`. Nothing is
 * deleted; each recovery is logged in `error_log`.
 */
export async function recoverStale(
  db: Database,
  options: { olderThanMs: number; maxAttempts?: number; clock?: QueueClock },
): Promise<RecoveryResult> {
  const now = nowOf(options.clock);
  const maxAttempts = options.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts;
  const rows = rowsOf<{ id: string; status: string }>(
    await db.execute(sql`
      UPDATE outbound_messages
      SET status = CASE WHEN attempts >= ${maxAttempts} THEN 'failed'::outbound_message_status
                        ELSE 'queued'::outbound_message_status END,
          error_log = coalesce(error_log, '') || ${now.toISOString()} || ' attempt ' || attempts
                      || ': lease of ' || lease_owner || ' expired (worker lost)' || E'\\n',
          processing_started_at = NULL, lease_owner = NULL
      WHERE status = 'processing'
        AND processing_started_at < ${sqlNow(options.clock)} - ${options.olderThanMs} * interval '1 millisecond'
      RETURNING id, status`),
  );
  return {
    requeued: rows.filter((r) => r.status === "queued").map((r) => r.id),
    failed: rows.filter((r) => r.status === "failed").map((r) => r.id),
  };
}

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
 * load, which is what decides throughput (STYLE.md: ~5k/s one-by-one vs ~38k/s batched).
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

/**
 * Gives claimed, unhandled messages back: `queued`, due now, and the attempt not counted. For a
 * worker shutting down with work it had prefetched but not started.
 */
export function releaseMany(db: Database, leases: readonly Lease[]): Promise<FinishResult> {
  return endLeases(
    db,
    leases,
    sql`status = 'queued', attempts = o.attempts - 1, next_retry_at = NULL`,
  );
}
