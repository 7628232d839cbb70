import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  cidr,
  foreignKey,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { auditTimestamps, bytes, fernetTokenBytes, timestamptz } from "./columns.ts";

/**
 * How the SMTP connection is secured. There is deliberately no "none" and no port-based guess:
 * - `implicit`: TLS from the first byte (usually port 465).
 * - `starttls_required`: plaintext connect, then a mandatory STARTTLS upgrade (usually 587);
 *   if the server does not offer it, the connection fails before AUTH.
 */
export const mailboxTlsMode = pgEnum("mailbox_tls_mode", ["implicit", "starttls_required"]);
export type MailboxTlsMode = (typeof mailboxTlsMode.enumValues)[number];
export const MAILBOX_TLS_MODES = mailboxTlsMode.enumValues;

/**
 * The usual port of each protocol under each mode: the default when none is given. A port that
 * is another mode's usual one contradicts the mode (587 or 25 are SMTP's plaintext-greeting
 * ports, so they contradict `implicit` too).
 */
export const USUAL_PORTS = {
  smtp: { implicit: 465, starttls_required: 587 },
  imap: { implicit: 993, starttls_required: 143 },
} as const satisfies Record<string, Record<MailboxTlsMode, number>>;
const PLAINTEXT_GREETING_PORTS = { smtp: [587, 25], imap: [143] } as const;

/** Why `port` cannot work as typed under `mode`, or undefined when it can. */
export function portMismatch(
  protocol: keyof typeof USUAL_PORTS,
  mode: MailboxTlsMode,
  port: number,
): string | undefined {
  const name = protocol.toUpperCase();
  if (mode === "starttls_required" && port === USUAL_PORTS[protocol].implicit) {
    return `${name} port ${port} expects implicit TLS, but the mode is starttls_required`;
  }
  if (
    mode === "implicit" &&
    (PLAINTEXT_GREETING_PORTS[protocol] as readonly number[]).includes(port)
  ) {
    return `${name} port ${port} expects a plaintext greeting and STARTTLS, but the mode is implicit`;
  }
  return undefined;
}

/**
 * Length caps of the mailbox's text columns (characters): an address per RFC 5321 (254), a DNS
 * name (253), a login well above any provider's. Validators and the database's checks use these.
 */
export const MAILBOX_LIMITS = {
  email: 254,
  host: 253,
  username: 256,
  /** A folder name as shown by the server; far above real ones. */
  folder: 1000,
  smtpMaxConnections: { min: 1, max: 100 },
} as const;

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

/**
 * Why a mailbox's sending is paused. The first four need an operator (`mailboxes:update`, a
 * passing `mailboxes:verify-smtp` or `mailboxes:resume`) and have no end time; the others are
 * provider limits that end at `paused_until`. Its messages stay `queued` meanwhile.
 */
export const OPERATOR_PAUSE_REASONS = [
  "tls_unavailable",
  "tls_failed",
  "auth_failed",
  "auth_unavailable",
] as const;
export const TIMED_PAUSE_REASONS = [
  "rate_limited",
  "too_many_connections",
  "quota_exceeded",
] as const;
export const MAILBOX_PAUSE_REASONS = [...OPERATOR_PAUSE_REASONS, ...TIMED_PAUSE_REASONS] as const;
export type MailboxPauseReason = (typeof MAILBOX_PAUSE_REASONS)[number];
/**
 * Whether a copy of each sent message is APPENDed to the mailbox's Sent folder:
 * - `auto`: yes, except for providers that store SMTP submissions themselves (Gmail and
 *   Microsoft 365, recognised by host), where a copy would be a duplicate.
 * - `on` / `off`: always / never.
 */
export const sentCopyMode = pgEnum("sent_copy_mode", ["auto", "on", "off"]);
export type SentCopyMode = (typeof sentCopyMode.enumValues)[number];
export const SENT_COPY_MODES = sentCopyMode.enumValues;

/**
 * A message's Sent copy: null until one recipient is `sent` (that finish sets `pending`);
 * `copying` while a worker holds it; `copied` (UID recorded), `skipped` (policy) or `failed`
 * (permanent, e.g. over APPENDLIMIT, or attempts exhausted). A failed attempt goes back to
 * `pending` with a retry time; the mail itself is never resent for it.
 */
