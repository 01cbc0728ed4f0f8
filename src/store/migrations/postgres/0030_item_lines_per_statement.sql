-- PostgreSQL only (#13): what depends on an offer's item lines (its
-- search text, its priority, the dashboard's totals) is kept up to date
-- once per statement that adds or removes lines, not once per line. An
-- offer's lines are added in one INSERT, so a new offer rewrites its
-- search row once, its `offers` row (priority, in four indexes) once, and
-- each dashboard total it touches once; per line, the hot `item_totals`
-- rows were rewritten for every line of every offer in a processing
-- batch (BENCHMARKS.md, PostgreSQL). Changes to a line (desk edits, one
-- row at a time) keep their per-row triggers: PostgreSQL gives transition
-- tables to no trigger with a column list.
-- SQLite keeps its per-row triggers: they run in-process and are cheap.
DROP TRIGGER offer_search_items_added ON offer_items;
DROP TRIGGER offer_search_items_removed ON offer_items;
DROP TRIGGER offer_priority_item_added ON offer_items;
DROP TRIGGER offer_priority_item_removed ON offer_items;
DROP TRIGGER item_totals_line_added ON offer_items;
DROP TRIGGER item_totals_line_removed ON offer_items;

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
