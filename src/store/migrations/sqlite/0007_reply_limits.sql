-- Automatic replies are limited per recipient domain and in all per hour:
-- the domain of each reply's recipient, and indexes for both counts.
-- recipient_key is now the normalised address (case, +tag, Gmail dots);
-- rows written before keep their lower-cased address.
ALTER TABLE outbox ADD COLUMN recipient_domain TEXT NOT NULL DEFAULT '';
UPDATE outbox SET recipient_domain = lower(trim(substr(to_address, instr(to_address, '@') + 1)));
CREATE INDEX outbox_by_recipient_domain ON outbox (recipient_domain, created_at) WHERE automatic = 1;
CREATE INDEX outbox_automatic_by_time ON outbox (created_at) WHERE automatic = 1;
