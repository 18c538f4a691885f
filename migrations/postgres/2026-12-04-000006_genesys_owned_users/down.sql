DROP TABLE genesys_owned_users;
