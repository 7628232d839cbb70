import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import type { MailboxPauseReason, MailboxTlsMode } from "../schema.ts";
import { withDatabaseErrors } from "../errors.ts";

/** Everything a sender needs for one claimed recipient row, read in one round trip per batch. */
export interface SendInput {
  id: string;
  recipientEmail: string;
  /** MAIL FROM: the address the message was composed for, else the mailbox's email. */
  envelopeFrom: string;
  /** The recipient's tracked body when there is one, else the message's stored bytes. */
  raw: Buffer | undefined;
  mailbox: {
    id: string;
    smtpHost: string;
    smtpPort: number;
    smtpUsername: string;
    smtpPasswordEncrypted: string;
    smtpTlsMode: MailboxTlsMode;
    smtpMaxConnections: number;
    pauseReason: MailboxPauseReason | null;
    pausedUntil: Date | null;
    /** Changes whenever the mailbox does: a pool built from an older version is replaced. */
    version: string;
  };
}

const toBuffer = (value: unknown): Buffer | undefined =>
  value === null || value === undefined
    ? undefined
    : Buffer.isBuffer(value)
      ? value
      : Buffer.from(
          (value as Uint8Array).buffer,
          (value as Uint8Array).byteOffset,
          (value as Uint8Array).byteLength,
        );

export const loadSendInputs = withDatabaseErrors(async function loadSendInputs(
  db: Database,
  ids: readonly string[],
): Promise<Map<string, SendInput>> {
  if (ids.length === 0) return new Map();
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`
      SELECT o.id, o.recipient_email, coalesce(msg.envelope_from, mb.email) AS envelope_from,
             coalesce(rb.raw, b.raw) AS raw,
             mb.id AS mailbox_id, mb.smtp_host, mb.smtp_port, mb.smtp_username,
             mb.smtp_password_encrypted, mb.smtp_tls_mode, mb.smtp_max_connections,
             mb.pause_reason, mb.paused_until, mb.updated_at
      FROM outbound_messages o
      JOIN mailboxes mb ON mb.id = o.mailbox_id
      LEFT JOIN messages msg ON msg.id = o.message_id
      LEFT JOIN message_bodies b ON b.message_id = o.message_id
      LEFT JOIN recipient_bodies rb ON rb.outbound_message_id = o.id
      WHERE o.id = ANY(${`{${ids.join(",")}}`}::uuid[])`),
  );
  const date = (value: unknown) =>
    value === null || value === undefined ? null : new Date(value as string | Date);
  return new Map(
    rows.map((row) => [
      row.id as string,
      {
        id: row.id as string,
        recipientEmail: row.recipient_email as string,
        envelopeFrom: row.envelope_from as string,
        raw: toBuffer(row.raw),
        mailbox: {
          id: row.mailbox_id as string,
          smtpHost: row.smtp_host as string,
          smtpPort: Number(row.smtp_port),
          smtpUsername: row.smtp_username as string,
          smtpPasswordEncrypted: toBuffer(row.smtp_password_encrypted)!.toString("ascii"),
          smtpTlsMode: row.smtp_tls_mode as MailboxTlsMode,
          smtpMaxConnections: Number(row.smtp_max_connections),
          pauseReason: (row.pause_reason as MailboxPauseReason | null) ?? null,
          pausedUntil: date(row.paused_until),
          version: date(row.updated_at)!.toISOString(),
        },
      },
    ]),
  );
});
