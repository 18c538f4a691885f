DROP TABLE genesys_group_members;
