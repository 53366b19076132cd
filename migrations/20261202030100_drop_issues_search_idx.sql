-- atlas:txmode none

-- issues_project_search_idx serves every search (ListIssues always names the
-- project); CONCURRENTLY waits for queries still using the old index instead of
-- locking issues against them.
-- Drop index "issues_search_idx" from table: "issues"
DROP INDEX CONCURRENTLY "issues_search_idx";
