-- PostgreSQL twin of migrations/sqlite/2026-12-05-000010_keyset_indexes: the same indexes.
-- Keyset paging (RFC 9865 cursors, and sortBy) reads the rows of one kind in (column, seq)
-- order, starting after a cursor's position; each index covers the (kind, column) one it
-- replaces. The unique index on user_name (case-insensitive uniqueness) stays.
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
