-- The members the bridge itself added to a Genesys group: group sync removes only these, so a
-- member an administrator added in Genesys stays. Keyed by the bridge's group and the Genesys
-- group it was matched with by name (a renamed group starts again with none).
CREATE TABLE genesys_group_members (
    group_id TEXT NOT NULL,
    genesys_group_id TEXT NOT NULL,
    genesys_user_id TEXT NOT NULL,
    PRIMARY KEY (group_id, genesys_group_id, genesys_user_id)
);