export const sentCopyState = pgEnum("sent_copy_state", [
  "pending",
  "copying",
  "copied",
  "skipped",
  "failed",
]);
export type SentCopyState = (typeof sentCopyState.enumValues)[number];

/**
 * What a report said about one recipient: `bounce` (failed, 5.x.x: the row becomes `bounced`),
 * `soft_bounce` (failed, 4.x.x), `delay` (still trying) and `complaint` (RFC 5965 ARF) are
 * recorded without changing the row's status.
 */
export const deliveryReportKind = pgEnum("delivery_report_kind", [
  "bounce",
  "soft_bounce",
  "delay",
  "complaint",
]);
export type DeliveryReportKind = (typeof deliveryReportKind.enumValues)[number];
export const DELIVERY_REPORT_KINDS = deliveryReportKind.enumValues;

/** `char_length("column") <= max`, the limit taken from MAILBOX_LIMITS (written once). */
const atMost = (column: string, max: number) =>
  sql`char_length(${sql.identifier(column)}) <= ${sql.raw(String(max))}`;

const sqlList = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(", "));

export const mailboxes = pgTable(
  "mailboxes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Stored as typed; unique case-insensitively (see the lower(email) index). */
    email: text("email").notNull(),
    imapHost: text("imap_host").notNull(),
    imapPort: integer("imap_port").notNull().default(USUAL_PORTS.imap.implicit),
    imapUsername: text("imap_username").notNull(),
    imapPasswordEncrypted: fernetTokenBytes("imap_password_encrypted").notNull(),
    smtpHost: text("smtp_host").notNull(),
    smtpPort: integer("smtp_port").notNull().default(USUAL_PORTS.smtp.starttls_required),
    smtpUsername: text("smtp_username").notNull(),
    smtpPasswordEncrypted: fernetTokenBytes("smtp_password_encrypted").notNull(),
    smtpTlsMode: mailboxTlsMode("smtp_tls_mode").notNull().default("starttls_required"),
    /** SMTP connections the sender opens at once for this mailbox (per worker process). */
    smtpMaxConnections: integer("smtp_max_connections").notNull().default(1),
    /** Sending is paused while `pause_reason` is set and `paused_until` is null or ahead. */
    pauseReason: text("pause_reason").$type<MailboxPauseReason>(),
    pausedAt: timestamptz("paused_at"),
    /** Null for an operator pause (until fixed); the provider's limit otherwise. */
    pausedUntil: timestamptz("paused_until"),
    /** The server's reply or the TLS/auth error behind the pause (no secrets). */
    pauseDetail: text("pause_detail"),
    /** Tracking defaults for submissions that do not say (`tracking` in `POST /v1/messages`). */
    trackOpens: boolean("track_opens").notNull().default(false),
    trackClicks: boolean("track_clicks").notNull().default(false),
    /** Same two modes as SMTP; IMAP's usual is TLS from the first byte (993). */
    imapTlsMode: mailboxTlsMode("imap_tls_mode").notNull().default("implicit"),
    sentCopy: sentCopyMode("sent_copy").notNull().default("auto"),
    /** Used when no folder carries the `\Sent` special-use flag. */
    sentFolder: text("sent_folder"),
    /** The bounce reader watches this mailbox's INBOX (and Junk) when true. */
    bounceReading: boolean("bounce_reading").notNull().default(false),
    ...auditTimestamps,
  },
  () => [
    check(
      "mailboxes_sent_folder_not_blank",
      sql`"sent_folder" IS NULL OR btrim("sent_folder") <> ''`,
    ),
    check(
      "mailboxes_smtp_max_connections_range",
      sql`"smtp_max_connections" BETWEEN ${sql.raw(String(MAILBOX_LIMITS.smtpMaxConnections.min))} AND ${sql.raw(String(MAILBOX_LIMITS.smtpMaxConnections.max))}`,
    ),
    check(
      "mailboxes_pause_reason_known",
      sql`"pause_reason" IS NULL OR "pause_reason" IN (${sqlList(MAILBOX_PAUSE_REASONS)})`,
    ),
    check(
      "mailboxes_pause_fields_together",
      sql`("pause_reason" IS NULL) = ("paused_at" IS NULL) AND ("pause_reason" IS NOT NULL OR ("paused_until" IS NULL AND "pause_detail" IS NULL))`,
    ),
    check(
      "mailboxes_pause_until_only_when_timed",
      sql`"pause_reason" IS NULL OR ("paused_until" IS NULL) = ("pause_reason" IN (${sqlList(OPERATOR_PAUSE_REASONS)}))`,
    ),
    // The claim reads the (usually empty) set of paused mailboxes once per call.
    index("mailboxes_paused_idx")
      .on(sql`"id"`)
      .where(sql`"pause_reason" IS NOT NULL`),
    uniqueIndex("mailboxes_email_lower_key").using("btree", sql`lower("email")`),
    check("mailboxes_email_not_blank", sql`btrim("email") <> ''`),
    check("mailboxes_imap_host_not_blank", sql`btrim("imap_host") <> ''`),
    check("mailboxes_smtp_host_not_blank", sql`btrim("smtp_host") <> ''`),
    // Length caps (RFC 5321 path, RFC 1035 name, a generous username), so no writer can store
    // an oversized value and none overflows the lower(email) index.
    check("mailboxes_email_length", atMost("email", MAILBOX_LIMITS.email)),
    check("mailboxes_imap_host_length", atMost("imap_host", MAILBOX_LIMITS.host)),
    check("mailboxes_smtp_host_length", atMost("smtp_host", MAILBOX_LIMITS.host)),
    check("mailboxes_imap_username_length", atMost("imap_username", MAILBOX_LIMITS.username)),
    check("mailboxes_smtp_username_length", atMost("smtp_username", MAILBOX_LIMITS.username)),
    check("mailboxes_sent_folder_length", atMost("sent_folder", MAILBOX_LIMITS.folder)),
    check("mailboxes_imap_port_range", sql`"imap_port" BETWEEN 1 AND 65535`),
    check("mailboxes_smtp_port_range", sql`"smtp_port" BETWEEN 1 AND 65535`),
  ],
);

