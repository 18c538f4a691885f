-- Keyset paging (RFC 9865 cursors, and sortBy): a list ordered by a column reads the rows of
-- one kind in (column, seq) order, starting after a cursor's position. These indexes hold that
-- order, so a page is one range read wherever it starts, and `column eq` pages come out in
-- storage order without a sort. Each covers the (kind, column) index it replaces. The unique
-- index on user_name (case-insensitive uniqueness: the store writes it lower-cased) stays.
CREATE INDEX resources_kind_id_seq ON resources (kind, id, seq);
CREATE INDEX resources_kind_user_name_seq ON resources (kind, user_name, seq);
CREATE INDEX resources_kind_external_id_seq ON resources (kind, external_id, seq);
CREATE INDEX resources_kind_display_name_seq ON resources (kind, display_name, seq);
CREATE INDEX resources_kind_last_modified_seq ON resources (kind, last_modified, seq);
CREATE INDEX resources_kind_created_seq ON resources (kind, created, seq);
CREATE INDEX resources_kind_active_seq ON resources (kind, active, seq);
DROP INDEX resources_kind_external_id;
DROP INDEX resources_kind_display_name;
DROP INDEX resources_kind_last_modified;
DROP INDEX resources_kind_created;
DROP INDEX resources_kind_active;
