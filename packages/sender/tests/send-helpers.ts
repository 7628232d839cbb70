import { randomUUID } from "node:crypto";
import { FernetKey, Keyring } from "@imap-proxy/crypto";
import { type Database, rowsOf, sql } from "@imap-proxy/db";
import { peerMailbox as testPeerMailbox } from "@imap-proxy/testing/mailbox";

/** The test keyring's key: a worker process opens the same secrets with it. */
export const FERNET_KEY = FernetKey.generate();
export const keyring = new Keyring([FernetKey.parse(FERNET_KEY)]);

/** A mailbox whose SMTP server is the test peer on `port` (STARTTLS, the test credentials). */
export function peerMailbox(
  db: Database,
  port: number,
  extra: { maxConnections?: number } = {},
): Promise<{ id: string; email: string }> {
  return testPeerMailbox(db, keyring, {
    email: `sender-${randomUUID().slice(0, 8)}@example.com`,
    smtpPort: port,
    ...extra,
  });
}

/** The MIME a submission would store: headers, no Bcc, CRLF line ends. */
export function composed(from: string, to: string, n: number): Buffer {
  return Buffer.from(
    [
      `From: ${from}`,
      `To: ${to}`,
      `Subject: test ${n}`,
      `Message-ID: <${randomUUID()}@example.com>`,
      "Date: Thu, 26 Nov 2026 00:00:00 +0000",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      `Message number ${n}.`,
      "",
    ].join("\r\n"),
  );
}

/** Stores a submission as the API does (message, body once, one row per recipient), queued. */
export async function submit(
  db: Database,
  mailbox: { id: string; email: string },
  recipients: string[],
  raw: Buffer = composed(mailbox.email, recipients[0]!, 0),
): Promise<{ messageId: string; rowIds: string[] }> {
  const messageId = randomUUID();
  const header = `<${messageId}@example.com>`;
  await db.execute(sql`
    INSERT INTO messages (id, mailbox_id, message_id_header, envelope_from, subject)
    VALUES (${messageId}, ${mailbox.id}, ${header}, ${mailbox.email}, 'test')`);
  await db.execute(sql`
    INSERT INTO message_bodies (message_id, raw, size_bytes, request_sha256)
    VALUES (${messageId}, ${raw}, ${raw.length}, ${Buffer.alloc(32)})`);
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
      SELECT ${mailbox.id}, ${messageId}, r, 'test' FROM unnest(${`{${recipients.join(",")}}`}::text[]) AS r
      RETURNING id`),
  );
  return { messageId, rowIds: rows.map((r) => r.id) };
}

export async function recipientRow(db: Database, id: string) {
  return rowsOf<Record<string, unknown>>(
    await db.execute(sql`
      SELECT status, attempts, error_code, smtp_reply_code, smtp_enhanced_status, smtp_reply,
             sent_at IS NOT NULL AS sent, data_started_at IS NOT NULL AS data_started, error_log
      FROM outbound_messages WHERE id = ${id}`),
  )[0]!;
}

export async function mailboxPause(db: Database, id: string) {
  return rowsOf<Record<string, unknown>>(
    await db.execute(
      sql`SELECT pause_reason, paused_until IS NOT NULL AS timed FROM mailboxes WHERE id = ${id}`,
    ),
  )[0]!;
}