/**
 * One row per submission (`POST /v1/messages`): what was submitted, by which mailbox, under
 * which `Message-ID`. Its recipients are `outbound_messages` rows; its bytes are in
 * `message_bodies`. Ids are generated by the submitter so a whole submission (and the response
 * an idempotency key replays) is known before the one statement that stores it.
 */
export const messages = pgTable(
  "messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** ON DELETE RESTRICT: `mailboxes:delete` removes finished messages itself. */
    mailboxId: uuid("mailbox_id")
      .notNull()
      .references(() => mailboxes.id, { onDelete: "restrict", onUpdate: "cascade" }),
    /** The `Message-ID` header with its angle brackets, `<uuid@mailbox-domain>`; bounces match on it. */
    messageIdHeader: text("message_id_header").notNull(),
    /** MAIL FROM: the mailbox's address when the message was composed (it may change later). */
    envelopeFrom: text("envelope_from").notNull(),
    subject: text("subject").notNull(),
    /** Whether this submission's recipients get tracked bodies (`recipient_bodies`). */
    trackOpens: boolean("track_opens").notNull().default(false),
    trackClicks: boolean("track_clicks").notNull().default(false),
    sentCopyState: sentCopyState("sent_copy_state"),
    sentCopyAttempts: integer("sent_copy_attempts").notNull().default(0),
    /** When a `pending` copy is due again after a failed attempt; null = now. */
    sentCopyNextAttemptAt: timestamptz("sent_copy_next_attempt_at"),
    /** Lease start while `copying`; a stale one is recovered to `pending`. */
    sentCopyStartedAt: timestamptz("sent_copy_started_at"),
    sentCopyFolder: text("sent_copy_folder"),
    /** The copy's UID and the folder's UIDVALIDITY: together they name it on the server. */
    sentCopyUid: bigint("sent_copy_uid", { mode: "number" }),
    sentCopyUidValidity: bigint("sent_copy_uid_validity", { mode: "number" }),
    /** The last failure, one line, no secrets. */
    sentCopyError: text("sent_copy_error"),
    ...auditTimestamps,
  },
  (t) => [
    check(
      "messages_sent_copy_lease_iff_copying",
      sql`coalesce("sent_copy_state" = 'copying', false) = ("sent_copy_started_at" IS NOT NULL)`,
    ),
    check(
      "messages_sent_copy_copied_has_uid",
      sql`coalesce("sent_copy_state" = 'copied', false) = ("sent_copy_uid" IS NOT NULL AND "sent_copy_uid_validity" IS NOT NULL AND "sent_copy_folder" IS NOT NULL)`,
    ),
    check(
      "messages_sent_copy_retry_only_when_pending",
      sql`"sent_copy_next_attempt_at" IS NULL OR "sent_copy_state" = 'pending'`,
    ),
    check("messages_sent_copy_attempts_non_negative", sql`"sent_copy_attempts" >= 0`),
    check("messages_sent_copy_error_bounded", sql`char_length("sent_copy_error") <= 500`),
    // The copier's claim: due copies in order, an ordered index scan.
    index("messages_sent_copy_due_idx")
      .using("btree", sql`coalesce("sent_copy_next_attempt_at", "created_at")`, sql`"id"`)
      .where(sql`"sent_copy_state" = 'pending'`),
    uniqueIndex("messages_message_id_header_key").on(t.messageIdHeader),
    // Target of the (message_id, mailbox_id) foreign keys: a recipient row or an idempotency
    // key can only belong to its own mailbox's message.
    unique("messages_id_mailbox_id_key").on(t.id, t.mailboxId),
    // GET /v1/messages: newest first per mailbox, keyset on (created_at, id).
    index("messages_mailbox_created_idx").on(t.mailboxId, t.createdAt, t.id),
    check(
      "messages_message_id_header_shape",
      sql`"message_id_header" ~ '^<[^<>@[:space:]]+@[^<>@[:space:]]+>$'`,
    ),
    check("messages_envelope_from_not_blank", sql`btrim("envelope_from") <> ''`),
    check("messages_envelope_from_length", atMost("envelope_from", MAILBOX_LIMITS.email)),
    // RFC 5322's line limit, and one line: a CR or LF would inject headers.
    check(
      "messages_subject_one_line",
      sql`char_length("subject") <= 998 AND strpos("subject", chr(13)) = 0 AND strpos("subject", chr(10)) = 0`,
    ),
  ],
);

