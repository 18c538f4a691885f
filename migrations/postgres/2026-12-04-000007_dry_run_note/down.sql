ALTER TABLE dry_run_requests DROP COLUMN note;
