-- Undo of a staff decision (#16, flow): what the offer was before, the
-- reply the decision queued (held back, due at undo_until, so it cannot
-- leave before the window ends), and whether it was undone.
CREATE TABLE decision_undos (
    id           INTEGER PRIMARY KEY,
    offer_id     INTEGER NOT NULL REFERENCES offers (id),
    actor        TEXT    NOT NULL,
    -- the audit action of the decision: accepted, declined, marked_spam, merged_into, received
    action       TEXT    NOT NULL,
    -- the status the decision wrote; undo refuses when the offer moved on since
    status_after TEXT    NOT NULL,
    -- JSON: status, decision columns, message ids and received quantities before
    before_json  TEXT    NOT NULL,
    reply_id     INTEGER REFERENCES outbox (id),
    created_at   INTEGER NOT NULL,
    undo_until   INTEGER NOT NULL,
    undone_at    INTEGER
);
CREATE INDEX decision_undos_by_offer ON decision_undos (offer_id, id);
