-- The Genesys roles (as genesys.roles names them) the bridge granted each user, or found it
-- holding, since the user was last created or (re)activated: a JSON list; NULL when none.
-- Genesys drops a user's direct roles when it is set inactive, so the list is emptied then and
-- the roles are granted again at the next activation.
ALTER TABLE genesys_owned_users ADD COLUMN roles_granted TEXT;
