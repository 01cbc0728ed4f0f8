-- Issue #12, "Run it like a service" and "Bounces suppress the address".

-- /readyz proves the database writable by rewriting this one row.
CREATE TABLE health_probe (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    at  INTEGER NOT NULL
);

-- Addresses no reply goes to. A hard bounce (5.x.x) of any reply suppresses
-- at once; soft bounces (4.x.x) are counted and suppress after
-- donations.soft_bounces_to_suppress. Staff can lift a suppression
-- (lifted_at, lifted_by); the count starts again from zero then.
CREATE TABLE suppressions (
    -- The normalised address (outbox.recipient_key's form).
    address        TEXT    PRIMARY KEY,
    soft_bounces   INTEGER NOT NULL DEFAULT 0,
    -- Set while suppressed; NULL while only counting, or once lifted.
    suppressed_at  INTEGER,
    -- The status and diagnostic of the bounce that suppressed (or last counted).
    reason         TEXT    NOT NULL DEFAULT '',
    -- The delivery report that did it.
    message_id     INTEGER REFERENCES messages (id),
    lifted_at      INTEGER,
    lifted_by      TEXT,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX suppressions_active ON suppressions (suppressed_at) WHERE suppressed_at IS NOT NULL;
