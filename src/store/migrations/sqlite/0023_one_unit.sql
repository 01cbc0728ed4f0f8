-- One unit everywhere (#15, part 3) and needs staff edit (part 4).
--
-- Every item line carries its quantity in the item's base unit (pieces, or
-- litres for liquids) beside the stated one, from the catalog's conversions
-- (rules/catalog.toml: base_unit, packs), which the store keeps in
-- `pack_sizes` (Store::load_pack_sizes at start; changed conversions are
-- applied to every stored line then). Priority and the dashboard's totals
-- count base quantities, and only offers that pledge supply: requests and
-- sale offers count for neither.

-- Base units in one `unit` of `item`; `assumed` when a catalog default,
-- not the email, says how many a container holds.
CREATE TABLE pack_sizes (
    item      TEXT    NOT NULL,
    unit      TEXT    NOT NULL,
    base_unit TEXT    NOT NULL,
    per_unit  REAL    NOT NULL,
    assumed   INTEGER NOT NULL,
    PRIMARY KEY (item, unit)
) WITHOUT ROWID;

ALTER TABLE offer_items ADD COLUMN base_quantity REAL;
ALTER TABLE offer_items ADD COLUMN base_unit TEXT;
ALTER TABLE offer_items ADD COLUMN pack_assumed INTEGER NOT NULL DEFAULT 0;

-- A line's base quantity follows its item, quantity and unit (no unit is
-- `each`). The update below fires the priority and totals triggers of
-- base_quantity, so they follow too.
CREATE TRIGGER offer_items_normalise_added AFTER INSERT ON offer_items BEGIN
    UPDATE offer_items SET
        base_quantity = NEW.quantity * (SELECT per_unit FROM pack_sizes
            WHERE item = NEW.item AND unit = COALESCE(NEW.unit, 'each')),
        base_unit = (SELECT base_unit FROM pack_sizes WHERE item = NEW.item LIMIT 1),
        pack_assumed = NEW.quantity IS NOT NULL AND COALESCE((SELECT assumed FROM pack_sizes
            WHERE item = NEW.item AND unit = COALESCE(NEW.unit, 'each')), 0)
    WHERE id = NEW.id;
END;
CREATE TRIGGER offer_items_normalise_changed AFTER UPDATE OF item, quantity, unit ON offer_items BEGIN
    UPDATE offer_items SET
        base_quantity = NEW.quantity * (SELECT per_unit FROM pack_sizes
            WHERE item = NEW.item AND unit = COALESCE(NEW.unit, 'each')),
        base_unit = (SELECT base_unit FROM pack_sizes WHERE item = NEW.item LIMIT 1),
        pack_assumed = NEW.quantity IS NOT NULL AND COALESCE((SELECT assumed FROM pack_sizes
            WHERE item = NEW.item AND unit = COALESCE(NEW.unit, 'each')), 0)
    WHERE id = NEW.id;
END;

-- Priority: over an offer's lines, base quantity (1 when unknown) times
-- the item's need weight, for offers that pledge supply only. Each trigger
-- adds or takes away one line's share, so their order does not matter.
DROP TRIGGER offer_priority_item_added;
DROP TRIGGER offer_priority_item_changed;
DROP TRIGGER offer_priority_item_removed;
CREATE TRIGGER offer_priority_item_added AFTER INSERT ON offer_items BEGIN
    UPDATE offers SET priority = priority
        + COALESCE((SELECT COALESCE(NEW.base_quantity, 1) * weight FROM needs WHERE item = NEW.item), 0)
    WHERE id = NEW.offer_id AND category NOT IN ('request', 'sale');
END;
CREATE TRIGGER offer_priority_item_changed AFTER UPDATE OF item, base_quantity ON offer_items BEGIN
    UPDATE offers SET priority = priority
        - COALESCE((SELECT COALESCE(OLD.base_quantity, 1) * weight FROM needs WHERE item = OLD.item), 0)
    WHERE id = OLD.offer_id AND category NOT IN ('request', 'sale');
    UPDATE offers SET priority = priority
        + COALESCE((SELECT COALESCE(NEW.base_quantity, 1) * weight FROM needs WHERE item = NEW.item), 0)
    WHERE id = NEW.offer_id AND category NOT IN ('request', 'sale');
