-- A bounce to one of our replies marks the donor's address undeliverable.
ALTER TABLE offers ADD COLUMN donor_undeliverable INTEGER NOT NULL DEFAULT 0;

-- Items a donor states in a reply to an offer's thread: proposed to staff as
-- a change, never applied by themselves.
CREATE TABLE item_proposals (
    id          INTEGER PRIMARY KEY,
    offer_id    INTEGER NOT NULL REFERENCES offers (id),
    message_id  INTEGER NOT NULL REFERENCES messages (id),
    -- JSON list of items in the form of offer_items (item, quantity, unit, …).
    items_json  TEXT    NOT NULL,
    -- open | applied | dismissed
    status      TEXT    NOT NULL DEFAULT 'open',
    created_at  INTEGER NOT NULL
);
CREATE INDEX item_proposals_by_offer ON item_proposals (offer_id, id);
