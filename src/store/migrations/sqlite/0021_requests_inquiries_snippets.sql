-- Requests and inquiries have queues of their own (#16): what staff did
-- with one (handled, forwarded, answered) is kept beside its offer row;
-- reply snippets are texts staff insert into a free-form reply, one per
-- name and language, edited by admins.

CREATE TABLE offer_handled (
    offer_id  INTEGER PRIMARY KEY REFERENCES offers (id),
    -- handled, forwarded, answered
    outcome   TEXT    NOT NULL,
    -- To whom it was forwarded, or a word on how it was handled.
    detail    TEXT    NOT NULL DEFAULT '',
    actor     TEXT    NOT NULL,
    at        INTEGER NOT NULL
);

-- The request and inquiry queues read one category, oldest first; the
-- main queue counts them (by category and status, from the index alone)
-- to leave them out of its total.
CREATE INDEX offers_by_category_created ON offers (category, created_at, id);
CREATE INDEX offers_by_category_status ON offers (category, status);

CREATE TABLE reply_snippets (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    language    TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    updated_by  TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (name, language)
);
