-- Users and groups: each resource is its canonical JSON document plus the columns that filters,
-- sorting and uniqueness need (lower-cased where the attribute is caseExact=false).
CREATE TABLE resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    id TEXT NOT NULL UNIQUE,
    user_name TEXT UNIQUE,
    external_id TEXT,
    display_name TEXT,
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

-- Values of multi-valued attributes that filters look up (emails.value, phoneNumbers.value),
-- lower-cased: both are caseExact=false in RFC 7643.
CREATE TABLE resource_values (
    seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    attr TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (attr, value, seq)
) WITHOUT ROWID;
CREATE INDEX resource_values_seq ON resource_values (seq);

-- Group members are rows, so one member added to a large group writes one row. A member id
-- need not name a stored resource (IdPs may sequence memberships before users).
CREATE TABLE group_members (
    group_seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    display TEXT,
    PRIMARY KEY (group_seq, member_id)
) WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (member_id);

-- How many resources of a kind live in each block of 1024 seq values: finding the page that
-- starts at startIndex reads these counts instead of stepping over every earlier row.
CREATE TABLE page_counts (
    kind TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, bucket)
) WITHOUT ROWID;

-- Static bearer tokens, stored as SHA-256 hashes only.
CREATE TABLE tokens (
    name TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL
);
