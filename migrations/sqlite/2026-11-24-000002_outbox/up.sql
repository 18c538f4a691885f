-- Changes to forward to Genesys Cloud. One row per resource with something undelivered: every
-- accepted change upserts it in the same transaction as the resource, so a create and five
-- patches before delivery become one row ("bring Genesys to the stored state"), and `revision`
-- counts the changes it stands for. The worker deletes the row after delivery only if its
-- revision is still the one it delivered (a change during delivery keeps it pending).
CREATE TABLE outbox (
    kind TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    resource_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('sync', 'delete')),
    -- For a delete: what Genesys needs to find the resource once the document is gone.
    user_name TEXT,
    revision BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    last_error TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (kind, resource_id)
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (not_before, created);

-- Changes Genesys refused for good (a 4xx other than 409/429): kept with their error until an
-- operator retries them (`scim-bridge outbox retry`). They never block other resources.
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
) WITHOUT ROWID;

-- The Genesys id of each delivered resource.
CREATE TABLE genesys_links (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    genesys_id TEXT NOT NULL,
    PRIMARY KEY (kind, resource_id)
) WITHOUT ROWID;
