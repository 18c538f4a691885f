DROP TABLE reconcile_reports;
DROP TABLE dry_run_requests;
