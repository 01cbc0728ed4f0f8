-- Issue #12: claims with an owner and an expiry, one serve per database, a
-- safe first start, and imports.

-- A claimed message (state 'processing') or reply (state 'sending') names the
-- run that claimed it and when the claim runs out unless that run extends it.
-- Another process takes over only claims that ran out.
ALTER TABLE messages ADD COLUMN claimed_by TEXT;
ALTER TABLE messages ADD COLUMN claim_expires_at INTEGER;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claim_expires_at INTEGER;
CREATE INDEX messages_by_claim ON messages (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX outbox_by_claim ON outbox (claimed_by) WHERE claimed_by IS NOT NULL;

-- The one `serve` on this database: its run, where it runs, and when its
-- lease runs out unless its heartbeat renews it.
CREATE TABLE instances (
    role           TEXT    PRIMARY KEY,
    run_id         TEXT    NOT NULL,
    host           TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    -- The process's start time as the OS counts it (Linux: /proc/PID/stat),
    -- so a reused PID is not taken for the same process. 0 when unknown.
    process_start  INTEGER NOT NULL DEFAULT 0,
    started_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);

-- Why a message gets no automatic reply whatever it says: it was in the
-- mailbox before supplyline first read it, the mailbox already flagged it
-- answered or seen, or it was imported. NULL: replies as usual.
ALTER TABLE messages ADD COLUMN no_reply_reason TEXT;

-- The first read of each mailbox: what was there then is not acknowledged.
CREATE TABLE mailbox_first_reads (
    mailbox      TEXT    PRIMARY KEY,
    uidvalidity  INTEGER NOT NULL,
    -- UIDNEXT at the first read: every UID below it was already there.
    uidnext      INTEGER NOT NULL,
    -- Messages in the mailbox at the first read.
    existing     INTEGER NOT NULL,
    read_at      INTEGER NOT NULL
);

-- Imports (`supplyline import`): where each source got to, so an
-- interrupted import resumes.
CREATE TABLE imports (
    source       TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    -- How far it got, in the source's own terms (a byte offset in an mbox,
    -- the last file name in a folder, UIDVALIDITY:UID in an IMAP folder).
    position     TEXT    NOT NULL DEFAULT '',
    stored       INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
