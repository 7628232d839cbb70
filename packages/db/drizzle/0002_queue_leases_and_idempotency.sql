ALTER TABLE "outbound_messages" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "lease_owner" text;--> statement-breakpoint
CREATE UNIQUE INDEX "outbound_messages_idempotency_key" ON "outbound_messages" USING btree ("mailbox_id","idempotency_key") WHERE "idempotency_key" IS NOT NULL;--> statement-breakpoint
-- Rows already processing before this migration get a placeholder owner so the check holds;
-- recoverStale returns them to the queue once their lease is old.
UPDATE "outbound_messages" SET "lease_owner" = 'pre-lease-migration' WHERE "status" = 'processing';--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_lease_owner_iff_processing" CHECK (("status" = 'processing') = ("lease_owner" IS NOT NULL));