import { type SQL, sql } from "drizzle-orm";

/**
 * The ids of mailboxes whose sending is paused at `now`: an operator pause (no end) or a
 * provider limit not yet over. Evaluated once per statement (`mailboxes_paused_idx`).
 */
export function pausedMailboxIds(now: SQL): SQL {
  return sql`ARRAY(SELECT id FROM mailboxes WHERE pause_reason IS NOT NULL AND (paused_until IS NULL OR paused_until > ${now}))`;
}
