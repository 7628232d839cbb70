import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import { withDatabaseErrors } from "../errors.ts";

/** A claimed copy is identified by its message and the attempt it runs under. */
export interface SentCopyLease {
  messageId: string;
  attempt: number;
}

export const SENT_COPY_MAX_ATTEMPTS = 8;

const one = (text: string) => text.replace(/\s+/g, " ").trim().slice(0, 500);

async function endCopy(db: Database, lease: SentCopyLease, set: ReturnType<typeof sql>) {
  const result = await db.execute(sql`
    UPDATE messages SET sent_copy_started_at = NULL, ${set}
     WHERE id = ${lease.messageId} AND sent_copy_state = 'copying'
       AND sent_copy_attempts = ${lease.attempt}
    RETURNING id`);
  return rowsOf(result).length === 1;
}

/** copying → copied, with where the copy is (folder, UIDVALIDITY, UID). */
export const markSentCopied = withDatabaseErrors(function markSentCopied(
  db: Database,
  lease: SentCopyLease,
  copy: { folder: string; uid: number; uidValidity: number },
): Promise<boolean> {
  return endCopy(
    db,
    lease,
    sql`sent_copy_state = 'copied', sent_copy_folder = ${copy.folder},
        sent_copy_uid = ${copy.uid}, sent_copy_uid_validity = ${copy.uidValidity},
        sent_copy_error = NULL`,
  );
});

/** copying → skipped (the mailbox's sent_copy policy says no). */
export const markSentCopySkipped = withDatabaseErrors(function markSentCopySkipped(
  db: Database,
  lease: SentCopyLease,
  reason: string,
): Promise<boolean> {
  return endCopy(db, lease, sql`sent_copy_state = 'skipped', sent_copy_error = ${one(reason)}`);
});

/**
 * copying → pending after a backoff (1 min doubling, capped at 6 h), or → failed when `final`
 * or after the last attempt. The folder tried is kept, so the next attempt searches it first.
 */
export const markSentCopyFailed = withDatabaseErrors(function markSentCopyFailed(
  db: Database,
  lease: SentCopyLease,
  failure: { error: string; final?: boolean; folder?: string },
): Promise<boolean> {
  const final = failure.final === true || lease.attempt >= SENT_COPY_MAX_ATTEMPTS;
  const delayMs = Math.min(60_000 * 2 ** (lease.attempt - 1), 6 * 3_600_000);
  return endCopy(
    db,
    lease,
    sql`sent_copy_state = ${final ? "failed" : "pending"}::sent_copy_state,
        sent_copy_next_attempt_at = ${final ? null : sql`now() + ${delayMs} * interval '1 millisecond'`},
        sent_copy_folder = coalesce(${failure.folder ?? null}, sent_copy_folder),
        sent_copy_error = ${one(failure.error)}`,
  );
});

/** copying for longer than `olderThanMs` (a crashed worker) → pending, due now. */
export const recoverStaleSentCopies = withDatabaseErrors(async function recoverStaleSentCopies(
  db: Database,
  options: { olderThanMs: number },
): Promise<number> {
  const result = await db.execute(sql`
    UPDATE messages SET sent_copy_state = 'pending', sent_copy_started_at = NULL
     WHERE sent_copy_state = 'copying'
       AND sent_copy_started_at < now() - ${options.olderThanMs} * interval '1 millisecond'
    RETURNING id`);
  return rowsOf(result).length;
});
