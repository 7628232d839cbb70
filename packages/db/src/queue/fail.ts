import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs } from "./backoff.ts";
import { LEASE_COLUMNS, endLeases, requireHeld } from "./end-lease.ts";
import { appendErrorLog } from "./error-log.ts";
import { REPLY_COLUMNS, SET_REPLY, replyFields } from "./reply-columns.ts";
import { scrubErrorText } from "./scrub.ts";
import { sqlNow } from "./sql-now.ts";
import type { Failure, FinishResult, Lease, QueueClock } from "./types.ts";
import { withDatabaseErrors } from "../errors.ts";

/**
 * processing → queued (retry after a backoff) | failed (the attempt was the last, or the failure
 * is `final`). Every failure appends a line to `error_log` and records its code and reply. The delay is drawn in TypeScript (injectable randomness) and
 * travels with each lease; one round trip for any number of failures.
 */
export const markFailedMany = withDatabaseErrors(function markFailedMany(
  db: Database,
  failures: readonly Failure[],
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  clock?: QueueClock,
): Promise<FinishResult> {
  const random = clock?.random ?? Math.random;
  const rows = failures.map((failure) => {
    const final = failure.final === true || failure.attempt >= policy.maxAttempts;
    return {
      id: failure.id,
      owner: failure.owner,
      attempt: failure.attempt,
      status: final ? "failed" : "queued",
      delay_ms: final ? null : retryDelayMs(failure.attempt, policy, random),
      error: scrubErrorText(failure.error),
      ...replyFields(failure),
    };
  });
  const now = sqlNow(clock);
  return endLeases(
    db,
    rows,
    // A retry starts a new life: the DATA marker belongs to the attempt that ended (a final
    // failure keeps it as evidence).
    sql`status = l.status, next_retry_at = ${now} + l.delay_ms * interval '1 millisecond',
        data_started_at = CASE WHEN l.status = 'queued' THEN NULL ELSE o.data_started_at END,
        ${SET_REPLY}, ${appendErrorLog(now, sql`l.attempt`, sql`l.error`)}`,
    sql`${LEASE_COLUMNS}, status outbound_message_status, delay_ms bigint, error text, ${REPLY_COLUMNS}`,
  );
});

export const markFailed = withDatabaseErrors(async function markFailed(
  db: Database,
  lease: Lease,
  error: string,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  clock?: QueueClock,
): Promise<void> {
  requireHeld(await markFailedMany(db, [{ ...lease, error }], policy, clock), lease);
});
