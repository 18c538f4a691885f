-- PostgreSQL twin of migrations/sqlite/2026-12-06-000013_audit (see there).
CREATE TABLE audit_log (
    seq BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('create', 'replace', 'patch', 'delete')),
    bulk BOOLEAN NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    resource_id TEXT NOT NULL,
    name TEXT,
    version BIGINT,
    paths TEXT,
    actor_type TEXT NOT NULL CHECK (actor_type IN ('token', 'bootstrap', 'jwt')),
    actor TEXT,
    issuer TEXT,
    address TEXT,
    request_id TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_resource_id ON audit_log (resource_id);
