-- Every message fetched from the mailbox, raw bytes first. Nothing deletes a row.
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    -- Message-ID + body hash (or the whole raw hash without a Message-ID):
    -- the same message delivered twice is one row.
    dedup_key     TEXT    NOT NULL UNIQUE,
    message_id    TEXT,
    content_hash  TEXT    NOT NULL,
    mailbox       TEXT    NOT NULL,
    uidvalidity   INTEGER,
    uid           INTEGER,
    size          INTEGER NOT NULL,
    raw           BLOB    NOT NULL,
    -- 1 when only the headers were kept because the message was over the size limit.
    truncated     INTEGER NOT NULL DEFAULT 0,
    -- received → processing → processed | failed; oversize for truncated ones.
    state         TEXT    NOT NULL DEFAULT 'received',
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    category      TEXT,
    from_address  TEXT,
    subject       TEXT,
    offer_id      INTEGER,
    received_at   INTEGER NOT NULL,
    processed_at  INTEGER
);
CREATE INDEX messages_by_state ON messages (state, id);
CREATE INDEX messages_by_message_id ON messages (message_id);
CREATE INDEX messages_by_offer ON messages (offer_id);

-- Where fetching stopped, per mailbox.
CREATE TABLE fetch_cursors (
    mailbox      TEXT    PRIMARY KEY,
    uidvalidity  INTEGER NOT NULL,
    last_uid     INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- One offer per donor message (replies in the same thread join it).
CREATE TABLE offers (
    id            INTEGER PRIMARY KEY,
    message_id    INTEGER NOT NULL REFERENCES messages (id),
    donor_email   TEXT    NOT NULL,
    donor_name    TEXT,
    subject       TEXT    NOT NULL DEFAULT '',
    category      TEXT    NOT NULL,
    language      TEXT,
    -- new, needs_info, accepted, scheduled, declined, spam, received, merged
    status        TEXT    NOT NULL DEFAULT 'new',
    contact_json  TEXT,
    pickup_json   TEXT,
    price_quoted  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX offers_by_status ON offers (status, id);
CREATE INDEX offers_by_donor ON offers (donor_email);

CREATE TABLE offer_items (
    id          INTEGER PRIMARY KEY,
    offer_id    INTEGER NOT NULL REFERENCES offers (id),
    position    INTEGER NOT NULL,
    item        TEXT    NOT NULL,
    quantity    REAL,
    unit        TEXT,
    model       TEXT,
    condition   TEXT,
    expires     TEXT,
    -- JSON list of {field, start, end, rule}: where in the clean text each value came from.
    spans_json  TEXT    NOT NULL DEFAULT '[]',
    -- extracted | staff
    source      TEXT    NOT NULL DEFAULT 'extracted'
);
CREATE INDEX offer_items_by_offer ON offer_items (offer_id, position);

-- Replies, rendered whole when enqueued, so what was sent is on record.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    offer_id         INTEGER REFERENCES offers (id),
    kind             TEXT    NOT NULL,
    -- Makes "one acknowledgement per offer" a constraint, e.g. 'ack:42'.
    dedup_key        TEXT    UNIQUE,
    rfc_message_id   TEXT    NOT NULL UNIQUE,
    to_address       TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    raw              BLOB    NOT NULL,
    automatic        INTEGER NOT NULL DEFAULT 1,
    -- pending → sending → sent | failed
    state            TEXT    NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_recipient ON outbox (to_address, created_at);

-- Who did what, when.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    offer_id    INTEGER,
    message_id  INTEGER,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_offer ON audit_events (offer_id, id);
