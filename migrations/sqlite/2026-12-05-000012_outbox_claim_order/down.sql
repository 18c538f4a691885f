DROP INDEX outbox_claim_order;
