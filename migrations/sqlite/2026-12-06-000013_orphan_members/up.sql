-- Group members must name a stored User or Group (a member naming none is refused since this
-- version). Rows stored earlier that name nothing are removed; their groups get a new version.
UPDATE resources
SET version = version + 1,
    last_modified = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
WHERE seq IN (
    SELECT group_seq FROM group_members m
    WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.id = m.member_id)
);
DELETE FROM group_members
WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.id = group_members.member_id);
