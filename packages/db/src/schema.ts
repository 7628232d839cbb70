import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { auditTimestamps, fernetTokenBytes, timestamptz } from "./columns.ts";

/**
 * How the SMTP connection is secured. There is deliberately no "none" and no port-based guess:
 * - `implicit`: TLS from the first byte (usually port 465).
 * - `starttls_required`: plaintext connect, then a mandatory STARTTLS upgrade (usually 587);
 *   if the server does not offer it, the connection fails before AUTH.
 */
export const mailboxTlsMode = pgEnum("mailbox_tls_mode", ["implicit", "starttls_required"]);
export type MailboxTlsMode = (typeof mailboxTlsMode.enumValues)[number];
export const MAILBOX_TLS_MODES = mailboxTlsMode.enumValues;

/** queued → processing → sent / failed / bounced (processing → queued again on retry). */
export const outboundMessageStatus = pgEnum("outbound_message_status", [
  "queued",
  "processing",
  "sent",
  "failed",
  "bounced",
]);
export type OutboundMessageStatus = (typeof outboundMessageStatus.enumValues)[number];
export const OUTBOUND_MESSAGE_STATUSES = outboundMessageStatus.enumValues;

export const mailboxes = pgTable(
  "mailboxes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Stored as typed; unique case-insensitively (see the lower(email) index). */
    email: text("email").notNull(),
    imapHost: text("imap_host").notNull(),
    imapPort: integer("imap_port").notNull().default(993),
    imapUsername: text("imap_username").notNull(),
    imapPasswordEncrypted: fernetTokenBytes("imap_password_encrypted").notNull(),
    smtpHost: text("smtp_host").notNull(),
    smtpPort: integer("smtp_port").notNull().default(587),
    smtpUsername: text("smtp_username").notNull(),
    smtpPasswordEncrypted: fernetTokenBytes("smtp_password_encrypted").notNull(),
    smtpTlsMode: mailboxTlsMode("smtp_tls_mode").notNull().default("starttls_required"),
    ...auditTimestamps,
  },
  () => [
    uniqueIndex("mailboxes_email_lower_key").using("btree", sql`lower("email")`),
    check("mailboxes_email_not_blank", sql`btrim("email") <> ''`),
    check("mailboxes_imap_host_not_blank", sql`btrim("imap_host") <> ''`),
    check("mailboxes_smtp_host_not_blank", sql`btrim("smtp_host") <> ''`),
    check("mailboxes_imap_port_range", sql`"imap_port" BETWEEN 1 AND 65535`),
    check("mailboxes_smtp_port_range", sql`"smtp_port" BETWEEN 1 AND 65535`),
  ],
);

export const outboundMessages = pgTable(
  "outbound_messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /**
     * ON DELETE RESTRICT: the database never drops mail on its own. `mailboxes:delete` refuses
     * while mail is queued or processing, and removes finished records in the same transaction.
     */
    mailboxId: uuid("mailbox_id")
      .notNull()
      .references(() => mailboxes.id, { onDelete: "restrict", onUpdate: "cascade" }),
    recipientEmail: text("recipient_email").notNull(),
    subject: text("subject").notNull(),
    status: outboundMessageStatus("status").notNull().default("queued"),
    attempts: integer("attempts").notNull().default(0),
    /** When a `queued` row becomes due again after a failure; null = due now. */
    nextRetryAt: timestamptz("next_retry_at"),
    /** Lease start: set while `processing`, cleared when the row leaves it. */
    processingStartedAt: timestamptz("processing_started_at"),
    sentAt: timestamptz("sent_at"),
    openedAt: timestamptz("opened_at"),
    clickedAt: timestamptz("clicked_at"),
    /** Append-only, one line per failed attempt; never holds a secret. */
    errorLog: text("error_log"),
    /** Set by the caller to make enqueueing safe to repeat; unique per mailbox. */
    idempotencyKey: text("idempotency_key"),
    /** Who holds the lease while `processing`; with `attempts` it fences late finishers. */
    leaseOwner: text("lease_owner"),
    ...auditTimestamps,
  },
  () => [
    check("outbound_messages_attempts_non_negative", sql`"attempts" >= 0`),
    check(
      "outbound_messages_lease_iff_processing",
      sql`("status" = 'processing') = ("processing_started_at" IS NOT NULL)`,
    ),
    check(
      "outbound_messages_attempted_when_processing_or_sent",
      sql`"status" NOT IN ('processing', 'sent') OR "attempts" >= 1`,
    ),
    check("outbound_messages_sent_has_sent_at", sql`"status" <> 'sent' OR "sent_at" IS NOT NULL`),
    check(
      "outbound_messages_sent_at_only_when_delivered",
      sql`"sent_at" IS NULL OR "status" IN ('sent', 'bounced')`,
    ),
    check(
      "outbound_messages_retry_only_when_queued",
      sql`"next_retry_at" IS NULL OR "status" = 'queued'`,
    ),
    check(
      "outbound_messages_tracking_after_sent",
      sql`("opened_at" IS NULL AND "clicked_at" IS NULL) OR "sent_at" IS NOT NULL`,
    ),
    // The claim's ORDER BY is exactly this key, so it is an ordered index scan with no sort.
    index("outbound_messages_due_idx")
      .using("btree", sql`coalesce("next_retry_at", "created_at")`, sql`"id"`)
      .where(sql`"status" = 'queued'`),
    index("outbound_messages_stale_idx")
      .on(sql`"processing_started_at"`)
      .where(sql`"status" = 'processing'`),
    index("outbound_messages_mailbox_id_idx").on(sql`"mailbox_id"`),
    uniqueIndex("outbound_messages_idempotency_key")
      .on(sql`"mailbox_id"`, sql`"idempotency_key"`)
      .where(sql`"idempotency_key" IS NOT NULL`),
    check(
      "outbound_messages_lease_owner_iff_processing",
      sql`("status" = 'processing') = ("lease_owner" IS NOT NULL)`,
    ),
  ],
);

export type Mailbox = typeof mailboxes.$inferSelect;
export type NewMailbox = typeof mailboxes.$inferInsert;
export type OutboundMessage = typeof outboundMessages.$inferSelect;
export type NewOutboundMessage = typeof outboundMessages.$inferInsert;
