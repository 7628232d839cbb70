import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import { DEFAULT_RETRY_POLICY } from "./backoff.ts";
import { appendErrorLog } from "./error-log.ts";
import { DEFAULT_LEASE_MS, assertRecoveryRespectsLease } from "./lease.ts";
import { sqlNow } from "./sql-now.ts";
import type { QueueClock, RecoveryResult } from "./types.ts";
import { withDatabaseErrors } from "../errors.ts";

/**
 * processing (lease not renewed for `olderThanMs`) → queued | failed. Such a row belongs to a
 * worker that died or lost the database: it goes back to `queued` (due at once), or to `failed`
 * when it already had `maxAttempts`, or when DATA had begun (`outcome_unknown`: it may have been
 * delivered, and only an operator sends it again). Nothing is deleted; each recovery is logged
 * in `error_log`.
 *
 * `olderThanMs` must be at least the workers' `leaseMs` (lease.ts says why; default
 * DEFAULT_LEASE_MS). Any number of workers may run this at once: `SKIP LOCKED` passes over
 * rows another recovery (or a renewal) is touching, so none waits and none recovers a row twice.
 */
export const recoverStale = withDatabaseErrors(async function recoverStale(
  db: Database,
  options: { olderThanMs: number; leaseMs?: number; maxAttempts?: number; clock?: QueueClock },
): Promise<RecoveryResult> {
  assertRecoveryRespectsLease(options.olderThanMs, options.leaseMs ?? DEFAULT_LEASE_MS);
  const now = sqlNow(options.clock);
  const maxAttempts = options.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts;
  const rows = rowsOf<{ id: string; status: string; error_code: string | null }>(
    await db.execute(sql`
      UPDATE outbound_messages AS o
      SET status = CASE WHEN o.data_started_at IS NOT NULL OR o.attempts >= ${maxAttempts}
                        THEN 'failed'::outbound_message_status
                        ELSE 'queued'::outbound_message_status END,
          error_code = CASE WHEN o.data_started_at IS NOT NULL THEN 'outcome_unknown' ELSE o.error_code END,
          ${appendErrorLog(
            now,
            sql`o.attempts`,
            sql`'lease of ' || o.lease_owner || ' expired (worker lost)'
                || CASE WHEN o.data_started_at IS NOT NULL THEN ' after DATA began: it may have been delivered, so it is not sent again' ELSE '' END`,
          )},
          processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL
      WHERE o.id = ANY(ARRAY(
        SELECT id FROM outbound_messages
        WHERE status = 'processing'
          AND lease_renewed_at < ${now} - ${options.olderThanMs} * interval '1 millisecond'
        FOR UPDATE SKIP LOCKED))
      RETURNING o.id, o.status, o.error_code`),
  );
  return {
    requeued: rows.filter((r) => r.status === "queued").map((r) => r.id),
    failed: rows.filter((r) => r.status === "failed").map((r) => r.id),
    outcomeUnknown: rows.filter((r) => r.error_code === "outcome_unknown").map((r) => r.id),
  };
});
