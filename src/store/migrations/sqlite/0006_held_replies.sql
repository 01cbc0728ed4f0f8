-- A reply in state 'held' waits for staff to send or discard it; this says
-- why it was held (the sender was not authenticated by the receiving
-- server, a per-domain or hourly limit was reached). NULL for other replies.
ALTER TABLE outbox ADD COLUMN held_reason TEXT;
