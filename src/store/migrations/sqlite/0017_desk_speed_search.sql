-- The desk at 100,000 offers (#16): a stored priority, running totals for
-- the dashboard, the indexes the desk's pages read through, and a full-text
-- index of what staff search. Each is kept in step by triggers or by the
-- write that changes its rows, in the same transaction.

-- An offer's priority (sum over its items of quantity, 1 when unknown,
-- times the item's need weight), kept when items change (triggers below;
-- read rounded to 6 places, as sums and differences of shares drift)
-- and recomputed for every offer when the needs change (load_operations).
ALTER TABLE offers ADD COLUMN priority REAL NOT NULL DEFAULT 0;
UPDATE offers SET priority = COALESCE((SELECT SUM(COALESCE(i.quantity, 1) * n.weight)
    FROM offer_items i JOIN needs n ON n.item = i.item WHERE i.offer_id = offers.id), 0);

-- Incremental (each line's share added or taken away), so an offer of
-- thousands of lines costs one step per line, not a sum over all of them.
CREATE TRIGGER offer_priority_item_added AFTER INSERT ON offer_items BEGIN
    UPDATE offers SET priority = priority
        + COALESCE((SELECT COALESCE(NEW.quantity, 1) * weight FROM needs WHERE item = NEW.item), 0)
    WHERE id = NEW.offer_id;
END;
CREATE TRIGGER offer_priority_item_changed AFTER UPDATE OF item, quantity ON offer_items BEGIN
    UPDATE offers SET priority = priority
        - COALESCE((SELECT COALESCE(OLD.quantity, 1) * weight FROM needs WHERE item = OLD.item), 0)
    WHERE id = OLD.offer_id;
    UPDATE offers SET priority = priority
        + COALESCE((SELECT COALESCE(NEW.quantity, 1) * weight FROM needs WHERE item = NEW.item), 0)
    WHERE id = NEW.offer_id;
END;
CREATE TRIGGER offer_priority_item_removed AFTER DELETE ON offer_items BEGIN
    UPDATE offers SET priority = priority
        - COALESCE((SELECT COALESCE(OLD.quantity, 1) * weight FROM needs WHERE item = OLD.item), 0)
    WHERE id = OLD.offer_id;
END;

-- The queue reads the open offers (new, needs_info: OfferStatus::is_open;
-- the list is written as OfferStatus::sql_list writes it, so the queue's
-- filter matches this partial index) in priority order.
CREATE INDEX offers_open_by_priority ON offers (priority DESC, id) WHERE status IN ('new', 'needs_info');
CREATE INDEX offers_by_status_priority ON offers (status, priority DESC, id);
CREATE INDEX offers_by_created ON offers (created_at);
CREATE INDEX offers_by_category ON offers (category);
CREATE INDEX offers_by_language ON offers (language);
CREATE INDEX offers_by_donor_nocase ON offers (donor_email COLLATE NOCASE);
CREATE INDEX offer_items_by_item ON offer_items (item, offer_id);
CREATE INDEX outbox_by_offer ON outbox (offer_id, id);

-- Per item and offer status: item lines, quantity and received quantity,
-- so the dashboard sums a few rows instead of every item line.
CREATE TABLE item_totals (
    item      TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    lines     INTEGER NOT NULL DEFAULT 0,
    quantity  REAL    NOT NULL DEFAULT 0,
    received  REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (item, status)
) WITHOUT ROWID;
INSERT INTO item_totals (item, status, lines, quantity, received)
    SELECT i.item, o.status, COUNT(*), COALESCE(SUM(i.quantity), 0), COALESCE(SUM(i.received_quantity), 0)
    FROM offer_items i JOIN offers o ON o.id = i.offer_id WHERE true GROUP BY i.item, o.status;

CREATE TRIGGER item_totals_line_added AFTER INSERT ON offer_items BEGIN
    INSERT INTO item_totals (item, status, lines, quantity, received)
    SELECT NEW.item, status, 1, COALESCE(NEW.quantity, 0), COALESCE(NEW.received_quantity, 0)
    FROM offers WHERE id = NEW.offer_id
    ON CONFLICT (item, status) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received;
END;
CREATE TRIGGER item_totals_line_removed AFTER DELETE ON offer_items BEGIN
    INSERT INTO item_totals (item, status, lines, quantity, received)
    SELECT OLD.item, status, -1, -COALESCE(OLD.quantity, 0), -COALESCE(OLD.received_quantity, 0)
    FROM offers WHERE id = OLD.offer_id
    ON CONFLICT (item, status) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received;
END;
CREATE TRIGGER item_totals_line_changed AFTER UPDATE OF item, quantity, received_quantity ON offer_items BEGIN
    INSERT INTO item_totals (item, status, lines, quantity, received)
    SELECT OLD.item, status, -1, -COALESCE(OLD.quantity, 0), -COALESCE(OLD.received_quantity, 0)
    FROM offers WHERE id = OLD.offer_id
    ON CONFLICT (item, status) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received;
    INSERT INTO item_totals (item, status, lines, quantity, received)
    SELECT NEW.item, status, 1, COALESCE(NEW.quantity, 0), COALESCE(NEW.received_quantity, 0)
    FROM offers WHERE id = NEW.offer_id
    ON CONFLICT (item, status) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received;
END;
CREATE TRIGGER item_totals_status_changed AFTER UPDATE OF status ON offers
WHEN OLD.status IS NOT NEW.status BEGIN
    INSERT INTO item_totals (item, status, lines, quantity, received)
    SELECT item, OLD.status, -COUNT(*), -COALESCE(SUM(quantity), 0), -COALESCE(SUM(received_quantity), 0)
    FROM offer_items WHERE offer_id = NEW.id GROUP BY item
    ON CONFLICT (item, status) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received;
    INSERT INTO item_totals (item, status, lines, quantity, received)
    SELECT item, NEW.status, COUNT(*), COALESCE(SUM(quantity), 0), COALESCE(SUM(received_quantity), 0)
    FROM offer_items WHERE offer_id = NEW.id GROUP BY item
    ON CONFLICT (item, status) DO UPDATE SET lines = lines + excluded.lines,
        quantity = quantity + excluded.quantity, received = received + excluded.received;
END;

-- What staff search (store::search), one row per offer (rowid = offer id):
-- its reference, donor, subject, phone digits, pickup place, items, notes
-- and the clean text of its messages (never the raw MIME). Written whole
-- when the offer is created; items, notes and the offer's own columns keep
-- it in step through the triggers below; a donor's reply adds its text.
CREATE VIRTUAL TABLE offer_search USING fts5 (
    reference, donor, subject, phones, pickup, items, notes, text,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

-- Offers made before this index have no clean text in it (the text is
-- only known while processing); everything else is filled here.
INSERT INTO offer_search (rowid, reference, donor, subject, phones, pickup, items, notes, text)
SELECT o.id, 'SL-' || printf('%06d', o.id),
    COALESCE(o.donor_name, '') || ' ' || o.donor_email || ' '
        || COALESCE(json_extract(o.contact_json, '$.name'), '') || ' '
        || COALESCE(json_extract(o.contact_json, '$.organization'), ''),
    o.subject,
    -- The phone's digits, and its last 10 and 7 (as store::search writes them).
    (SELECT CASE WHEN length(d) >= 7 THEN d || ' ' || substr(d, -10) || ' ' || substr(d, -7) ELSE '' END
     FROM (SELECT replace(replace(replace(replace(replace(replace(COALESCE(json_extract(o.contact_json, '$.phone'), ''), ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', '') AS d)),
    COALESCE(json_extract(o.pickup_json, '$.address'), '') || ' '
        || COALESCE(json_extract(o.pickup_json, '$.postal_code'), ''),
    COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
        FROM offer_items i WHERE i.offer_id = o.id), ''),
    COALESCE((SELECT group_concat(n.body, ' ') FROM notes n WHERE n.offer_id = o.id), ''),
    ''
FROM offers o;

CREATE TRIGGER offer_search_items_added AFTER INSERT ON offer_items BEGIN
    UPDATE offer_search SET items = COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
        FROM offer_items i WHERE i.offer_id = NEW.offer_id), '')
    WHERE rowid = NEW.offer_id;
END;
CREATE TRIGGER offer_search_items_changed AFTER UPDATE OF item, model, unit ON offer_items BEGIN
    UPDATE offer_search SET items = COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
        FROM offer_items i WHERE i.offer_id = NEW.offer_id), '')
    WHERE rowid = NEW.offer_id;
END;
CREATE TRIGGER offer_search_items_removed AFTER DELETE ON offer_items BEGIN
    UPDATE offer_search SET items = COALESCE((SELECT group_concat(i.item || ' ' || COALESCE(i.model, '') || ' ' || COALESCE(i.unit, ''), ' ')
        FROM offer_items i WHERE i.offer_id = OLD.offer_id), '')
    WHERE rowid = OLD.offer_id;
END;
CREATE TRIGGER offer_search_notes_added AFTER INSERT ON notes BEGIN
    UPDATE offer_search SET notes = COALESCE((SELECT group_concat(n.body, ' ') FROM notes n WHERE n.offer_id = NEW.offer_id), '')
    WHERE rowid = NEW.offer_id;
END;
CREATE TRIGGER offer_search_notes_changed AFTER UPDATE OF body ON notes BEGIN
    UPDATE offer_search SET notes = COALESCE((SELECT group_concat(n.body, ' ') FROM notes n WHERE n.offer_id = NEW.offer_id), '')
    WHERE rowid = NEW.offer_id;
END;
CREATE TRIGGER offer_search_notes_removed AFTER DELETE ON notes BEGIN
    UPDATE offer_search SET notes = COALESCE((SELECT group_concat(n.body, ' ') FROM notes n WHERE n.offer_id = OLD.offer_id), '')
    WHERE rowid = OLD.offer_id;
END;
CREATE TRIGGER offer_search_offer_changed
AFTER UPDATE OF donor_name, donor_email, subject, contact_json, pickup_json ON offers BEGIN
    UPDATE offer_search SET
        donor = COALESCE(NEW.donor_name, '') || ' ' || NEW.donor_email || ' '
            || COALESCE(json_extract(NEW.contact_json, '$.name'), '') || ' '
            || COALESCE(json_extract(NEW.contact_json, '$.organization'), ''),
        subject = NEW.subject,
        pickup = COALESCE(json_extract(NEW.pickup_json, '$.address'), '') || ' '
            || COALESCE(json_extract(NEW.pickup_json, '$.postal_code'), '')
    WHERE rowid = NEW.id;
END;
