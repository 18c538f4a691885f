-- PostgreSQL twin of migrations/sqlite/2026-11-24-000001_initial: the same tables, columns and
-- indexes. Text columns that filters compare or sort (`gt`, `lt`, `sortBy`) use the "C"
-- collation, so ordering is by code point as in SQLite, whatever the server's locale.
CREATE TABLE resources (
    seq BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    -- Lower-cased by the store (userName is caseExact=false): uniqueness is case-insensitive.
    user_name TEXT COLLATE "C" UNIQUE,
    external_id TEXT COLLATE "C",
    display_name TEXT COLLATE "C",
    active BOOLEAN,
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    version BIGINT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX resources_kind_seq ON resources (kind, seq);
CREATE INDEX resources_kind_external_id ON resources (kind, external_id);
CREATE INDEX resources_kind_display_name ON resources (kind, display_name);
CREATE INDEX resources_kind_last_modified ON resources (kind, last_modified);
CREATE INDEX resources_kind_created ON resources (kind, created);
CREATE INDEX resources_kind_active ON resources (kind, active);

CREATE TABLE resource_values (
    seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    attr TEXT NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (attr, value, seq)
);
CREATE INDEX resource_values_seq ON resource_values (seq);

CREATE TABLE group_members (
    group_seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    member_id TEXT COLLATE "C" NOT NULL,
    member_type TEXT NOT NULL,
    display TEXT,
    PRIMARY KEY (group_seq, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE page_counts (
    kind TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, bucket)
);

CREATE TABLE tokens (
    name TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL
);

-- SQLite's instr(haystack, needle), which the filter SQL uses for `co`.
CREATE FUNCTION instr(TEXT, TEXT) RETURNS INTEGER AS $$ SELECT strpos($1, $2) $$ LANGUAGE SQL IMMUTABLE STRICT;
