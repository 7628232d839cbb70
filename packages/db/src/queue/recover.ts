import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import { DEFAULT_RETRY_POLICY } from "./backoff.ts";
import { appendErrorLog } from "./error-log.ts";
import { sqlNow } from "./sql-now.ts";
import type { QueueClock, RecoveryResult } from "./types.ts";

/**
 * processing (lease too old) → queued | failed. Rows whose lease started more than `olderThanMs`
 * ago belong to a crashed worker: they go back to `queued` (due at once), or to `failed` when
 * they already had `maxAttempts`. Nothing is deleted; each recovery is logged in `error_log`.
 */
export async function recoverStale(
  db: Database,
  options: { olderThanMs: number; maxAttempts?: number; clock?: QueueClock },
): Promise<RecoveryResult> {
  const now = sqlNow(options.clock);
  const maxAttempts = options.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts;
  const rows = rowsOf<{ id: string; status: string }>(
    await db.execute(sql`
      UPDATE outbound_messages AS o
      SET status = CASE WHEN o.attempts >= ${maxAttempts} THEN 'failed'::outbound_message_status
                        ELSE 'queued'::outbound_message_status END,
          ${appendErrorLog(now, sql`o.attempts`, sql`'lease of ' || o.lease_owner || ' expired (worker lost)'`)},
          processing_started_at = NULL, lease_owner = NULL
      WHERE o.status = 'processing'
        AND o.processing_started_at < ${now} - ${options.olderThanMs} * interval '1 millisecond'
      RETURNING o.id, o.status`),
  );
  return {
    requeued: rows.filter((r) => r.status === "queued").map((r) => r.id),
    failed: rows.filter((r) => r.status === "failed").map((r) => r.id),
  };
}
