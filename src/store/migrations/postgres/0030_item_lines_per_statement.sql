-- PostgreSQL only (#13): what depends on an offer's item lines and status
-- (its search text, its priority, the dashboard's totals) is kept up to
-- date once per statement, from the statement's transition tables, not
-- once per row. An offer's lines are added in one INSERT, so a new offer
-- rewrites its search row once, its `offers` row (priority, in four
-- indexes) once, and each dashboard total it touches once. Per row, the
-- few hot `item_totals` rows were rewritten for every line of every offer
-- in a processing batch, and for every offer of a bulk decision, each
-- rewrite walking the versions the transaction had already made of the
-- row (BENCHMARKS.md, PostgreSQL).
-- SQLite keeps its per-row triggers: they run in-process, on a table that
-- keeps no row versions, and are cheap.
DROP TRIGGER offer_search_items_added ON offer_items;
DROP TRIGGER offer_search_items_changed ON offer_items;
DROP TRIGGER offer_search_items_removed ON offer_items;
DROP TRIGGER offer_priority_item_added ON offer_items;
DROP TRIGGER offer_priority_item_changed ON offer_items;
DROP TRIGGER offer_priority_item_removed ON offer_items;
DROP TRIGGER item_totals_line_added ON offer_items;
DROP TRIGGER item_totals_line_changed ON offer_items;
DROP TRIGGER item_totals_line_removed ON offer_items;
DROP TRIGGER item_totals_status_changed ON offers;

-- `lines` holds the rows the statement added (INSERT) or removed (DELETE).
CREATE FUNCTION offer_item_lines_applied() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    direction BIGINT := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    UPDATE offer_search s SET items = COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
        FROM offer_items i WHERE i.offer_id = s.rowid), '')
    WHERE s.rowid IN (SELECT DISTINCT offer_id FROM lines);

    UPDATE offers o SET priority = o.priority + direction * w.weight
    FROM (SELECT l.offer_id, SUM(COALESCE(l.base_quantity, 1) * n.weight) AS weight
          FROM lines l JOIN needs n ON n.item = l.item GROUP BY l.offer_id) w
    WHERE o.id = w.offer_id AND o.category NOT IN ('request', 'sale');

    INSERT INTO item_totals AS t (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT l.item, o.status, COALESCE(l.unit, ''), direction * COUNT(*),
        direction * SUM(COALESCE(l.quantity, 0)),
        direction * SUM(COALESCE(l.received_quantity, 0)),
        direction * SUM(COALESCE(l.base_quantity, 0)),
        direction * SUM(COALESCE(l.received_quantity * l.base_quantity / NULLIF(l.quantity, 0), 0)),
        direction * SUM(l.pack_assumed),
        direction * SUM(CASE WHEN l.quantity IS NOT NULL AND l.base_quantity IS NULL THEN 1 ELSE 0 END)
    FROM lines l JOIN offers o ON o.id = l.offer_id
    WHERE o.category NOT IN ('request', 'sale')
    GROUP BY l.item, o.status, COALESCE(l.unit, '')
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = t.lines + excluded.lines,
        quantity = t.quantity + excluded.quantity, received = t.received + excluded.received,
        base = t.base + excluded.base, base_received = t.base_received + excluded.base_received,
        assumed = t.assumed + excluded.assumed, unconverted = t.unconverted + excluded.unconverted;
    RETURN NULL;
END $$;
CREATE TRIGGER offer_item_lines_added AFTER INSERT ON offer_items
    REFERENCING NEW TABLE AS lines
    FOR EACH STATEMENT EXECUTE FUNCTION offer_item_lines_applied();
CREATE TRIGGER offer_item_lines_removed AFTER DELETE ON offer_items
    REFERENCING OLD TABLE AS lines
    FOR EACH STATEMENT EXECUTE FUNCTION offer_item_lines_applied();

-- Lines changed in place (desk edits, received quantities): their old
-- form taken out and their new form put in, for the lines where a column
-- the search text, priority or totals read has changed. PostgreSQL gives
-- transition tables to no trigger with a column list, so this one fires
-- for every UPDATE of offer_items and finds the changed lines itself.
CREATE FUNCTION offer_item_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE offer_search s SET items = COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
        FROM offer_items i WHERE i.offer_id = s.rowid), '')
    WHERE s.rowid IN (SELECT nl.offer_id FROM new_lines nl JOIN old_lines ol ON ol.id = nl.id
        WHERE (nl.item, nl.model, nl.unit) IS DISTINCT FROM (ol.item, ol.model, ol.unit));

    UPDATE offers o SET priority = o.priority + w.weight
    FROM (SELECT l.offer_id, SUM(l.direction * COALESCE(l.base_quantity, 1) * needs.weight) AS weight
          FROM (SELECT nl.offer_id, nl.item, nl.base_quantity, 1 AS direction
                FROM new_lines nl JOIN old_lines ol ON ol.id = nl.id
                WHERE (nl.item, nl.base_quantity) IS DISTINCT FROM (ol.item, ol.base_quantity)
                UNION ALL
                SELECT ol.offer_id, ol.item, ol.base_quantity, -1
                FROM new_lines nl JOIN old_lines ol ON ol.id = nl.id
                WHERE (nl.item, nl.base_quantity) IS DISTINCT FROM (ol.item, ol.base_quantity)) l
          JOIN needs ON needs.item = l.item
          GROUP BY l.offer_id) w
    WHERE o.id = w.offer_id AND o.category NOT IN ('request', 'sale');

    INSERT INTO item_totals AS t (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT l.item, o.status, COALESCE(l.unit, ''), SUM(l.direction),
        SUM(l.direction * COALESCE(l.quantity, 0)),
        SUM(l.direction * COALESCE(l.received_quantity, 0)),
        SUM(l.direction * COALESCE(l.base_quantity, 0)),
        SUM(l.direction * COALESCE(l.received_quantity * l.base_quantity / NULLIF(l.quantity, 0), 0)),
        SUM(l.direction * l.pack_assumed),
        SUM(l.direction * CASE WHEN l.quantity IS NOT NULL AND l.base_quantity IS NULL THEN 1 ELSE 0 END)
    FROM (SELECT nl.*, 1 AS direction FROM new_lines nl JOIN old_lines ol ON ol.id = nl.id
              WHERE (nl.item, nl.quantity, nl.unit, nl.received_quantity, nl.base_quantity, nl.pack_assumed)
                  IS DISTINCT FROM (ol.item, ol.quantity, ol.unit, ol.received_quantity, ol.base_quantity, ol.pack_assumed)
          UNION ALL
          SELECT ol.*, -1 FROM new_lines nl JOIN old_lines ol ON ol.id = nl.id
              WHERE (nl.item, nl.quantity, nl.unit, nl.received_quantity, nl.base_quantity, nl.pack_assumed)
                  IS DISTINCT FROM (ol.item, ol.quantity, ol.unit, ol.received_quantity, ol.base_quantity, ol.pack_assumed)) l
    JOIN offers o ON o.id = l.offer_id
    WHERE o.category NOT IN ('request', 'sale')
    GROUP BY l.item, o.status, COALESCE(l.unit, '')
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = t.lines + excluded.lines,
        quantity = t.quantity + excluded.quantity, received = t.received + excluded.received,
        base = t.base + excluded.base, base_received = t.base_received + excluded.base_received,
        assumed = t.assumed + excluded.assumed, unconverted = t.unconverted + excluded.unconverted;
    RETURN NULL;
END $$;
CREATE TRIGGER offer_item_lines_changed AFTER UPDATE ON offer_items
    REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION offer_item_lines_changed();

-- Offers whose status changed (a decision, or a bulk one over hundreds):
-- their lines move from the old status's totals to the new one's.
CREATE FUNCTION item_totals_statuses_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO item_totals AS t (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT s.item, st.status, s.unit, SUM(st.sign), SUM(st.sign * s.quantity), SUM(st.sign * s.received),
        SUM(st.sign * s.base), SUM(st.sign * s.base_received), SUM(st.sign * s.assumed), SUM(st.sign * s.unconverted)
    FROM (SELECT n.id, o.status AS was, n.status AS became FROM new_offers n JOIN old_offers o ON o.id = n.id
          WHERE n.status IS DISTINCT FROM o.status AND n.category NOT IN ('request', 'sale')) c
    JOIN item_line_shares s ON s.offer_id = c.id
    CROSS JOIN LATERAL (VALUES (c.was, -1), (c.became, 1)) AS st (status, sign)
    GROUP BY s.item, s.unit, st.status
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = t.lines + excluded.lines,
        quantity = t.quantity + excluded.quantity, received = t.received + excluded.received,
        base = t.base + excluded.base, base_received = t.base_received + excluded.base_received,
        assumed = t.assumed + excluded.assumed, unconverted = t.unconverted + excluded.unconverted;
    RETURN NULL;
END $$;
CREATE TRIGGER item_totals_statuses_changed AFTER UPDATE ON offers
    REFERENCING OLD TABLE AS old_offers NEW TABLE AS new_offers
    FOR EACH STATEMENT EXECUTE FUNCTION item_totals_statuses_changed();
