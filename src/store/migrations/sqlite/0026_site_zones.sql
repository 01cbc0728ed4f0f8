-- Site time zones (#16): the IANA zone of each pickup site whose needs-file
-- entry (or the file's top-level `timezone`) names one. A site not listed is
-- in the server's local zone, as before. Bookings stay in the site's local
-- time; the zone says when "now" is there and what instant a slot is.
CREATE TABLE site_zones (
    site      TEXT PRIMARY KEY,
    timezone  TEXT NOT NULL
);
