-- What the dry run found out about a change beyond its requests: a collision with a Genesys
-- user the bridge did not create (the change would be parked: no request), an adoption, or
-- what it could not check without Genesys credentials.
ALTER TABLE dry_run_requests ADD COLUMN note TEXT;