END;
CREATE TRIGGER offer_priority_item_removed AFTER DELETE ON offer_items BEGIN
    UPDATE offers SET priority = priority
        - COALESCE((SELECT COALESCE(OLD.base_quantity, 1) * weight FROM needs WHERE item = OLD.item), 0)
    WHERE id = OLD.offer_id AND category NOT IN ('request', 'sale');
END;
UPDATE offers SET priority = CASE WHEN category IN ('request', 'sale') THEN 0
    ELSE COALESCE((SELECT SUM(COALESCE(i.base_quantity, 1) * n.weight)
        FROM offer_items i JOIN needs n ON n.item = i.item WHERE i.offer_id = offers.id), 0) END;

-- Needs as staff edit them on /needs: how many base units a week, how many
-- on hand (so days of supply); `weight` is derived from them
-- (web::needs::weight). Who changed a need last, and when; once any need
-- was changed on the desk (audit_events), the operators' file no longer
-- replaces the needs at start.
ALTER TABLE needs ADD COLUMN per_week REAL;
ALTER TABLE needs ADD COLUMN on_hand REAL;
ALTER TABLE needs ADD COLUMN updated_by TEXT;
ALTER TABLE needs ADD COLUMN updated_at INTEGER;

-- Dashboard totals per item, status and stated unit, of supply offers
-- only: stated quantities (per unit, so they add up) beside base ones.
DROP TRIGGER item_totals_line_added;
DROP TRIGGER item_totals_line_removed;
DROP TRIGGER item_totals_line_changed;
DROP TRIGGER item_totals_status_changed;
DROP TABLE item_totals;
CREATE TABLE item_totals (
    item          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    -- The stated unit; '' when none was stated.
    unit          TEXT    NOT NULL,
    lines         INTEGER NOT NULL DEFAULT 0,
    quantity      REAL    NOT NULL DEFAULT 0,
    received      REAL    NOT NULL DEFAULT 0,
    base          REAL    NOT NULL DEFAULT 0,
    base_received REAL    NOT NULL DEFAULT 0,
    -- Lines whose base quantity rests on a catalog pack size.
    assumed       INTEGER NOT NULL DEFAULT 0,
    -- Lines with a quantity that has no base quantity (no pack size).
    unconverted   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (item, status, unit)
) WITHOUT ROWID;

-- One line's share (the status trigger reads current lines through it; the
-- line triggers write the same from OLD and NEW); received counts in base
-- units at the line's own rate.
CREATE VIEW item_line_shares AS
SELECT i.id, i.offer_id, i.item, COALESCE(i.unit, '') AS unit, 1 AS lines,
    COALESCE(i.quantity, 0) AS quantity, COALESCE(i.received_quantity, 0) AS received,
    COALESCE(i.base_quantity, 0) AS base,
    COALESCE(i.received_quantity * i.base_quantity / NULLIF(i.quantity, 0), 0) AS base_received,
    i.pack_assumed AS assumed,
    (i.quantity IS NOT NULL AND i.base_quantity IS NULL) AS unconverted
FROM offer_items i;

