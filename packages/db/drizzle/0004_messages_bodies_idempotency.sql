CREATE TABLE "idempotency_keys" (
	"mailbox_id" uuid NOT NULL,
	"key" text NOT NULL,
	"message_id" uuid NOT NULL,
	"response_status" integer NOT NULL,
	"response_body" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY("mailbox_id","key"),
	CONSTRAINT "idempotency_keys_key_shape" CHECK ("key" ~ '^[ -~]{1,255}$'),
	CONSTRAINT "idempotency_keys_response_status_range" CHECK ("response_status" BETWEEN 200 AND 599)
);
--> statement-breakpoint
CREATE TABLE "message_bodies" (
	"message_id" uuid PRIMARY KEY NOT NULL,
	"raw" "bytea" NOT NULL,
	"size_bytes" integer NOT NULL,
	"request_sha256" "bytea" NOT NULL,
	CONSTRAINT "message_bodies_size_matches" CHECK ("size_bytes" = octet_length("raw")),
	CONSTRAINT "message_bodies_not_empty" CHECK ("size_bytes" > 0),
	CONSTRAINT "message_bodies_request_sha256_length" CHECK (octet_length("request_sha256") = 32)
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"mailbox_id" uuid NOT NULL,
	"message_id_header" text NOT NULL,
	"envelope_from" text NOT NULL,
	"subject" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "messages_id_mailbox_id_key" UNIQUE("id","mailbox_id"),
	CONSTRAINT "messages_message_id_header_shape" CHECK ("message_id_header" ~ '^<[^<>@[:space:]]+@[^<>@[:space:]]+>$'),
	CONSTRAINT "messages_envelope_from_not_blank" CHECK (btrim("envelope_from") <> ''),
	CONSTRAINT "messages_subject_one_line" CHECK (char_length("subject") <= 998 AND strpos("subject", chr(13)) = 0 AND strpos("subject", chr(10)) = 0)
);
--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "message_id" uuid;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_message_fk" FOREIGN KEY ("message_id","mailbox_id") REFERENCES "public"."messages"("id","mailbox_id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "message_bodies" ADD CONSTRAINT "message_bodies_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE restrict ON UPDATE cascade;--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_message_id_header_key" ON "messages" USING btree ("message_id_header");--> statement-breakpoint
CREATE INDEX "messages_mailbox_created_idx" ON "messages" USING btree ("mailbox_id","created_at","id");--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_message_fk" FOREIGN KEY ("message_id","mailbox_id") REFERENCES "public"."messages"("id","mailbox_id") ON DELETE restrict ON UPDATE cascade;--> statement-breakpoint
CREATE UNIQUE INDEX "outbound_messages_message_recipient_key" ON "outbound_messages" USING btree ("message_id",lower("recipient_email")) WHERE "message_id" IS NOT NULL;--> statement-breakpoint
CREATE TRIGGER "messages_set_updated_at" BEFORE UPDATE ON "messages"
  FOR EACH ROW EXECUTE FUNCTION "imap_proxy_set_updated_at"();
--> statement-breakpoint
-- Every attempt sends exactly the stored bytes: a body is written once and never changed.
CREATE OR REPLACE FUNCTION "message_bodies_refuse_update"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'message %: a stored body is never changed', OLD."message_id"
    USING ERRCODE = 'check_violation', CONSTRAINT = 'message_bodies_immutable';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "message_bodies_immutable" BEFORE UPDATE ON "message_bodies"
  FOR EACH ROW EXECUTE FUNCTION "message_bodies_refuse_update"();
