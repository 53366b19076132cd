-- atlas:txmode none

-- CONCURRENTLY builds the index while issues stays readable and writable (it
-- cannot run in a transaction, hence txmode none). If the build fails it
-- leaves an INVALID index behind: drop it (DROP INDEX CONCURRENTLY
-- issues_parent_order_idx) before applying again.
-- Create index "issues_parent_order_idx" to table: "issues"
CREATE INDEX CONCURRENTLY "issues_parent_order_idx" ON "issues" ("parent_uid", "sub_issue_order", "number") WHERE (parent_uid IS NOT NULL);
-- Set comment to index: "issues_parent_order_idx" on table: "issues"
COMMENT ON INDEX "issues_parent_order_idx" IS 'A parent''s sub-issues in order (ListIssues filter.parent), and the walks of the sub-issue tree.';
