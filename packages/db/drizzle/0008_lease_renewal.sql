DROP INDEX "outbound_messages_stale_idx";--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "lease_renewed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "outbound_messages_stale_idx" ON "outbound_messages" USING btree ("lease_renewed_at") WHERE "status" = 'processing';--> statement-breakpoint
-- Leases held while this migration runs count as renewed when they were taken.
UPDATE "outbound_messages" SET "lease_renewed_at" = "processing_started_at" WHERE "status" = 'processing';--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_lease_renewed_iff_processing" CHECK (("status" = 'processing') = ("lease_renewed_at" IS NOT NULL));