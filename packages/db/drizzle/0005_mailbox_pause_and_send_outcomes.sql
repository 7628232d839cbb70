ALTER TABLE "mailboxes" ADD COLUMN "smtp_max_connections" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "pause_reason" text;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "paused_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "paused_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "pause_detail" text;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "data_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "error_code" text;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "smtp_reply_code" integer;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "smtp_enhanced_status" text;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "smtp_reply" text;--> statement-breakpoint
CREATE INDEX "mailboxes_paused_idx" ON "mailboxes" USING btree ("id") WHERE "pause_reason" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_smtp_max_connections_range" CHECK ("smtp_max_connections" BETWEEN 1 AND 100);--> statement-breakpoint
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_pause_reason_known" CHECK ("pause_reason" IS NULL OR "pause_reason" IN ('tls_unavailable', 'tls_failed', 'auth_failed', 'auth_unavailable', 'rate_limited', 'too_many_connections', 'quota_exceeded'));--> statement-breakpoint
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_pause_fields_together" CHECK (("pause_reason" IS NULL) = ("paused_at" IS NULL) AND ("pause_reason" IS NOT NULL OR ("paused_until" IS NULL AND "pause_detail" IS NULL)));--> statement-breakpoint
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_pause_until_only_when_timed" CHECK ("pause_reason" IS NULL OR ("paused_until" IS NULL) = ("pause_reason" IN ('tls_unavailable', 'tls_failed', 'auth_failed', 'auth_unavailable')));--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_error_code_shape" CHECK ("error_code" ~ '^[a-z][a-z0-9_]{0,63}$');--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_smtp_reply_code_range" CHECK ("smtp_reply_code" BETWEEN 200 AND 599);--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_smtp_enhanced_status_shape" CHECK ("smtp_enhanced_status" ~ '^[245][.][0-9]{1,3}[.][0-9]{1,3}$');--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_smtp_reply_bounded" CHECK (char_length("smtp_reply") <= 1000);--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_data_started_not_queued" CHECK ("status" <> 'queued' OR "data_started_at" IS NULL);--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_outcome_unknown_is_failed" CHECK ("error_code" IS DISTINCT FROM 'outcome_unknown' OR ("status" = 'failed' AND "data_started_at" IS NOT NULL));