-- Site time zones (#16), as SQLite's 0026: the IANA zone of each pickup
-- site whose needs-file entry (or the file's top-level `timezone`) names one.
CREATE TABLE site_zones (
    site      TEXT PRIMARY KEY,
    timezone  TEXT NOT NULL
);
