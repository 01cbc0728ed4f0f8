-- PostgreSQL only (#13): an offer's search vector is computed after the
-- offer is committed, by the search indexer of `serve` (store/search.rs,
-- `index_pending`), not inside the processing transaction. The text
-- parser costs about 1 ms per 4 KiB of message text, a third of
-- PostgreSQL's processing, and it held up every acknowledgement of the
-- batch. A row whose `tsv` is NULL (new, or changed since it was indexed)
-- is still found: searches compute its vector on the fly
-- (store/search.rs, `push_source`), and the partial index below finds
-- those rows.

-- The weighted vector of a search row, as the generated column had it:
-- A reference and phones, B donor, subject and items, C pickup and notes,
-- D the messages' text.
CREATE FUNCTION offer_search_vector(s offer_search) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('simple', s.reference || ' ' || s.phones), 'A')
        || setweight(to_tsvector('simple', s.donor || ' ' || s.subject || ' ' || s.items), 'B')
        || setweight(to_tsvector('simple', s.pickup || ' ' || s.notes), 'C')
        || setweight(to_tsvector('simple', s.text), 'D')
$$;

-- Existing rows keep their vectors; new ones start NULL.
ALTER TABLE offer_search ALTER COLUMN tsv DROP EXPRESSION;

CREATE INDEX offer_search_pending ON offer_search (rowid) WHERE tsv IS NULL;

-- A row whose text changes (a reply joined, an item edited, a note) is
-- indexed again.
CREATE FUNCTION offer_search_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.tsv := NULL;
    RETURN NEW;
END $$;
CREATE TRIGGER offer_search_stale
    BEFORE UPDATE OF reference, phones, donor, subject, pickup, items, notes, text ON offer_search
    FOR EACH ROW
    WHEN ((OLD.reference, OLD.phones, OLD.donor, OLD.subject, OLD.pickup, OLD.items, OLD.notes, OLD.text)
        IS DISTINCT FROM (NEW.reference, NEW.phones, NEW.donor, NEW.subject, NEW.pickup, NEW.items, NEW.notes, NEW.text))
    EXECUTE FUNCTION offer_search_stale();
