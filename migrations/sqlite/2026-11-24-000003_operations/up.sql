-- Dry run (SCIM_BRIDGE_DRY_RUN=true): the requests the worker would have sent to Genesys, in
-- order, for `scim-bridge outbox list --dry-run` and /admin.
CREATE TABLE dry_run_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body TEXT
);

-- Reports of `scim-bridge reconcile` (JSON), newest last; /admin shows the last one.
CREATE TABLE reconcile_reports (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    report TEXT NOT NULL
);
