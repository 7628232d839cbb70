CREATE TYPE "public"."tracking_event_kind" AS ENUM('open', 'click');--> statement-breakpoint
CREATE TYPE "public"."tracking_event_label" AS ENUM('human', 'bot', 'proxy');--> statement-breakpoint
CREATE TABLE "recipient_bodies" (
	"outbound_message_id" uuid PRIMARY KEY NOT NULL,
	"raw" "bytea" NOT NULL,
	"size_bytes" integer NOT NULL,
	CONSTRAINT "recipient_bodies_size_matches" CHECK ("size_bytes" = octet_length("raw")),
	CONSTRAINT "recipient_bodies_not_empty" CHECK ("size_bytes" > 0)
);
--> statement-breakpoint
CREATE TABLE "tracking_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "tracking_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"outbound_message_id" uuid NOT NULL,
	"kind" "tracking_event_kind" NOT NULL,
	"link_position" integer,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"user_agent" text,
	"ip_prefix" "cidr",
	"label" "tracking_event_label" NOT NULL,
	CONSTRAINT "tracking_events_link_iff_click" CHECK (("kind" = 'click') = ("link_position" IS NOT NULL)),
	CONSTRAINT "tracking_events_user_agent_length" CHECK (char_length("user_agent") <= 512),
	CONSTRAINT "tracking_events_ip_prefix_is_network" CHECK ("ip_prefix" IS NULL OR masklen("ip_prefix") = CASE family("ip_prefix") WHEN 4 THEN 24 ELSE 48 END)
);
--> statement-breakpoint
CREATE TABLE "tracking_links" (
	"message_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"url" text NOT NULL,
	CONSTRAINT "tracking_links_pkey" PRIMARY KEY("message_id","position"),
	CONSTRAINT "tracking_links_position_range" CHECK ("position" BETWEEN 0 AND 65535),
	CONSTRAINT "tracking_links_url_http" CHECK ("url" ~ '^https?://[^[:space:][:cntrl:]]+$')
);
--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "track_opens" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "track_clicks" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "track_opens" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "track_clicks" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "recipient_bodies" ADD CONSTRAINT "recipient_bodies_outbound_message_id_outbound_messages_id_fk" FOREIGN KEY ("outbound_message_id") REFERENCES "public"."outbound_messages"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "tracking_events" ADD CONSTRAINT "tracking_events_outbound_message_id_outbound_messages_id_fk" FOREIGN KEY ("outbound_message_id") REFERENCES "public"."outbound_messages"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "tracking_links" ADD CONSTRAINT "tracking_links_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
CREATE INDEX "tracking_events_recipient_idx" ON "tracking_events" USING btree ("outbound_message_id","occurred_at","id");--> statement-breakpoint
-- Written once, never changed: a recipient's bytes (every retry sends them), a message's links
-- (the only redirect targets) and the events (a record of what happened).
CREATE OR REPLACE FUNCTION "imap_proxy_refuse_update"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%: a stored row is never changed', TG_TABLE_NAME
    USING ERRCODE = 'check_violation', CONSTRAINT = TG_ARGV[0];
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "recipient_bodies_immutable" BEFORE UPDATE ON "recipient_bodies"
  FOR EACH ROW EXECUTE FUNCTION "imap_proxy_refuse_update"('recipient_bodies_immutable');
--> statement-breakpoint
CREATE TRIGGER "tracking_links_immutable" BEFORE UPDATE ON "tracking_links"
  FOR EACH ROW EXECUTE FUNCTION "imap_proxy_refuse_update"('tracking_links_immutable');
--> statement-breakpoint
CREATE TRIGGER "tracking_events_immutable" BEFORE UPDATE ON "tracking_events"
  FOR EACH ROW EXECUTE FUNCTION "imap_proxy_refuse_update"('tracking_events_immutable');
