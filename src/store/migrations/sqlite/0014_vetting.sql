-- What staff check before taking supplies from a seller (rules::Vetting as
-- JSON): price per piece, minimum order, NIOSH and FDA numbers. NULL when the
-- message states none.
ALTER TABLE offers ADD COLUMN vetting_json TEXT;
