import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { rowsOf } from "../rows.ts";
import type { DeliveryReportKind } from "../schema.ts";
import { withDatabaseErrors } from "../errors.ts";

export interface DeliveryReportInput {
  mailboxId: string;
  /** The original's Message-ID header, with angle brackets. */
  messageIdHeader: string;
  /** Addresses the report names for the recipient (Final-, Original-Recipient, Original-Rcpt-To). */
  recipients: string[];
  kind: DeliveryReportKind;
  action: string;
  status?: string | undefined;
  diagnosticCode?: string | undefined;
  reportingMta?: string | undefined;
  remoteMta?: string | undefined;
  /** Where the report was read: makes recording it again a no-op. */
  folder: string;
  uidValidity: number;
  uid: number;
}

export interface RecordResult {
  /** The recipient row the report was attributed to; undefined when it is not ours. */
  outboundMessageId: string | undefined;
  /** False when this report was already recorded. */
  recorded: boolean;
  /** True when the row changed sent → bounced. */
  bounced: boolean;
}

/**
 * Attributes a report to one of this mailbox's recipient rows, records it once, and for a hard
 * bounce moves the row sent → bounced. One statement. The recipient row is the one whose address
 * the report names; a message with a single recipient takes the report whatever address it
 * names (forwarding changes Final-Recipient). Reports for other mail match nothing.
 */
export const recordDeliveryReport = withDatabaseErrors(async function recordDeliveryReport(
  db: Database,
  report: DeliveryReportInput,
): Promise<RecordResult> {
  const addresses = report.recipients.map((r) => r.toLowerCase());
  const result = await db.execute(sql`
    WITH candidates AS (
      SELECT om.id, lower(om.recipient_email) IN (
               SELECT jsonb_array_elements_text(${JSON.stringify(addresses)}::jsonb)) AS named,
             count(*) OVER () AS recipients
        FROM outbound_messages om JOIN messages m ON m.id = om.message_id
       WHERE m.mailbox_id = ${report.mailboxId} AND m.message_id_header = ${report.messageIdHeader}
    ), target AS (
      SELECT id FROM candidates WHERE named OR recipients = 1 ORDER BY named DESC LIMIT 1
    ), inserted AS (
      INSERT INTO delivery_reports (outbound_message_id, kind, action, status, diagnostic_code,
                                    reporting_mta, remote_mta, folder, uid_validity, uid)
      SELECT id, ${report.kind}, ${report.action.slice(0, 100)}, ${report.status ?? null},
             ${report.diagnosticCode?.slice(0, 1000) ?? null}, ${report.reportingMta?.slice(0, 255) ?? null},
             ${report.remoteMta?.slice(0, 255) ?? null}, ${report.folder}, ${report.uidValidity}, ${report.uid}
        FROM target
      ON CONFLICT DO NOTHING
      RETURNING outbound_message_id
    ), bounced AS (
      UPDATE outbound_messages SET status = 'bounced'
       WHERE id IN (SELECT outbound_message_id FROM inserted)
         AND ${report.kind} = 'bounce' AND status = 'sent'
      RETURNING id
    )
    SELECT (SELECT id FROM target) AS "outboundMessageId",
           (SELECT count(*) FROM inserted)::int AS "recorded",
           (SELECT count(*) FROM bounced)::int AS "bounced"`);
  const row = rowsOf<{ outboundMessageId: string | null; recorded: number; bounced: number }>(
    result,
  )[0];
  return {
    outboundMessageId: row?.outboundMessageId ?? undefined,
    recorded: (row?.recorded ?? 0) > 0,
    bounced: (row?.bounced ?? 0) > 0,
  };
});
