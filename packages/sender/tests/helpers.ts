import { type Database, rowsOf, sql } from "@imap-proxy/db";
import { enqueue } from "@imap-proxy/db/queue";

/** A mailbox row to hang queued messages on; its credentials are never used here. */
export async function newMailbox(db: Database): Promise<string> {
  const email = `worker-${Math.random().toString(36).slice(2)}@example.com`;
  const [row] = rowsOf<{ id: string }>(
    await db.execute(sql`
      INSERT INTO mailboxes (email, imap_host, imap_username, imap_password_encrypted, smtp_host, smtp_username, smtp_password_encrypted)
      VALUES (${email}, 'imap.example.com', 'user', 'x'::bytea, 'smtp.example.com', 'user', 'x'::bytea)
      RETURNING id`),
  );
  return row!.id;
}

/** Enqueues `count` messages for a new mailbox; returns the mailbox id and the message ids. */
export async function queueMessages(
  db: Database,
  count: number,
): Promise<{ mailboxId: string; ids: string[] }> {
  const mailboxId = await newMailbox(db);
  const results = await enqueue(
    db,
    mailboxId,
    Array.from({ length: count }, (_, i) => ({
      recipientEmail: "r@example.net",
      subject: `m${i}`,
    })),
  );
  return { mailboxId, ids: results.map((r) => r.id) };
}

/** Status, attempts and error log of each row of a mailbox, by id. */
export async function rowsByMailbox(db: Database, mailboxId: string) {
  const rows = rowsOf<{ id: string; status: string; attempts: number; error_log: string | null }>(
    await db.execute(
      sql`SELECT id, status, attempts, error_log FROM outbound_messages WHERE mailbox_id = ${mailboxId}`,
    ),
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/** Resolves once `condition` holds, polling every 20 ms (fails after `ms`). */
export async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
