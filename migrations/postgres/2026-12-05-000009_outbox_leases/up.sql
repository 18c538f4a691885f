-- Replicas share the outbox: a replica claims due rows by writing its name and a lease end;
-- another replica takes a row only once the lease has run out (its holder died), and the
-- holder renews its leases while it works. One row per resource keeps each resource's
-- changes in order across replicas.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until BIGINT;

-- One Genesys rate budget for the whole deployment: a token bucket every replica draws from
-- before each Genesys request, refilled at `per_minute` (the rate Genesys's rate-limit headers
-- last reported, as any replica saw them).
CREATE TABLE rate_budget (
    name TEXT PRIMARY KEY NOT NULL,
    tokens DOUBLE PRECISION NOT NULL,
    updated BIGINT NOT NULL,
    per_minute DOUBLE PRECISION
);
