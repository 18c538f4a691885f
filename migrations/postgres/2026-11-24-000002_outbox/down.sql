DROP TABLE genesys_links;
DROP TABLE outbox_dead;
DROP TABLE outbox;
