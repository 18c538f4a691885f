-- Each bucket of 1024 rows (seq >> 10) now counts its rows in 16 shard rows, by the low 4 bits
-- of seq: key = bucket * 16 + (seq & 15). Concurrent creates take consecutive seqs, so they
-- update different rows instead of all waiting for the one row of the newest bucket (PostgreSQL
-- holds that row's lock until each create commits). Existing counts move to shard 0 of their
-- bucket; through negative keys, so no key collides with one not yet moved.
UPDATE page_counts SET bucket = -(bucket * 16) - 1;
UPDATE page_counts SET bucket = -bucket - 1;
