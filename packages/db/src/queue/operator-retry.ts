import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import { appendErrorLog } from "./error-log.ts";
import { sqlNow } from "./sql-now.ts";
import type { QueueClock } from "./types.ts";
import { withDatabaseErrors } from "../errors.ts";

/**
 * failed → queued, due now, by an operator's deliberate choice (`messages:retry`, the API): the
 * only way an `outcome_unknown` message is ever sent again. `id` is one recipient row or a whole
 * submission (its failed recipients); `mailboxId` limits it to one mailbox (the API's caller),
 * `recipientId` to that one recipient of the submission `id`. Returns the ids queued again;
 * rows in any other state are left alone.
 */
export const retryFailed = withDatabaseErrors(async function retryFailed(
  db: Database,
  id: string,
  options: { mailboxId?: string; recipientId?: string; clock?: QueueClock } = {},
): Promise<string[]> {
  const now = sqlNow(options.clock);
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      UPDATE outbound_messages AS o
      SET status = 'queued', next_retry_at = NULL, data_started_at = NULL, error_code = NULL,
          ${appendErrorLog(now, sql`o.attempts`, sql`'queued again by an operator'`)}
      WHERE (o.id = ${id}::uuid OR o.message_id = ${id}::uuid) AND o.status = 'failed'
        ${options.mailboxId === undefined ? sql`` : sql`AND o.mailbox_id = ${options.mailboxId}::uuid`}
        ${options.recipientId === undefined ? sql`` : sql`AND o.id = ${options.recipientId}::uuid`}
      RETURNING o.id`),
  );
  return rows.map((r) => r.id);
});
