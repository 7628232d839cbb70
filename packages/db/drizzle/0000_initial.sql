CREATE TYPE "public"."mailbox_tls_mode" AS ENUM('implicit', 'starttls_required');--> statement-breakpoint
CREATE TYPE "public"."outbound_message_status" AS ENUM('queued', 'processing', 'sent', 'failed', 'bounced');--> statement-breakpoint
CREATE TABLE "mailboxes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"imap_host" text NOT NULL,
	"imap_port" integer DEFAULT 993 NOT NULL,
	"imap_username" text NOT NULL,
	"imap_password_encrypted" "bytea" NOT NULL,
	"smtp_host" text NOT NULL,
	"smtp_port" integer DEFAULT 587 NOT NULL,
	"smtp_username" text NOT NULL,
	"smtp_password_encrypted" "bytea" NOT NULL,
	"smtp_tls_mode" "mailbox_tls_mode" DEFAULT 'starttls_required' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mailboxes_email_not_blank" CHECK (btrim("email") <> ''),
	CONSTRAINT "mailboxes_imap_host_not_blank" CHECK (btrim("imap_host") <> ''),
	CONSTRAINT "mailboxes_smtp_host_not_blank" CHECK (btrim("smtp_host") <> ''),
	CONSTRAINT "mailboxes_imap_port_range" CHECK ("imap_port" BETWEEN 1 AND 65535),
	CONSTRAINT "mailboxes_smtp_port_range" CHECK ("smtp_port" BETWEEN 1 AND 65535)
);
--> statement-breakpoint
CREATE TABLE "outbound_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"mailbox_id" uuid NOT NULL,
	"recipient_email" text NOT NULL,
	"subject" text NOT NULL,
	"status" "outbound_message_status" DEFAULT 'queued' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_retry_at" timestamp with time zone,
	"processing_started_at" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"opened_at" timestamp with time zone,
	"clicked_at" timestamp with time zone,
	"error_log" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "outbound_messages_attempts_non_negative" CHECK ("attempts" >= 0),
	CONSTRAINT "outbound_messages_lease_iff_processing" CHECK (("status" = 'processing') = ("processing_started_at" IS NOT NULL)),
	CONSTRAINT "outbound_messages_attempted_when_processing_or_sent" CHECK ("status" NOT IN ('processing', 'sent') OR "attempts" >= 1),
	CONSTRAINT "outbound_messages_sent_has_sent_at" CHECK ("status" <> 'sent' OR "sent_at" IS NOT NULL),
	CONSTRAINT "outbound_messages_sent_at_only_when_delivered" CHECK ("sent_at" IS NULL OR "status" IN ('sent', 'bounced')),
	CONSTRAINT "outbound_messages_retry_only_when_queued" CHECK ("next_retry_at" IS NULL OR "status" = 'queued'),
	CONSTRAINT "outbound_messages_tracking_after_sent" CHECK (("opened_at" IS NULL AND "clicked_at" IS NULL) OR "sent_at" IS NOT NULL)
);
--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE restrict ON UPDATE cascade;--> statement-breakpoint
CREATE UNIQUE INDEX "mailboxes_email_lower_key" ON "mailboxes" USING btree (lower("email"));--> statement-breakpoint
CREATE INDEX "outbound_messages_due_idx" ON "outbound_messages" USING btree (coalesce("next_retry_at", "created_at"),"id") WHERE "status" = 'queued';--> statement-breakpoint
CREATE INDEX "outbound_messages_stale_idx" ON "outbound_messages" USING btree ("processing_started_at") WHERE "status" = 'processing';--> statement-breakpoint
CREATE INDEX "outbound_messages_mailbox_id_idx" ON "outbound_messages" USING btree ("mailbox_id");