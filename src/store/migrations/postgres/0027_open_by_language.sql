-- The open queue of one language (#16), as SQLite's 0027: open offers by
-- language, category and priority, for the filtered queue's page and count.
-- PostgreSQL chooses it by itself (the queue names it only to SQLite).
CREATE INDEX offers_open_by_language ON offers (language, category, priority DESC, id)
    WHERE status IN ('new', 'needs_info');
