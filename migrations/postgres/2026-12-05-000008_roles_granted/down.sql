ALTER TABLE genesys_owned_users DROP COLUMN roles_granted;
