-- Slots and pickups (#16): each site's opening hours and capacity per hour
-- (from the needs file), and the one booking each accepted offer holds: a
-- drop-off at a site or a pickup at the donor's address, with the calendar
-- event's UID and SEQUENCE so a reschedule updates the donor's event and a
-- cancellation removes it. A cancelled booking frees its slot.
CREATE TABLE site_slots (
    site        TEXT    PRIMARY KEY,
    hours_json  TEXT    NOT NULL,
    capacity    INTEGER NOT NULL CHECK (capacity > 0)
);

CREATE TABLE slot_bookings (
    offer_id    INTEGER PRIMARY KEY REFERENCES offers(id),
    site        TEXT    NOT NULL,
    starts_at   TEXT    NOT NULL,
    ends_at     TEXT    NOT NULL,
    mode        TEXT    NOT NULL CHECK (mode IN ('dropoff', 'pickup')),
    address     TEXT,
    uid         TEXT    NOT NULL,
    sequence    INTEGER NOT NULL DEFAULT 0,
    state       TEXT    NOT NULL DEFAULT 'booked' CHECK (state IN ('booked', 'cancelled')),
    overbooked  INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX slot_bookings_by_site ON slot_bookings (site, starts_at) WHERE state = 'booked';