/**
 * The composed RFC 5322 message, stored once and uncompressed: every attempt sends exactly these
 * bytes. Kept apart from `messages` so listing and status reads never touch the large column.
 */
export const messageBodies = pgTable(
  "message_bodies",
  {
    messageId: uuid("message_id")
      .primaryKey()
      .references(() => messages.id, { onDelete: "cascade", onUpdate: "cascade" }),
    raw: bytes("raw").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    /** SHA-256 of the canonical submitted request; an idempotency key replays only on a match. */
    requestSha256: bytes("request_sha256").notNull(),
  },
  () => [
    check("message_bodies_size_matches", sql`"size_bytes" = octet_length("raw")`),
    check("message_bodies_not_empty", sql`"size_bytes" > 0`),
    check("message_bodies_request_sha256_length", sql`octet_length("request_sha256") = 32`),
  ],
);

/**
 * `Idempotency-Key`s per mailbox and the response they replay byte for byte. Only successful
 * submissions store a key (errors write nothing), so every key names its message; the request
 * hash it is compared with is the message body's `request_sha256`. Kept at least 24 h, then pruned.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    mailboxId: uuid("mailbox_id")
      .notNull()
      .references(() => mailboxes.id, { onDelete: "cascade", onUpdate: "cascade" }),
    key: text("key").notNull(),
    messageId: uuid("message_id").notNull(),
    responseStatus: integer("response_status").notNull(),
    /** The response body exactly as first sent. */
    responseBody: text("response_body").notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "idempotency_keys_pkey", columns: [t.mailboxId, t.key] }),
    foreignKey({
      name: "idempotency_keys_message_fk",
      columns: [t.messageId, t.mailboxId],
      foreignColumns: [messages.id, messages.mailboxId],
    })
      .onDelete("cascade")
      .onUpdate("cascade"),
    index("idempotency_keys_created_at_idx").on(t.createdAt),
    // 1–255 printable ASCII characters (the API's rule, held for every writer).
    check("idempotency_keys_key_shape", sql`"key" ~ '^[ -~]{1,255}$'`),
    check("idempotency_keys_response_status_range", sql`"response_status" BETWEEN 200 AND 599`),
  ],
);

