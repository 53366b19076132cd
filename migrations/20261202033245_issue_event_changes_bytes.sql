-- Modify "issue_events" table
ALTER TABLE "issue_events" ADD COLUMN "changes_bytes" integer NULL;
-- Set comment to column: "changes_bytes" on table: "issue_events"
COMMENT ON COLUMN "issue_events" ."changes_bytes" IS 'Bytes of changes as JSON text, counted once on write: ListIssueEvents ends a page by it without reading the changes (null for events written before the column: counted on read).';
