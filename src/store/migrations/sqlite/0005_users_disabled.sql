-- A disabled account cannot log in and has no sessions; `users add` on it
-- enables it again. NULL: enabled.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
