-- A bulk decision's undo (#16), as SQLite's 0025: the undo windows a bulk
-- decline or spam opens are one batch, named by its first window's id
-- (store::undo_batches).
ALTER TABLE decision_undos ADD COLUMN batch_id BIGINT;
CREATE INDEX decision_undos_by_batch ON decision_undos (batch_id) WHERE batch_id IS NOT NULL;
