-- PostgreSQL twin of migrations/sqlite/2026-11-24-000003_operations (see there).
CREATE TABLE dry_run_requests (
    seq BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body TEXT
);

CREATE TABLE reconcile_reports (
    seq BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    report TEXT NOT NULL
);
