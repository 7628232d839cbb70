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
  return endLeases(db, rows, changes, sql`${LEASE_COLUMNS}, ${REPLY_COLUMNS}, error text`);
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
