DROP FUNCTION instr(TEXT, TEXT);
DROP TABLE tokens;
DROP TABLE page_counts;
DROP TABLE group_members;
DROP TABLE resource_values;
DROP TABLE resources;
