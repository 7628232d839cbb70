-- A message's Sent copy becomes due when its first recipient is sent, as before, but the
-- finish that records "sent" now says so in its own statement (queue/finish.ts). The row trigger
-- of 0007 ran an UPDATE of messages for every sent recipient, and each such statement read
-- messages' CHECK constraints again: measured, 28 % of the server's instructions per sent
-- message at 10 per claim (915k → 659k without it). 'sent' is written by the lease holder's
-- finish (markSent, markSentMany); a hand-written UPDATE to 'sent' no longer schedules a Sent
-- copy. Stop workers of an older version before applying this: one still sending afterwards
-- would leave its copies unscheduled.
DROP TRIGGER "outbound_messages_sent_copy_due" ON "outbound_messages";
--> statement-breakpoint
DROP FUNCTION "outbound_messages_sent_copy_due"();
