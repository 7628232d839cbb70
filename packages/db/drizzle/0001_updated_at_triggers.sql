-- Keep updated_at true for every writer (drizzle, raw SQL, psql), not only the ORM.
CREATE OR REPLACE FUNCTION "imap_proxy_set_updated_at"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW."updated_at" := now();
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "mailboxes_set_updated_at" BEFORE UPDATE ON "mailboxes"
  FOR EACH ROW EXECUTE FUNCTION "imap_proxy_set_updated_at"();
--> statement-breakpoint
CREATE TRIGGER "outbound_messages_set_updated_at" BEFORE UPDATE ON "outbound_messages"
  FOR EACH ROW EXECUTE FUNCTION "imap_proxy_set_updated_at"();
--> statement-breakpoint
-- The queue table churns: vacuum it early so claims do not walk dead index entries.
ALTER TABLE "outbound_messages" SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 0
);
