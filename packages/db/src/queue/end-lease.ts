import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { DatabaseError } from "../errors.ts";
import { rowsOf } from "../rows.ts";
import { STAMP_UPDATED_AT } from "./sql-now.ts";
import type { FinishResult, Lease } from "./types.ts";

/**
 * Leases (plus any per-row values) as one JSON parameter: the same on both drivers, any number
 * of rows, one round trip. `columns` declares the record, e.g. `id uuid, owner text, attempt int`.
 */
export function leaseRows(rows: readonly object[], columns: SQL): SQL {
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS l(${columns})`;
}

export const LEASE_COLUMNS = sql`id uuid, owner text, attempt int`;

/**
 * The fence: the row `o` is still held under the lease `l` — same owner, same attempt, still
 * processing. A worker whose lease was recovered and claimed again (attempt + 1) fails it.
 */
export const STILL_HELD = sql`o.id = l.id AND o.status = 'processing' AND o.lease_owner = l.owner AND o.attempts = l.attempt`;

/** Splits the leases asked for into those the statement changed and those it refused. */
export function finishResult(leases: readonly Lease[], finishedIds: string[]): FinishResult {
  const finished = new Set(finishedIds);
  return {
    finished: finishedIds,
    rejected: leases.filter((l) => !finished.has(l.id)).map((l) => l.id),
  };
}

/**
 * Every way out of `processing` by the lease holder: `changes` plus clearing the lease, on held
 * rows only, in one statement. `rows` may carry per-row values declared in `columns` after the
 * lease's own (`l.<name>` in `changes`). Also in the same statement: `before`, common table
 * expressions run beside it, and `after`, ones that read the rows it ended from `ended`
 * (`id`, `message_id`).
 */
export async function endLeases(
  db: Database,
  rows: readonly Lease[],
  changes: SQL,
  columns: SQL = LEASE_COLUMNS,
  also: { before?: SQL; after?: SQL } = {},
): Promise<FinishResult> {
  if (rows.length === 0) return { finished: [], rejected: [] };
  const update = sql`
      UPDATE outbound_messages AS o
      SET ${STAMP_UPDATED_AT}, ${changes},
          processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL
      FROM ${leaseRows(rows, columns)}
      WHERE ${STILL_HELD}`;
  const ended = rowsOf<{ id: string }>(
    await db.execute(
      also.after === undefined
        ? sql`${also.before === undefined ? sql`` : sql`WITH ${also.before}`} ${update}
          RETURNING o.id`
        : sql`WITH ${also.before === undefined ? sql`` : sql`${also.before},`}
            ended AS (${update} RETURNING o.id, o.message_id), ${also.after}
          SELECT id FROM ended`,
    ),
  );
  return finishResult(
    rows,
    ended.map((r) => r.id),
  );
}

/** For the single-lease forms: a refused lease is an error the caller must see. */
export function requireHeld(result: FinishResult, lease: Lease): void {
  if (result.rejected.length > 0) {
    throw new DatabaseError(
      "lease_lost",
      `Message ${lease.id}: the lease of ${lease.owner} (attempt ${lease.attempt}) is no longer held; another worker owns it or it was recovered.`,
    );
  }
}
