import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs } from "./backoff.ts";
import { LEASE_COLUMNS, endLeases, requireHeld } from "./end-lease.ts";
import { appendErrorLog } from "./error-log.ts";
import { sqlNow } from "./sql-now.ts";
import type { Failure, FinishResult, Lease, QueueClock } from "./types.ts";

/**
 * processing → queued (retry after a backoff) | failed (the attempt was the last). Every failure
 * appends a line to `error_log`. The delay is drawn in TypeScript (injectable randomness) and
 * travels with each lease; one round trip for any number of failures.
 */
export function markFailedMany(
  db: Database,
  failures: readonly Failure[],
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  clock?: QueueClock,
): Promise<FinishResult> {
  const random = clock?.random ?? Math.random;
  const rows = failures.map((failure) => {
    const final = failure.attempt >= policy.maxAttempts;
    return {
      id: failure.id,
      owner: failure.owner,
      attempt: failure.attempt,
      status: final ? "failed" : "queued",
      delay_ms: final ? null : retryDelayMs(failure.attempt, policy, random),
      error: failure.error,
    };
  });
  const now = sqlNow(clock);
  return endLeases(
    db,
    rows,
    sql`status = l.status, next_retry_at = ${now} + l.delay_ms * interval '1 millisecond',
        ${appendErrorLog(now, sql`l.attempt`, sql`l.error`)}`,
    sql`${LEASE_COLUMNS}, status outbound_message_status, delay_ms bigint, error text`,
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
