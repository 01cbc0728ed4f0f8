-- PostgreSQL only (#13): the item-line triggers of migration 0030 read
-- each line's offer by its key. As a join (`lines JOIN offers`), the plan
-- that PL/pgSQL cached, from a guess at the transition table's size, was a
-- hash join over every offer: 0.4 ms for each offer processed at 10,000
-- offers, growing with the table, and most of the cost of its item lines'
-- INSERT (pg_stat_statements over the 10,000-message backlog: 0.82 ms a
-- statement, 0.35 ms after this). `LATERAL … LIMIT 1` cannot be turned
-- into that join: one index lookup per line. The two functions are otherwise
-- those of 0030.

CREATE OR REPLACE FUNCTION offer_item_lines_applied() RETURNS trigger LANGUAGE plpgsql AS $$
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
