-- The reply limits count the last hour's automatic replies for every new
-- offer, leaving out held and discarded ones. With `state` outside the
-- indexes each count read every reply of the hour from the table: in a
-- surge of 10,000 that grew with the square of the backlog. With `state`
-- (and `automatic`, the partial indexes' condition) in them the counts
-- are index-only scans.
DROP INDEX outbox_by_recipient_domain;
CREATE INDEX outbox_by_recipient_domain ON outbox (recipient_domain, created_at, state, automatic) WHERE automatic = 1;
DROP INDEX outbox_automatic_by_time;
CREATE INDEX outbox_automatic_by_time ON outbox (created_at, state, automatic) WHERE automatic = 1;
