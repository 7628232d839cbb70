import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { DatabaseError, withDatabaseErrors } from "../errors.ts";
import { rowsOf } from "../rows.ts";
import { type OutboundMessageStatus, outboundMessages as t } from "../schema.ts";
import type { EnqueueInput, EnqueueResult } from "./types.ts";

/**
 * → queued. Enqueues one or many messages for a mailbox in one round trip (a second only when
 * an idempotency key already existed). The rows travel as one JSON parameter, so a batch of any
 * size is one short statement on both drivers.
 */
export const enqueue = withDatabaseErrors(async function enqueue(
  db: Database,
  mailboxId: string,
  inputs: EnqueueInput | readonly EnqueueInput[],
): Promise<EnqueueResult[]> {
  const list = Array.isArray(inputs)
    ? (inputs as readonly EnqueueInput[])
    : [inputs as EnqueueInput];
  if (list.length === 0) return [];
  // The same key twice in one call is one message.
  const keys = new Set<string>();
  const unique = list.filter((input) => {
    if (input.idempotencyKey === undefined) return true;
    if (keys.has(input.idempotencyKey)) return false;
    keys.add(input.idempotencyKey);
    return true;
  });
  const payload = JSON.stringify(
    unique.map((input) => ({
      r: input.recipientEmail,
      s: input.subject,
      k: input.idempotencyKey ?? null,
    })),
  );
  const inserted = rowsOf<{
    id: string;
    idempotency_key: string | null;
    status: OutboundMessageStatus;
  }>(
    await db.execute(sql`
      INSERT INTO outbound_messages (mailbox_id, recipient_email, subject, idempotency_key)
      SELECT ${mailboxId}::uuid, i.r, i.s, i.k
      FROM ROWS FROM (jsonb_to_recordset(${payload}::jsonb) AS (r text, s text, k text)) WITH ORDINALITY AS i(r, s, k, ord)
      ORDER BY i.ord
      ON CONFLICT (mailbox_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id, idempotency_key, status`),
  );
  const byKey = new Map<string, EnqueueResult>();
  const unkeyed: EnqueueResult[] = [];
  for (const row of inserted) {
    const result = { id: row.id, status: row.status, created: true };
    if (row.idempotency_key === null) unkeyed.push(result);
    else byKey.set(row.idempotency_key, result);
  }
  const missingKeys = [...keys].filter((key) => !byKey.has(key));
  if (missingKeys.length > 0) {
    const existing = await db
      .select({ id: t.id, status: t.status, key: t.idempotencyKey })
      .from(t)
      .where(and(eq(t.mailboxId, mailboxId), inArray(t.idempotencyKey, missingKeys)));
    for (const row of existing)
      byKey.set(row.key!, { id: row.id, status: row.status, created: false });
  }
  // Results in input order; rows come back in insertion (ORDER BY ord) order.
  let nextUnkeyed = 0;
  return list.map((input) => {
    if (input.idempotencyKey === undefined) return unkeyed[nextUnkeyed++]!;
    const found = byKey.get(input.idempotencyKey);
    if (found === undefined)
      throw new DatabaseError("unexpected_state", "An idempotent enqueue lost its row.");
    return found;
  });
});
