-- The open queue of one language (#16): without statistics SQLite reads
-- it through offers_by_language, one lookup per offer of that language
-- (open or not) and a table read each to check status and category; with
-- an item filter besides, the page and its count took 33 and 39 ms at
-- 100,000 offers and up to 84 ms p50 over HTTP under load. This partial
-- index holds only open offers, with the category the offers-only queue
-- checks, so the count never reads the table and the page is read in
-- priority order (9-13 ms each). The queue names it (INDEXED BY).
CREATE INDEX offers_open_by_language ON offers (language, category, priority DESC, id)
    WHERE status IN ('new', 'needs_info');
