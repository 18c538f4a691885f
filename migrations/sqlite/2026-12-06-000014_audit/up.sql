-- The audit trail: one row per accepted write of a User or Group (create, replace, patch,
-- delete; alone or as an operation of a Bulk request), inserted in the same transaction as the
-- write, so a change is never without its row and a write that failed leaves none. It says who
-- (the static token's name, `bootstrap`, or a JWT's subject and issuer), what (the resource's
-- type, id and userName or displayName, the version after the write, the attribute paths a
-- PATCH named), when, from which peer address and under which request id. Never a value: no
-- e-mail address, phone number or secret beyond the resource's id and userName. Reads and
-- writes that change nothing are not recorded. Kept until pruned (docs/audit.md).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('create', 'replace', 'patch', 'delete')),
    -- The write was an operation of a Bulk request.
    bulk BOOLEAN NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    resource_id TEXT NOT NULL,
    -- userName (users) or displayName (groups): after the write; for a delete, before it.
    name TEXT,
    -- meta.version after the write; NULL for a delete.
    version BIGINT,
    -- PATCH: the attribute paths its operations named, a JSON array of strings.
    paths TEXT,
    actor_type TEXT NOT NULL CHECK (actor_type IN ('token', 'bootstrap', 'jwt')),
    -- The token's name, or the JWT's `sub` (NULL when it has none); NULL for the bootstrap token.
    actor TEXT,
    -- The JWT's `iss`.
    issuer TEXT,
    -- The peer's IP address (no proxy header is trusted).
    address TEXT,
    request_id TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_resource_id ON audit_log (resource_id);
