-- The queue's rules stay the same, but the rows that keep them no longer call a function.
-- Every row a claim or finish touched fired two PL/pgSQL functions (updated_at and the status
-- state machine): ~10 % of the server's time per claim-and-finish cycle. A trigger's
-- WHEN is evaluated by the executor itself: valid status changes and statements that stamp
-- updated_at = now() themselves (the queue's) pass without a call; anything else still reaches
-- the function, so every writer is held to the same rules as before.

-- Only a refused change reaches this function; what is allowed is the WHEN of the triggers.
CREATE OR REPLACE FUNCTION "outbound_messages_refuse_status"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    RAISE EXCEPTION 'outbound message %: a new row is queued, not %', NEW."id", NEW."status"
      USING ERRCODE = 'check_violation', CONSTRAINT = 'outbound_messages_born_queued';
  END IF;
  RAISE EXCEPTION 'outbound message %: % → % is not a valid status change', OLD."id", OLD."status", NEW."status"
    USING ERRCODE = 'check_violation', CONSTRAINT = 'outbound_messages_status_transition';
END;
$$;
--> statement-breakpoint
DROP TRIGGER "outbound_messages_status_birth" ON "outbound_messages";
--> statement-breakpoint
CREATE TRIGGER "outbound_messages_status_birth" BEFORE INSERT ON "outbound_messages"
  FOR EACH ROW WHEN (NEW."status" <> 'queued')
  EXECUTE FUNCTION "outbound_messages_refuse_status"();
--> statement-breakpoint
DROP TRIGGER "outbound_messages_status_transition" ON "outbound_messages";
--> statement-breakpoint
-- The state machine (as in 0003 and 0010): queued → processing → queued | sent | failed | bounced,
-- sent → bounced (a later DSN), failed → queued (an operator's retry).
CREATE TRIGGER "outbound_messages_status_transition" BEFORE UPDATE OF "status" ON "outbound_messages"
  FOR EACH ROW WHEN (NOT (
    NEW."status" = OLD."status"
    OR (OLD."status" = 'queued' AND NEW."status" = 'processing')
    OR (OLD."status" = 'processing' AND NEW."status" IN ('queued', 'sent', 'failed', 'bounced'))
    OR (OLD."status" = 'sent' AND NEW."status" = 'bounced')
    OR (OLD."status" = 'failed' AND NEW."status" = 'queued')))
  EXECUTE FUNCTION "outbound_messages_refuse_status"();
--> statement-breakpoint
DROP FUNCTION "outbound_messages_check_transition"();
--> statement-breakpoint
-- updated_at is still now() after every update: the function runs unless the statement set it so.
DROP TRIGGER "outbound_messages_set_updated_at" ON "outbound_messages";
--> statement-breakpoint
CREATE TRIGGER "outbound_messages_set_updated_at" BEFORE UPDATE ON "outbound_messages"
  FOR EACH ROW WHEN (NEW."updated_at" IS DISTINCT FROM now())
  EXECUTE FUNCTION "imap_proxy_set_updated_at"();