INSERT INTO item_totals (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT s.item, o.status, s.unit, COUNT(*), SUM(s.quantity), SUM(s.received), SUM(s.base),
        SUM(s.base_received), SUM(s.assumed), SUM(s.unconverted)
    FROM item_line_shares s JOIN offers o ON o.id = s.offer_id
    WHERE o.category NOT IN ('request', 'sale') GROUP BY s.item, o.status, s.unit;

CREATE TRIGGER item_totals_line_added AFTER INSERT ON offer_items BEGIN
    INSERT INTO item_totals (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT NEW.item, status, COALESCE(NEW.unit, ''), 1, COALESCE(NEW.quantity, 0),
        COALESCE(NEW.received_quantity, 0), COALESCE(NEW.base_quantity, 0),
        COALESCE(NEW.received_quantity * NEW.base_quantity / NULLIF(NEW.quantity, 0), 0),
        NEW.pack_assumed, (NEW.quantity IS NOT NULL AND NEW.base_quantity IS NULL)
    FROM offers WHERE id = NEW.offer_id AND category NOT IN ('request', 'sale')
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received,
        base = base + excluded.base, base_received = base_received + excluded.base_received,
        assumed = assumed + excluded.assumed, unconverted = unconverted + excluded.unconverted;
END;
CREATE TRIGGER item_totals_line_removed AFTER DELETE ON offer_items BEGIN
    INSERT INTO item_totals (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT OLD.item, status, COALESCE(OLD.unit, ''), -1, -COALESCE(OLD.quantity, 0),
        -COALESCE(OLD.received_quantity, 0), -COALESCE(OLD.base_quantity, 0),
        -COALESCE(OLD.received_quantity * OLD.base_quantity / NULLIF(OLD.quantity, 0), 0),
        -OLD.pack_assumed, -(OLD.quantity IS NOT NULL AND OLD.base_quantity IS NULL)
    FROM offers WHERE id = OLD.offer_id AND category NOT IN ('request', 'sale')
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received,
        base = base + excluded.base, base_received = base_received + excluded.base_received,
        assumed = assumed + excluded.assumed, unconverted = unconverted + excluded.unconverted;
END;
CREATE TRIGGER item_totals_line_changed AFTER UPDATE OF item, quantity, unit, received_quantity,
    base_quantity, pack_assumed ON offer_items BEGIN
    INSERT INTO item_totals (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT OLD.item, status, COALESCE(OLD.unit, ''), -1, -COALESCE(OLD.quantity, 0),
        -COALESCE(OLD.received_quantity, 0), -COALESCE(OLD.base_quantity, 0),
        -COALESCE(OLD.received_quantity * OLD.base_quantity / NULLIF(OLD.quantity, 0), 0),
        -OLD.pack_assumed, -(OLD.quantity IS NOT NULL AND OLD.base_quantity IS NULL)
    FROM offers WHERE id = OLD.offer_id AND category NOT IN ('request', 'sale')
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received,
        base = base + excluded.base, base_received = base_received + excluded.base_received,
        assumed = assumed + excluded.assumed, unconverted = unconverted + excluded.unconverted;
    INSERT INTO item_totals (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT NEW.item, status, COALESCE(NEW.unit, ''), 1, COALESCE(NEW.quantity, 0),
        COALESCE(NEW.received_quantity, 0), COALESCE(NEW.base_quantity, 0),
        COALESCE(NEW.received_quantity * NEW.base_quantity / NULLIF(NEW.quantity, 0), 0),
        NEW.pack_assumed, (NEW.quantity IS NOT NULL AND NEW.base_quantity IS NULL)
    FROM offers WHERE id = NEW.offer_id AND category NOT IN ('request', 'sale')
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received,
        base = base + excluded.base, base_received = base_received + excluded.base_received,
        assumed = assumed + excluded.assumed, unconverted = unconverted + excluded.unconverted;
END;
CREATE TRIGGER item_totals_status_changed AFTER UPDATE OF status ON offers
WHEN OLD.status IS NOT NEW.status AND NEW.category NOT IN ('request', 'sale') BEGIN
    INSERT INTO item_totals (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT item, OLD.status, unit, -COUNT(*), -SUM(quantity), -SUM(received), -SUM(base),
        -SUM(base_received), -SUM(assumed), -SUM(unconverted)
    FROM item_line_shares WHERE offer_id = NEW.id GROUP BY item, unit
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received,
        base = base + excluded.base, base_received = base_received + excluded.base_received,
        assumed = assumed + excluded.assumed, unconverted = unconverted + excluded.unconverted;
    INSERT INTO item_totals (item, status, unit, lines, quantity, received, base, base_received, assumed, unconverted)
    SELECT item, NEW.status, unit, COUNT(*), SUM(quantity), SUM(received), SUM(base),
        SUM(base_received), SUM(assumed), SUM(unconverted)
    FROM item_line_shares WHERE offer_id = NEW.id GROUP BY item, unit
    ON CONFLICT (item, status, unit) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received,
        base = base + excluded.base, base_received = base_received + excluded.base_received,
        assumed = assumed + excluded.assumed, unconverted = unconverted + excluded.unconverted;
END;
