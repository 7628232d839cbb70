import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import { withDatabaseErrors } from "../errors.ts";

export interface ClaimedSentCopy {
  /** messages.id */
  messageId: string;
  mailboxId: string;
  /** The Message-ID header the copy is found by. */
  messageIdHeader: string;
  /** Counting this one. */
  attempt: number;
  /** Where an earlier attempt got to, when one recorded it (copied, then lost its lease). */
  folder: string | null;
}

/**
 * pending (due) → copying; attempts + 1. Skips locked rows, so any number of workers share the
 * work without copying a message twice at the same time.
 */
export const claimSentCopies = withDatabaseErrors(async function claimSentCopies(
  db: Database,
  options: { limit: number; mailboxId?: string },
): Promise<ClaimedSentCopy[]> {
  const result = await db.execute(sql`
    UPDATE messages m
       SET sent_copy_state = 'copying', sent_copy_started_at = now(),
           sent_copy_next_attempt_at = NULL, sent_copy_attempts = m.sent_copy_attempts + 1
     WHERE m.id IN (
       SELECT id FROM messages
        WHERE sent_copy_state = 'pending'
          AND coalesce(sent_copy_next_attempt_at, created_at) <= now()
          ${options.mailboxId ? sql`AND mailbox_id = ${options.mailboxId}` : sql``}
        ORDER BY coalesce(sent_copy_next_attempt_at, created_at), id
        LIMIT ${options.limit}
        FOR UPDATE SKIP LOCKED)
    RETURNING m.id AS "messageId", m.mailbox_id AS "mailboxId",
              m.message_id_header AS "messageIdHeader", m.sent_copy_attempts AS "attempt",
              m.sent_copy_folder AS "folder"`);
  return rowsOf<ClaimedSentCopy>(result);
});
