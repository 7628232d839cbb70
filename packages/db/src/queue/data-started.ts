import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import { STILL_HELD, finishResult, leaseRows, LEASE_COLUMNS } from "./end-lease.ts";
import { STAMP_UPDATED_AT, sqlNow } from "./sql-now.ts";
import type { FinishResult, Lease, QueueClock } from "./types.ts";
import { withDatabaseErrors } from "../errors.ts";

/**
 * processing → processing with `data_started_at`: written, and committed, before the first byte
 * of a body goes out. From here on the message may be delivered, so recovery fails it
 * (`outcome_unknown`) instead of queueing it again. Fenced like a finish: a refused lease means
 * another worker owns the row and the body must not be sent. One round trip for any number.
 */
export const markDataStarted = withDatabaseErrors(async function markDataStarted(
  db: Database,
  leases: readonly Lease[],
  clock?: QueueClock,
): Promise<FinishResult> {
  if (leases.length === 0) return { finished: [], rejected: [] };
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      UPDATE outbound_messages AS o SET ${STAMP_UPDATED_AT}, data_started_at = ${sqlNow(clock)}
      FROM ${leaseRows(leases, LEASE_COLUMNS)}
      WHERE ${STILL_HELD}
      RETURNING o.id`),
  );
  return finishResult(
    leases,
    rows.map((r) => r.id),
  );
});
