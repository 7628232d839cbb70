import { type Database, rowsOf, sql } from "@imap-proxy/db";

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
