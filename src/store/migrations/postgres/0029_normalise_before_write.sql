-- PostgreSQL only (#13): an item line is put in base units before it is
-- written, not by a second UPDATE after it. The AFTER trigger's UPDATE of
-- the row just inserted fired the priority and dashboard-total triggers a
-- second time, so each line cost three upserts of the hot `item_totals`
-- rows and most of a processing batch's time (BENCHMARKS.md, PostgreSQL).
-- SQLite keeps its AFTER trigger: its triggers cannot change NEW.
DROP TRIGGER offer_items_normalise_added ON offer_items;
DROP TRIGGER offer_items_normalise_changed ON offer_items;
CREATE OR REPLACE FUNCTION offer_items_normalise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.base_quantity := NEW.quantity * (SELECT per_unit FROM pack_sizes
        WHERE item = NEW.item AND unit = COALESCE(NEW.unit, 'each'));
    NEW.base_unit := (SELECT base_unit FROM pack_sizes WHERE item = NEW.item LIMIT 1);
    NEW.pack_assumed := CASE WHEN NEW.quantity IS NOT NULL AND COALESCE((SELECT assumed FROM pack_sizes
        WHERE item = NEW.item AND unit = COALESCE(NEW.unit, 'each')), 0) <> 0 THEN 1 ELSE 0 END;
    RETURN NEW;
END $$;
CREATE TRIGGER offer_items_normalise_added BEFORE INSERT ON offer_items
    FOR EACH ROW EXECUTE FUNCTION offer_items_normalise();
CREATE TRIGGER offer_items_normalise_changed BEFORE UPDATE OF item, quantity, unit ON offer_items
    FOR EACH ROW EXECUTE FUNCTION offer_items_normalise();

-- A column a BEFORE trigger changes does not fire an AFTER trigger "OF" it:
-- the priority follows the columns the base quantity comes from as well.
DROP TRIGGER offer_priority_item_changed ON offer_items;
CREATE TRIGGER offer_priority_item_changed AFTER UPDATE OF item, quantity, unit, base_quantity ON offer_items
    FOR EACH ROW EXECUTE FUNCTION offer_priority_line();
