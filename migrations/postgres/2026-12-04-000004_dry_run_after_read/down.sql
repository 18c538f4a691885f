ALTER TABLE dry_run_requests DROP COLUMN body_after_read;
