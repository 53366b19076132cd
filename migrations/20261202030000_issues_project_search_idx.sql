-- atlas:txmode none

-- CONCURRENTLY builds the index while issues stays readable and writable (it
-- cannot run in a transaction, hence txmode none); ~15 s at 1m issues.
-- btree_gin gives uuid a GIN operator class, so one GIN index holds both the
-- project and the words of a search (a trusted extension: the database owner
-- may create it). If the build fails it leaves an INVALID index behind: drop it
-- (DROP INDEX CONCURRENTLY issues_project_search_idx) before applying again.
CREATE EXTENSION IF NOT EXISTS btree_gin;
-- Create index "issues_project_search_idx" to table: "issues"
CREATE INDEX CONCURRENTLY "issues_project_search_idx" ON "issues" USING gin ("project_uid", "search");
-- Set comment to index: "issues_project_search_idx" on table: "issues"
COMMENT ON INDEX "issues_project_search_idx" IS 'Full-text search of ListIssues (websearch_to_tsquery) within one project (btree_gin).';
