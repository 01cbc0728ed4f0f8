-- The triage web UI: accounts, sessions, login throttling, notes, the
-- operators' needs and pickup sites, and what staff decided about offers.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    -- argon2id PHC string; the password itself is never stored.
    password_hash  TEXT    NOT NULL,
    -- viewer | triager | admin
    role           TEXT    NOT NULL,
    created_at     INTEGER NOT NULL
);

-- A login. The cookie holds a random token; only its SHA-256 is stored, so
-- a copy of the database does not log anyone in.
CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    -- Sent in every form and checked on every POST.
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Every login attempt, for rate limiting per account and per client address.
CREATE TABLE login_attempts (
    id         INTEGER PRIMARY KEY,
    email      TEXT    NOT NULL COLLATE NOCASE,
    client     TEXT    NOT NULL,
    success    INTEGER NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX login_attempts_by_email ON login_attempts (email, at);
CREATE INDEX login_attempts_by_client ON login_attempts (client, at);

CREATE TABLE notes (
    id          INTEGER PRIMARY KEY,
    offer_id    INTEGER NOT NULL REFERENCES offers (id),
    author      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX notes_by_offer ON notes (offer_id, id);

-- Current needs per catalog item, loaded from the operators' file at start:
-- an offer's priority is the sum over its items of weight × quantity.
CREATE TABLE needs (
    item    TEXT PRIMARY KEY,
    weight  REAL NOT NULL,
    -- How many are wanted in total (the dashboard's target line).
    target  REAL
);

-- Where donors bring or we collect donations, loaded from the operators' file.
CREATE TABLE pickup_sites (
    id       INTEGER PRIMARY KEY,
    name     TEXT    NOT NULL UNIQUE,
    address  TEXT    NOT NULL,
    notes    TEXT    NOT NULL DEFAULT ''
);

-- What staff decided.
ALTER TABLE offers ADD COLUMN pickup_site TEXT;
ALTER TABLE offers ADD COLUMN pickup_window TEXT;
ALTER TABLE offers ADD COLUMN decline_reason TEXT;
ALTER TABLE offers ADD COLUMN merged_into INTEGER REFERENCES offers (id);
ALTER TABLE offer_items ADD COLUMN received_quantity REAL;
