-- Ownership and overview on the desk (#16): who an offer is assigned to,
-- each person's saved queue views, and the indexes the queue's new sorts
-- and the "mine" filter read through at 100,000 offers.

-- The staff email an offer is assigned to; NULL when nobody has it.
-- An email, not a user id, as notes and history keep them: removing an
-- account leaves its assignments readable.
ALTER TABLE offers ADD COLUMN assigned_to TEXT;

-- The open queue (status list as OfferStatus::sql_list writes it, like
-- migration 0017's offers_open_by_priority) sorted or filtered by assignee,
-- by age and by donor; and every offer by assignee.
CREATE INDEX offers_open_by_assignee ON offers (assigned_to, priority DESC, id) WHERE status IN ('new', 'needs_info');
CREATE INDEX offers_open_by_created ON offers (created_at, id) WHERE status IN ('new', 'needs_info');
CREATE INDEX offers_open_by_donor ON offers (donor_email, id) WHERE status IN ('new', 'needs_info');
CREATE INDEX offers_by_assignee ON offers (assigned_to, priority DESC, id);

-- A person's named queue: the query string of its filters and sort.
CREATE TABLE saved_views (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, name)
);
