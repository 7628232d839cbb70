-- The state machine covers a row's birth too: every writer inserts `queued`, and a row reaches
-- any other status only through the transitions below (so a row can never start `sent`,
-- `failed` or `processing` without the history that leads there).
CREATE OR REPLACE FUNCTION "outbound_messages_check_transition"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW."status" = 'queued' THEN
      RETURN NEW;
    END IF;
    RAISE EXCEPTION 'outbound message %: a new row is queued, not %', NEW."id", NEW."status"
      USING ERRCODE = 'check_violation', CONSTRAINT = 'outbound_messages_born_queued';
  END IF;
  IF NEW."status" = OLD."status"
     OR (OLD."status" = 'queued' AND NEW."status" = 'processing')
     OR (OLD."status" = 'processing' AND NEW."status" IN ('queued', 'sent', 'failed', 'bounced'))
     OR (OLD."status" = 'sent' AND NEW."status" = 'bounced')
     OR (OLD."status" = 'failed' AND NEW."status" = 'queued') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'outbound message %: % → % is not a valid status change', OLD."id", OLD."status", NEW."status"
    USING ERRCODE = 'check_violation', CONSTRAINT = 'outbound_messages_status_transition';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "outbound_messages_status_birth" BEFORE INSERT ON "outbound_messages"
  FOR EACH ROW EXECUTE FUNCTION "outbound_messages_check_transition"();
