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

-- Lines changed in place (desk edits, received quantities, pack sizes
-- reloaded): each line's old form counted -1 and its new form +1, so what
-- did not change cancels out. PostgreSQL gives transition tables to no
-- trigger with a column list, so this fires for every UPDATE of
-- offer_items. The two transition tables are grouped, never joined: a
-- join's plan is cached from the first, one-row call, and as a nested
-- loop it was quadratic on an update of thousands of lines (a serve
-- starting after an import of 5,000 messages took minutes reloading
-- the pack sizes).
CREATE FUNCTION offer_item_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE offer_search s SET items = COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
        FROM offer_items i WHERE i.offer_id = s.rowid), '')
    WHERE s.rowid IN (SELECT l.offer_id
        FROM (SELECT offer_id, item, model, unit, 1 AS d FROM new_lines
              UNION ALL SELECT offer_id, item, model, unit, -1 FROM old_lines) l
        GROUP BY l.offer_id, l.item, l.model, l.unit HAVING SUM(l.d) <> 0);

    UPDATE offers o SET priority = o.priority + w.weight
    FROM (SELECT l.offer_id, SUM(l.d * COALESCE(l.base_quantity, 1) * needs.weight) AS weight
          FROM (SELECT offer_id, item, base_quantity, 1 AS d FROM new_lines
                UNION ALL SELECT offer_id, item, base_quantity, -1 FROM old_lines) l
          JOIN needs ON needs.item = l.item
          GROUP BY l.offer_id
          HAVING SUM(l.d * COALESCE(l.base_quantity, 1) * needs.weight) <> 0) w
    WHERE o.id = w.offer_id AND o.category NOT IN ('request', 'sale');

    INSERT INTO item_totals AS t (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT * FROM (
        SELECT l.item, o.status, COALESCE(l.unit, '') AS unit, SUM(l.d) AS lines,
            SUM(l.d * COALESCE(l.quantity, 0)) AS quantity,
            SUM(l.d * COALESCE(l.received_quantity, 0)) AS received,
            SUM(l.d * COALESCE(l.base_quantity, 0)) AS base,
            SUM(l.d * COALESCE(l.received_quantity * l.base_quantity / NULLIF(l.quantity, 0), 0)) AS base_received,
            SUM(l.d * l.pack_assumed) AS assumed,
            SUM(l.d * CASE WHEN l.quantity IS NOT NULL AND l.base_quantity IS NULL THEN 1 ELSE 0 END) AS unconverted
        FROM (SELECT new_lines.*, 1 AS d FROM new_lines
              UNION ALL SELECT old_lines.*, -1 FROM old_lines) l
        JOIN offers o ON o.id = l.offer_id
        WHERE o.category NOT IN ('request', 'sale')
        GROUP BY l.item, o.status, COALESCE(l.unit, '')) g
    WHERE (g.lines, g.quantity, g.received, g.base, g.base_received, g.assumed, g.unconverted)
        IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0)
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = t.lines + excluded.lines,
        quantity = t.quantity + excluded.quantity, received = t.received + excluded.received,
        base = t.base + excluded.base, base_received = t.base_received + excluded.base_received,
        assumed = t.assumed + excluded.assumed, unconverted = t.unconverted + excluded.unconverted;
    RETURN NULL;
END $$;
CREATE TRIGGER offer_item_lines_changed AFTER UPDATE ON offer_items
    REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION offer_item_lines_changed();

-- Offers whose status changed (a decision, or a bulk one over thousands):
-- their lines move from the old status's totals to the new one's, for
-- offers that pledge (by the new category, as SQLite's row trigger). The
-- old and new rows are grouped by offer, not joined (see above).
CREATE FUNCTION item_totals_statuses_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO item_totals AS t (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT s.item, st.status, s.unit, SUM(st.sign), SUM(st.sign * s.quantity), SUM(st.sign * s.received),
        SUM(st.sign * s.base), SUM(st.sign * s.base_received), SUM(st.sign * s.assumed), SUM(st.sign * s.unconverted)
    FROM (SELECT x.id,
              MAX(x.status) FILTER (WHERE x.d = -1) AS was,
              MAX(x.status) FILTER (WHERE x.d = 1) AS became,
              MAX(x.category) FILTER (WHERE x.d = 1) AS category
          FROM (SELECT id, status, category, 1 AS d FROM new_offers
                UNION ALL SELECT id, status, category, -1 FROM old_offers) x
          GROUP BY x.id) c
    JOIN item_line_shares s ON s.offer_id = c.id
    CROSS JOIN LATERAL (VALUES (c.was, -1), (c.became, 1)) AS st (status, sign)
    WHERE c.was IS DISTINCT FROM c.became AND c.category NOT IN ('request', 'sale')
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
