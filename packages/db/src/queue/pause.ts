import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { OPERATOR_PAUSE_REASONS, type MailboxPauseReason } from "../schema.ts";
import { LEASE_COLUMNS, endLeases } from "./end-lease.ts";
import { appendErrorLog } from "./error-log.ts";
import { REPLY_COLUMNS, SET_REPLY, replyFields } from "./reply-columns.ts";
import { scrubErrorText } from "./scrub.ts";
import { sqlNow } from "./sql-now.ts";
import type { FinishResult, Lease, QueueClock, SendRecord } from "./types.ts";
import { withDatabaseErrors } from "../errors.ts";

/** A send stopped by the mailbox, not the message: a provider limit, or TLS/auth trouble. */
export interface Pause extends Lease, SendRecord {
  mailboxId: string;
  reason: MailboxPauseReason;
  /** Null: until an operator fixes the mailbox. */
  pausedForMs: number | null;
  /** The reply or error behind it, one line, no secrets. */
  detail: string;
}

const OPERATOR = sql.raw(OPERATOR_PAUSE_REASONS.map((r) => `'${r}'`).join(", "));

/**
 * processing → queued, the attempt not counted, and the mailbox paused, in one statement. The
 * message waits out a timed pause (`next_retry_at`), or the operator's fix (claims skip paused
 * mailboxes). An operator pause is never shortened into a timed one.
 */
export const pauseMany = withDatabaseErrors(function pauseMany(
  db: Database,
  pauses: readonly Pause[],
  clock?: QueueClock,
): Promise<FinishResult> {
  const now = sqlNow(clock);
  const rows = pauses.map((p) => ({
    id: p.id,
    owner: p.owner,
    attempt: p.attempt,
    mailbox_id: p.mailboxId,
    reason: p.reason,
    pause_ms: p.pausedForMs,
    detail: scrubErrorText(p.detail).replace(/\s+/g, " ").trim().slice(0, 500),
    ...replyFields({ ...p, errorCode: p.errorCode ?? p.reason }),
  }));
  const columns = sql`${LEASE_COLUMNS}, mailbox_id uuid, reason text, pause_ms bigint, detail text, ${REPLY_COLUMNS}`;
  const pausedMailboxes = sql`paused AS (
      UPDATE mailboxes AS m
      SET pause_reason = p.reason, paused_at = ${now},
          paused_until = ${now} + p.pause_ms * interval '1 millisecond', pause_detail = p.detail
      FROM (SELECT DISTINCT ON (mailbox_id) mailbox_id, reason, pause_ms, detail
            FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(${columns})
            ORDER BY mailbox_id, pause_ms DESC NULLS FIRST) AS p
      WHERE m.id = p.mailbox_id
        AND NOT (coalesce(m.pause_reason IN (${OPERATOR}), false) AND p.reason NOT IN (${OPERATOR}))
      RETURNING m.id)`;
  return endLeases(
    db,
    rows,
    sql`status = 'queued', attempts = o.attempts - 1, data_started_at = NULL,
        next_retry_at = ${now} + l.pause_ms * interval '1 millisecond', ${SET_REPLY},
        ${appendErrorLog(now, sql`l.attempt`, sql`'mailbox paused (' || l.reason || '): ' || l.detail`)}`,
    columns,
    { before: pausedMailboxes },
  );
});