export const outboundMessages = pgTable(
  "outbound_messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /**
     * ON DELETE RESTRICT: the database never drops mail on its own. `mailboxes:delete` deletes
     * finished records only, and this key refuses the mailbox while anything else remains.
     */
    mailboxId: uuid("mailbox_id")
      .notNull()
      .references(() => mailboxes.id, { onDelete: "restrict", onUpdate: "cascade" }),
    /**
     * The submission this recipient belongs to (one row per envelope recipient). Null only for
     * rows enqueued without a message (the queue's own tests and legacy rows).
     */
    messageId: uuid("message_id"),
    recipientEmail: text("recipient_email").notNull(),
    subject: text("subject").notNull(),
    status: outboundMessageStatus("status").notNull().default("queued"),
    attempts: integer("attempts").notNull().default(0),
    /** When a `queued` row becomes due again after a failure; null = due now. */
    nextRetryAt: timestamptz("next_retry_at"),
    /** When the current attempt was claimed: set while `processing`, cleared when the row leaves it. */
    processingStartedAt: timestamptz("processing_started_at"),
    /**
     * When the lease holder last took or renewed its lease (set while `processing`). A live
     * worker renews at least every leaseMs / 3; recovery takes only rows not renewed for longer
     * than leaseMs.
     */
    leaseRenewedAt: timestamptz("lease_renewed_at"),
    sentAt: timestamptz("sent_at"),
    openedAt: timestamptz("opened_at"),
    clickedAt: timestamptz("clicked_at"),
    /** Append-only, one line per failed attempt; never holds a secret. */
    errorLog: text("error_log"),
    /** Set by the caller to make enqueueing safe to repeat; unique per mailbox. */
    idempotencyKey: text("idempotency_key"),
    /** Who holds the lease while `processing`; with `attempts` it fences late finishers. */
    leaseOwner: text("lease_owner"),
    /**
     * Set, durably, before the message body may go out (after the envelope, before the first
     * byte of content). A row found `processing` with it set may have been delivered: recovery
     * ends it `failed` with `outcome_unknown` instead of sending it again.
     */
    dataStartedAt: timestamptz("data_started_at"),
    /** Stable code of the last failure or pause (`outcome_unknown`, `recipient_rejected`, …). */
    errorCode: text("error_code"),
    /** The server's last relevant reply: the final reply when sent (its queue id), else the refusal. */
    smtpReplyCode: integer("smtp_reply_code"),
    /** RFC 3463 enhanced status from that reply, e.g. `5.1.1`. */
    smtpEnhancedStatus: text("smtp_enhanced_status"),
    smtpReply: text("smtp_reply"),
    ...auditTimestamps,
  },
  (t) => [
    foreignKey({
      name: "outbound_messages_message_fk",
      columns: [t.messageId, t.mailboxId],
      foreignColumns: [messages.id, messages.mailboxId],
    })
      .onDelete("restrict")
      .onUpdate("cascade"),
    // Each envelope recipient once per message, whatever its case.
    uniqueIndex("outbound_messages_message_recipient_key")
      .on(t.messageId, sql`lower("recipient_email")`)
      .where(sql`"message_id" IS NOT NULL`),
    check("outbound_messages_attempts_non_negative", sql`"attempts" >= 0`),
    check(
      "outbound_messages_recipient_email_length",
      atMost("recipient_email", MAILBOX_LIMITS.email),
    ),
    check("outbound_messages_subject_length", sql`char_length("subject") <= 998`),
    check("outbound_messages_idempotency_key_length", sql`char_length("idempotency_key") <= 255`),
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
      .on(sql`"lease_renewed_at"`)
      .where(sql`"status" = 'processing'`),
    // No index on mailbox_id alone: every claim and finish writes an entry into each index whose
    // predicate the row meets, and this one held every row: a fifth of the queue's server time
    // (migration 0012). outbound_messages_message_recipient_key still holds every row that has a
    // message (all submitted mail): its uniqueness needs it. Only operator commands look rows up
    // by mailbox (delete, its RESTRICT check, retry by mailbox); they read the table once instead.
    uniqueIndex("outbound_messages_idempotency_key")
      .on(sql`"mailbox_id"`, sql`"idempotency_key"`)
      .where(sql`"idempotency_key" IS NOT NULL`),
    check("outbound_messages_error_code_shape", sql`"error_code" ~ '^[a-z][a-z0-9_]{0,63}$'`),
    check("outbound_messages_smtp_reply_code_range", sql`"smtp_reply_code" BETWEEN 200 AND 599`),
    check(
      "outbound_messages_smtp_enhanced_status_shape",
      sql`"smtp_enhanced_status" ~ '^[245][.][0-9]{1,3}[.][0-9]{1,3}$'`,
    ),
    check("outbound_messages_smtp_reply_bounded", sql`char_length("smtp_reply") <= 1000`),
    // A queued row has never started DATA in its current life: the ones that may have been
    // delivered are failed (outcome_unknown) and only an operator's retry queues them again.
    check(
      "outbound_messages_data_started_not_queued",
      sql`"status" <> 'queued' OR "data_started_at" IS NULL`,
    ),
    check(
      "outbound_messages_outcome_unknown_is_failed",
      sql`"error_code" IS DISTINCT FROM 'outcome_unknown' OR ("status" = 'failed' AND "data_started_at" IS NOT NULL)`,
    ),
    check(
      "outbound_messages_lease_owner_iff_processing",
      sql`("status" = 'processing') = ("lease_owner" IS NOT NULL)`,
    ),
    check(
      "outbound_messages_lease_renewed_iff_processing",
      sql`("status" = 'processing') = ("lease_renewed_at" IS NOT NULL)`,
    ),
  ],
);

