CREATE TYPE "public"."delivery_report_kind" AS ENUM('bounce', 'soft_bounce', 'delay', 'complaint');--> statement-breakpoint
CREATE TYPE "public"."sent_copy_mode" AS ENUM('auto', 'on', 'off');--> statement-breakpoint
CREATE TYPE "public"."sent_copy_state" AS ENUM('pending', 'copying', 'copied', 'skipped', 'failed');--> statement-breakpoint
CREATE TABLE "delivery_reports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"outbound_message_id" uuid NOT NULL,
	"kind" "delivery_report_kind" NOT NULL,
	"action" text NOT NULL,
	"status" text,
	"diagnostic_code" text,
	"reporting_mta" text,
	"remote_mta" text,
	"folder" text NOT NULL,
	"uid_validity" bigint NOT NULL,
	"uid" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "delivery_reports_status_shape" CHECK ("status" IS NULL OR "status" ~ '^[245][.][0-9]{1,3}[.][0-9]{1,3}$'),
	CONSTRAINT "delivery_reports_diagnostic_bounded" CHECK (char_length("diagnostic_code") <= 1000),
	CONSTRAINT "delivery_reports_bounce_is_permanent" CHECK ("kind" <> 'bounce' OR "status" LIKE '5.%')
);
--> statement-breakpoint
CREATE TABLE "imap_checkpoints" (
	"mailbox_id" uuid NOT NULL,
	"folder" text NOT NULL,
	"uid_validity" bigint NOT NULL,
	"last_uid" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "imap_checkpoints_pkey" PRIMARY KEY("mailbox_id","folder"),
	CONSTRAINT "imap_checkpoints_uids_non_negative" CHECK ("uid_validity" > 0 AND "last_uid" >= 0)
);
--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "imap_tls_mode" "mailbox_tls_mode" DEFAULT 'implicit' NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "sent_copy" "sent_copy_mode" DEFAULT 'auto' NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "sent_folder" text;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "bounce_reading" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_copy_state" "sent_copy_state";--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_copy_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_copy_next_attempt_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_copy_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_copy_folder" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_copy_uid" bigint;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_copy_uid_validity" bigint;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sent_copy_error" text;--> statement-breakpoint
ALTER TABLE "delivery_reports" ADD CONSTRAINT "delivery_reports_outbound_message_id_outbound_messages_id_fk" FOREIGN KEY ("outbound_message_id") REFERENCES "public"."outbound_messages"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "imap_checkpoints" ADD CONSTRAINT "imap_checkpoints_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
CREATE UNIQUE INDEX "delivery_reports_source_key" ON "delivery_reports" USING btree ("outbound_message_id","folder","uid_validity","uid");--> statement-breakpoint
CREATE INDEX "messages_sent_copy_due_idx" ON "messages" USING btree (coalesce("sent_copy_next_attempt_at", "created_at"),"id") WHERE "sent_copy_state" = 'pending';--> statement-breakpoint
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_sent_folder_not_blank" CHECK ("sent_folder" IS NULL OR btrim("sent_folder") <> '');--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sent_copy_lease_iff_copying" CHECK (coalesce("sent_copy_state" = 'copying', false) = ("sent_copy_started_at" IS NOT NULL));--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sent_copy_copied_has_uid" CHECK (coalesce("sent_copy_state" = 'copied', false) = ("sent_copy_uid" IS NOT NULL AND "sent_copy_uid_validity" IS NOT NULL AND "sent_copy_folder" IS NOT NULL));--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sent_copy_retry_only_when_pending" CHECK ("sent_copy_next_attempt_at" IS NULL OR "sent_copy_state" = 'pending');--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sent_copy_attempts_non_negative" CHECK ("sent_copy_attempts" >= 0);--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sent_copy_error_bounded" CHECK (char_length("sent_copy_error") <= 500);--> statement-breakpoint
CREATE TRIGGER "imap_checkpoints_set_updated_at" BEFORE UPDATE ON "imap_checkpoints"
  FOR EACH ROW EXECUTE FUNCTION "imap_proxy_set_updated_at"();
--> statement-breakpoint
-- A message's Sent copy becomes due when its first recipient is sent, whoever wrote the row.
CREATE OR REPLACE FUNCTION "outbound_messages_sent_copy_due"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "messages" SET "sent_copy_state" = 'pending'
   WHERE "id" = NEW."message_id" AND "sent_copy_state" IS NULL;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "outbound_messages_sent_copy_due" AFTER UPDATE OF "status" ON "outbound_messages"
  FOR EACH ROW WHEN (NEW."status" = 'sent' AND OLD."status" IS DISTINCT FROM 'sent' AND NEW."message_id" IS NOT NULL)
  EXECUTE FUNCTION "outbound_messages_sent_copy_due"();
