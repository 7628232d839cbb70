-- The queue's state machine, enforced for every writer (not only the queue module):
--   queued → processing                       (claim)
--   processing → queued | sent | failed | bounced   (finish, retry, recover)
--   sent → bounced                            (a bounce reported after delivery)
--   failed → queued                           (an operator re-queues)
-- Staying in the same status is always allowed (tracking timestamps, error log).
CREATE OR REPLACE FUNCTION "outbound_messages_check_transition"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
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
CREATE TRIGGER "outbound_messages_status_transition" BEFORE UPDATE OF "status" ON "outbound_messages"
  FOR EACH ROW EXECUTE FUNCTION "outbound_messages_check_transition"();