/*
 * Open and click tracking. A tracked message keeps its untracked original in `message_bodies`
 * (the Sent copy uses it); each recipient gets its own tracked variant in `recipient_bodies`,
 * composed once at submit, because its tokens name that recipient. The sender sends
 *   coalesce(recipient_bodies.raw, message_bodies.raw)
 * for an outbound_messages row, so every retry sends exactly the same bytes either way.
 */

/**
 * The bytes one recipient is sent when they differ from the message's (tracked messages only).
 * Written once with the recipient row, never changed (trigger), gone with the row.
 */
export const recipientBodies = pgTable(
  "recipient_bodies",
  {
    outboundMessageId: uuid("outbound_message_id")
      .primaryKey()
      .references(() => outboundMessages.id, { onDelete: "cascade", onUpdate: "cascade" }),
    raw: bytes("raw").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
  },
  () => [
    check("recipient_bodies_size_matches", sql`"size_bytes" = octet_length("raw")`),
    check("recipient_bodies_not_empty", sql`"size_bytes" > 0`),
  ],
);

/**
 * A tracked message's links in document order; a click token carries the position. The
 * redirect goes only to the URL stored here, never to one taken from the request.
 */
export const trackingLinks = pgTable(
  "tracking_links",
  {
    messageId: uuid("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade", onUpdate: "cascade" }),
    position: integer("position").notNull(),
    url: text("url").notNull(),
  },
  (t) => [
    primaryKey({ name: "tracking_links_pkey", columns: [t.messageId, t.position] }),
    check("tracking_links_position_range", sql`"position" BETWEEN 0 AND 65535`),
    check("tracking_links_url_http", sql`"url" ~ '^https?://[^[:space:][:cntrl:]]+$'`),
  ],
);

export const trackingEventKind = pgEnum("tracking_event_kind", ["open", "click"]);
export type TrackingEventKind = (typeof trackingEventKind.enumValues)[number];
export const TRACKING_EVENT_KINDS = trackingEventKind.enumValues;

/** `@imap-proxy/tracking`'s labels; only `human` and `proxy` events set opened_at / clicked_at. */
export const trackingEventLabel = pgEnum("tracking_event_label", ["human", "bot", "proxy"]);
export type TrackingEventLabel = (typeof trackingEventLabel.enumValues)[number];
export const TRACKING_EVENT_LABELS = trackingEventLabel.enumValues;

