-- PostgreSQL twin of migrations/sqlite/2026-11-24-000002_outbox (see there).
CREATE TABLE outbox (
    kind TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    resource_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('sync', 'delete')),
    user_name TEXT,
    revision BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    last_error TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (kind, resource_id)
);
CREATE INDEX outbox_due ON outbox (not_before, created);

CREATE TABLE outbox_dead (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    op TEXT NOT NULL,
    user_name TEXT,
    revision BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    created BIGINT NOT NULL,
    died BIGINT NOT NULL,
    PRIMARY KEY (kind, resource_id)
);

CREATE TABLE genesys_links (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    genesys_id TEXT NOT NULL,
    PRIMARY KEY (kind, resource_id)
);
