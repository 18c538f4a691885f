-- The Genesys users the bridge owns: those it created (the row is written before the create is
-- sent, with no Genesys id yet, so a retry whose earlier create got through knows the user is
-- its own) and those it was told to adopt. Rows outlive the SCIM resource: a user the bridge
-- deactivated that the IdP creates again is still the bridge's own. `how`: creating, created,
-- adopted, or adopt (an operator allowed adopting this userName once).
CREATE TABLE genesys_owned_users (
    resource_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    genesys_id TEXT,
    how TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- The fields of the user the bridge wrote last time (a JSON list of keys): only those are
    -- cleared when the IdP drops them; NULL before the first write.
    written TEXT,
    PRIMARY KEY (resource_id)
);
CREATE INDEX genesys_owned_users_genesys_id ON genesys_owned_users (genesys_id);
CREATE INDEX genesys_owned_users_user_name ON genesys_owned_users (user_name);
