import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { LEASE_COLUMNS, endLeases, requireHeld } from "./end-lease.ts";
import { appendErrorLog } from "./error-log.ts";
import { REPLY_COLUMNS, SET_REPLY, replyFields } from "./reply-columns.ts";
import { scrubErrorText } from "./scrub.ts";
import { sqlNow } from "./sql-now.ts";
import type { Finish, FinishResult, Lease, QueueClock } from "./types.ts";
import { withDatabaseErrors } from "../errors.ts";

/**
 * A sent recipient makes its message's Sent copy due (null → pending), in the finish's own
 * statement: done per row by a trigger, it ran a statement per sent row, 28 % of the server's
 * work per send at 10 per claim (migration 0013). The messages are locked in id order (the
 * UPDATE's own lock strength, which foreign keys pointing at them do not wait for), so two
 * finishes sharing messages (recipients of one message sent by two workers) wait for each
 * other, never deadlock.
 */
const SENT_COPY_DUE = sql`copy_due AS (
        SELECT m.id FROM messages AS m
        WHERE m.id IN (SELECT message_id FROM ended) AND m.sent_copy_state IS NULL
        ORDER BY m.id FOR NO KEY UPDATE OF m),
      copy_pending AS (
        UPDATE messages AS m SET sent_copy_state = 'pending' FROM copy_due AS d WHERE m.id = d.id)`;

/**
 * processing → sent | bounced, for the lease holder only; one round trip for any number. Each
 * row records the server's reply (its queue id when sent, the refusal when bounced); a bounce
 * also adds its reason to `error_log`.
 */
function finishMany(
  db: Database,
  finishes: readonly Finish[],
  status: "sent" | "bounced",
  clock?: QueueClock,
): Promise<FinishResult> {
  const now = sqlNow(clock);
  const rows = finishes.map((f) => ({
    id: f.id,
    owner: f.owner,
    attempt: f.attempt,
    ...replyFields(f),
    // Only a bounce logs its reason.
    error: status === "bounced" ? scrubErrorText(f.error ?? "bounced") : null,
  }));
  const changes =
    status === "sent"
      ? sql`status = 'sent', sent_at = ${now}, ${SET_REPLY}`
      : sql`status = 'bounced', sent_at = NULL, ${SET_REPLY},
          ${appendErrorLog(now, sql`l.attempt`, sql`l.error`)}`;
  return endLeases(
    db,
    rows,
    changes,
    sql`${LEASE_COLUMNS}, ${REPLY_COLUMNS}, error text`,
    status === "sent" ? { after: SENT_COPY_DUE } : {},
  );
}

export const markSent = withDatabaseErrors(async function markSent(
  db: Database,
  lease: Lease,
  clock?: QueueClock,
): Promise<void> {
  requireHeld(await finishMany(db, [lease], "sent", clock), lease);
});
export const markSentMany = withDatabaseErrors(function markSentMany(
  db: Database,
  finishes: readonly Finish[],
  clock?: QueueClock,
): Promise<FinishResult> {
  return finishMany(db, finishes, "sent", clock);
});
export const markBounced = withDatabaseErrors(async function markBounced(
  db: Database,
  lease: Lease,
  clock?: QueueClock,
): Promise<void> {
  requireHeld(await finishMany(db, [lease], "bounced", clock), lease);
});
export const markBouncedMany = withDatabaseErrors(function markBouncedMany(
  db: Database,
  finishes: readonly Finish[],
  clock?: QueueClock,
): Promise<FinishResult> {
  return finishMany(db, finishes, "bounced", clock);
});
