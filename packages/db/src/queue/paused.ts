import { type SQL, sql } from "drizzle-orm";

/**
 * True for a row whose mailbox is not paused at `now` (an operator pause has no end; a provider
 * limit ends at `paused_until`). `NOT IN (subquery)` is one hashed set per statement over the
 * small `mailboxes_paused_idx`, and the planner estimates it without per-value statistics: the
 * `<> ALL(ARRAY(...))` form was estimated at one row when every queued row had one mailbox, so
 * the claim sorted the whole backlog instead of walking the due-row index (27 ms vs 0.5 ms at
 * 18,000 queued).
 */
export function mailboxNotPaused(mailboxId: SQL, now: SQL): SQL {
  return sql`${mailboxId} NOT IN (SELECT id FROM mailboxes WHERE pause_reason IS NOT NULL AND (paused_until IS NULL OR paused_until > ${now}))`;
}
