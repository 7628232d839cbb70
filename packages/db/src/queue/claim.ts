import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { DatabaseError, withDatabaseErrors } from "../errors.ts";
import { isOnServer } from "../on-server.ts";
import { rowsOf } from "../rows.ts";
import { mailboxNotPaused } from "./paused.ts";
import { STAMP_UPDATED_AT, sqlNow } from "./sql-now.ts";
import type { ClaimedMessage, QueueClock } from "./types.ts";

/**
 * queued (due) → processing. Atomically moves up to `limit` due messages (queued, retry time
 * null or past), oldest due first, to `processing` under `owner`'s lease.
 *
 * `SKIP LOCKED` lets any number of workers claim concurrently without ever receiving the same
 * row; the subquery walks the due-row index (`outbound_messages_due_idx`) in its key order, so
 * the cost does not grow with finished rows. Messages of paused mailboxes are passed over
 * (paused.ts). The limit is part of the statement's text, not a parameter: with a parameter
 * Postgres found its generic plan dearer and planned every claim afresh (a quarter of a 10-row
 * claim's server time).
 *
 * On a Postgres server the claim commits asynchronously (no WAL flush before the reply): the
 * flush is most of a claim's latency, and a worker waits on its claims. If the server crashes
 * right after, the claim may be undone: its rows are queued again while the worker holds them.
 * Nothing is sent twice for that. The DATA marker (data-started.ts) commits synchronously and
 * is fenced by the lease, and flushing it makes every earlier commit durable, so a body only
 * goes out under a claim that survived, or under the same lease claimed again by the same
 * worker, which keeps one handler per row (runWorker); another worker's claim has another owner.
 * The embedded database lives in the worker's process, so there a crash of the worker would
 * undo its claims too: its claims stay synchronous, and a dead worker's leases are recovered.
 */
export const claim = withDatabaseErrors(async function claim(
  db: Database,
  options: { limit: number; owner: string; clock?: QueueClock },
): Promise<ClaimedMessage[]> {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1)
    throw new DatabaseError("invalid_input", "claim needs a limit of at least 1.");
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
      SET ${STAMP_UPDATED_AT}, status = 'processing', attempts = o.attempts + 1,
          processing_started_at = ${now}, lease_renewed_at = ${now}, lease_owner = ${options.owner},
          next_retry_at = NULL
      WHERE o.id = ANY(ARRAY(
        SELECT id FROM outbound_messages
        WHERE status = 'queued' AND coalesce(next_retry_at, created_at) <= ${now}
          AND ${mailboxNotPaused(sql`mailbox_id`, now)}
        ORDER BY coalesce(next_retry_at, created_at), id
        LIMIT ${sql.raw(String(options.limit))}
        FOR UPDATE SKIP LOCKED))
        ${isOnServer(db) ? sql`AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL` : sql``}
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
});
