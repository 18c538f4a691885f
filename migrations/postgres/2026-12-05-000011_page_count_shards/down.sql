-- The shards of each bucket back into one row (key / 16).
CREATE TEMPORARY TABLE page_counts_folded AS
    SELECT kind, bucket / 16 AS bucket, SUM(n) AS n FROM page_counts GROUP BY kind, bucket / 16;
DELETE FROM page_counts;
INSERT INTO page_counts (kind, bucket, n) SELECT kind, bucket, n FROM page_counts_folded;
DROP TABLE page_counts_folded;
