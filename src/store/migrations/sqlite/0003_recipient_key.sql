-- The per-sender reply limit looks replies up by recipient, case-insensitively:
-- a lower-cased copy with its own index (a NOCASE comparison cannot use the
-- plain index, and scanned the whole outbox for every message).
ALTER TABLE outbox ADD COLUMN recipient_key TEXT NOT NULL DEFAULT '';
UPDATE outbox SET recipient_key = lower(trim(to_address));
CREATE INDEX outbox_by_recipient_key ON outbox (recipient_key, created_at);
