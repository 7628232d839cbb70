import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import { LEASE_COLUMNS, STILL_HELD, finishResult, leaseRows } from "./end-lease.ts";
import { STAMP_UPDATED_AT, sqlNow } from "./sql-now.ts";
import type { Lease, QueueClock } from "./types.ts";
import { withDatabaseErrors } from "../errors.ts";

export interface ExtendResult {
  /** Ids whose lease is renewed: still held by this owner and attempt. */
  extended: string[];
  /** Ids no longer held (recovered, claimed again, or finished): their work must stop. */
  lost: string[];
}

/**
 * processing → processing, renewed: stamps `lease_renewed_at` on every row still held under
 * its lease (fenced like the finishes), in one statement for any number of leases. A row
 * recovered and claimed by another worker (attempt + 1) or already finished is not touched.
 */
export const extendLeases = withDatabaseErrors(async function extendLeases(
  db: Database,
  leases: readonly Lease[],
  clock?: QueueClock,
): Promise<ExtendResult> {
  if (leases.length === 0) return { extended: [], lost: [] };
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      UPDATE outbound_messages AS o
      SET ${STAMP_UPDATED_AT}, lease_renewed_at = ${sqlNow(clock)}
      FROM ${leaseRows(leases, LEASE_COLUMNS)}
      WHERE ${STILL_HELD}
      RETURNING o.id`),
  );
  const result = finishResult(
    leases,
    rows.map((r) => r.id),
  );
  return { extended: result.finished, lost: result.rejected };
});
