-- A dry-run request whose body depends on a read made first (a Platform user's version, a
-- group's current members): the body holds the desired values, of which only those that
-- differ from Genesys's are sent.
ALTER TABLE dry_run_requests ADD COLUMN body_after_read BOOLEAN NOT NULL DEFAULT FALSE;
