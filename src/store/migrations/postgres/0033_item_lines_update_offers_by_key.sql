-- PostgreSQL only (#13): the item-line triggers update each offer's search
-- row and priority by its key, one offer at a time. Joined to the
-- transition table, `UPDATE offer_search … WHERE rowid IN (SELECT … FROM
-- lines)` ran on the plan PL/pgSQL made at a connection's first call and
-- keeps until the table is analysed again; made while the table was nearly
-- empty, that plan is a hash join over a sequential scan of every search
-- row. In the 10,000-message backlog (auto_explain) a quarter of the new
-- offers' item lines ran it, 2.8 ms at 6,400 offers and growing, until
-- autovacuum's ANALYZE made the connections plan again. An UPDATE by key
-- in a loop has no such plan. The priority's UPDATE joined `offers` the
-- same way (it happened to get index lookups) and is changed alike. The
-- two functions are otherwise those of 0032.

CREATE OR REPLACE FUNCTION offer_item_lines_applied() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    direction BIGINT := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
    line_offer BIGINT;
    weight_change DOUBLE PRECISION;
BEGIN
    FOR line_offer IN SELECT DISTINCT offer_id FROM lines LOOP
        UPDATE offer_search s SET items = COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
            FROM offer_items i WHERE i.offer_id = line_offer), '')
        WHERE s.rowid = line_offer;
    END LOOP;

    FOR line_offer, weight_change IN SELECT l.offer_id, SUM(COALESCE(l.base_quantity, 1) * n.weight)
            FROM lines l JOIN needs n ON n.item = l.item GROUP BY l.offer_id LOOP
        UPDATE offers o SET priority = o.priority + direction * weight_change
        WHERE o.id = line_offer AND o.category NOT IN ('request', 'sale');
    END LOOP;

    INSERT INTO item_totals AS t (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT l.item, o.status, COALESCE(l.unit, ''), direction * COUNT(*),
        direction * SUM(COALESCE(l.quantity, 0)),
        direction * SUM(COALESCE(l.received_quantity, 0)),
        direction * SUM(COALESCE(l.base_quantity, 0)),
        direction * SUM(COALESCE(l.received_quantity * l.base_quantity / NULLIF(l.quantity, 0), 0)),
        direction * SUM(l.pack_assumed),
        direction * SUM(CASE WHEN l.quantity IS NOT NULL AND l.base_quantity IS NULL THEN 1 ELSE 0 END)
    FROM lines l CROSS JOIN LATERAL (SELECT status, category FROM offers WHERE offers.id = l.offer_id LIMIT 1) o
    WHERE o.category NOT IN ('request', 'sale')
    GROUP BY l.item, o.status, COALESCE(l.unit, '')
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = t.lines + excluded.lines,
        quantity = t.quantity + excluded.quantity, received = t.received + excluded.received,
        base = t.base + excluded.base, base_received = t.base_received + excluded.base_received,
        assumed = t.assumed + excluded.assumed, unconverted = t.unconverted + excluded.unconverted;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION offer_item_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    line_offer BIGINT;
    weight_change DOUBLE PRECISION;
BEGIN
    FOR line_offer IN SELECT DISTINCT l.offer_id
            FROM (SELECT offer_id, item, model, unit, 1 AS d FROM new_lines
                  UNION ALL SELECT offer_id, item, model, unit, -1 FROM old_lines) l
            GROUP BY l.offer_id, l.item, l.model, l.unit HAVING SUM(l.d) <> 0 LOOP
        UPDATE offer_search s SET items = COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
            FROM offer_items i WHERE i.offer_id = line_offer), '')
        WHERE s.rowid = line_offer;
    END LOOP;

    FOR line_offer, weight_change IN SELECT l.offer_id, SUM(l.d * COALESCE(l.base_quantity, 1) * needs.weight)
            FROM (SELECT offer_id, item, base_quantity, 1 AS d FROM new_lines
                  UNION ALL SELECT offer_id, item, base_quantity, -1 FROM old_lines) l
            JOIN needs ON needs.item = l.item
            GROUP BY l.offer_id
            HAVING SUM(l.d * COALESCE(l.base_quantity, 1) * needs.weight) <> 0 LOOP
        UPDATE offers o SET priority = o.priority + weight_change
        WHERE o.id = line_offer AND o.category NOT IN ('request', 'sale');
    END LOOP;

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
        CROSS JOIN LATERAL (SELECT status, category FROM offers WHERE offers.id = l.offer_id LIMIT 1) o
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
