-- Issue #13: one fetcher per mailbox across every serve on this database.
-- The serve holding a mailbox's row fetches it; the token goes up by one at
-- every takeover and is checked (and written) with every stored batch, so a
-- fetcher that lost the lease while paused stores nothing and cannot move
-- the cursor. A lease that ran out, or whose holder is known to be gone
-- (same host, process ended), is taken over.
CREATE TABLE fetch_leases (
    mailbox        TEXT    PRIMARY KEY,
    token          INTEGER NOT NULL,
    run_id         TEXT    NOT NULL,
    host           TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    process_start  INTEGER NOT NULL DEFAULT 0,
    acquired_at    INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);

-- The fetch lease token under which a message was stored (NULL: imported,
-- or stored before #13), and under which the cursor last moved.
ALTER TABLE messages ADD COLUMN fetch_token INTEGER;
ALTER TABLE fetch_cursors ADD COLUMN fetch_token INTEGER;