/** Every hit on a valid token, bots included (they are labelled, never dropped). */
export const trackingEvents = pgTable(
  "tracking_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    outboundMessageId: uuid("outbound_message_id")
      .notNull()
      .references(() => outboundMessages.id, { onDelete: "cascade", onUpdate: "cascade" }),
    kind: trackingEventKind("kind").notNull(),
    /** The clicked link's position in `tracking_links`; null for opens. */
    linkPosition: integer("link_position"),
    occurredAt: timestamptz("occurred_at").notNull().defaultNow(),
    userAgent: text("user_agent"),
    /** The client's network only (IPv4 /24, IPv6 /48), never its full address. */
    ipPrefix: cidr("ip_prefix"),
    label: trackingEventLabel("label").notNull(),
  },
  (t) => [
    index("tracking_events_recipient_idx").on(t.outboundMessageId, t.occurredAt, t.id),
    check(
      "tracking_events_link_iff_click",
      sql`("kind" = 'click') = ("link_position" IS NOT NULL)`,
    ),
    check("tracking_events_user_agent_length", sql`char_length("user_agent") <= 512`),
    check(
      "tracking_events_ip_prefix_is_network",
      sql`"ip_prefix" IS NULL OR masklen("ip_prefix") = CASE family("ip_prefix") WHEN 4 THEN 24 ELSE 48 END`,
    ),
  ],
);

export type Mailbox = typeof mailboxes.$inferSelect;
export type Message = typeof messages.$inferSelect;
export type MessageBody = typeof messageBodies.$inferSelect;
export type IdempotencyKey = typeof idempotencyKeys.$inferSelect;
export type RecipientBody = typeof recipientBodies.$inferSelect;
export type TrackingLink = typeof trackingLinks.$inferSelect;
export type TrackingEvent = typeof trackingEvents.$inferSelect;

/**
 * Where the bounce reader got to, per mailbox and folder: UIDs at or below `last_uid` were read.
 * A new UIDVALIDITY means the folder was rebuilt and is read again from the start (recording is
 * idempotent, so nothing is counted twice).
 */
export const imapCheckpoints = pgTable(
  "imap_checkpoints",
  {
    mailboxId: uuid("mailbox_id")
      .notNull()
      .references(() => mailboxes.id, { onDelete: "cascade", onUpdate: "cascade" }),
    folder: text("folder").notNull(),
    uidValidity: bigint("uid_validity", { mode: "number" }).notNull(),
    lastUid: bigint("last_uid", { mode: "number" }).notNull(),
    ...auditTimestamps,
  },
  (t) => [
    primaryKey({ name: "imap_checkpoints_pkey", columns: [t.mailboxId, t.folder] }),
    check("imap_checkpoints_uids_non_negative", sql`"uid_validity" > 0 AND "last_uid" >= 0`),
  ],
);

/**
 * What a DSN or ARF report said about one recipient row, as read from the mailbox. The report's
 * place (folder, UIDVALIDITY, UID) makes recording idempotent when a folder is read again.
 */
export const deliveryReports = pgTable(
  "delivery_reports",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Reports belong to their recipient row; `mailboxes:delete` removes both. */
    outboundMessageId: uuid("outbound_message_id")
      .notNull()
      .references(() => outboundMessages.id, { onDelete: "cascade", onUpdate: "cascade" }),
    kind: deliveryReportKind("kind").notNull(),
    /** RFC 3464 Action (`failed`, `delayed`) or the ARF Feedback-Type (`abuse`, ...). */
    action: text("action").notNull(),
    /** RFC 3463 enhanced status, e.g. `5.1.1` (none for complaints). */
    status: text("status"),
    /** The remote server's words, e.g. `550 5.1.1 user unknown` (bounded, one line). */
    diagnosticCode: text("diagnostic_code"),
    reportingMta: text("reporting_mta"),
    remoteMta: text("remote_mta"),
    folder: text("folder").notNull(),
    uidValidity: bigint("uid_validity", { mode: "number" }).notNull(),
    uid: bigint("uid", { mode: "number" }).notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("delivery_reports_source_key").on(
      t.outboundMessageId,
      t.folder,
      t.uidValidity,
      t.uid,
    ),
    check(
      "delivery_reports_status_shape",
      sql`"status" IS NULL OR "status" ~ '^[245][.][0-9]{1,3}[.][0-9]{1,3}$'`,
    ),
    check("delivery_reports_diagnostic_bounded", sql`char_length("diagnostic_code") <= 1000`),
    check("delivery_reports_bounce_is_permanent", sql`"kind" <> 'bounce' OR "status" LIKE '5.%'`),
  ],
);

export type ImapCheckpoint = typeof imapCheckpoints.$inferSelect;
export type DeliveryReport = typeof deliveryReports.$inferSelect;
