-- Modify "projects" table
ALTER TABLE "projects" ADD COLUMN "access_revision" integer NOT NULL DEFAULT 0;
-- Set comment to column: "access_revision" on table: "projects"
COMMENT ON COLUMN "projects" ."access_revision" IS 'Bumped under the row lock by every change that may end someone''s access (a member removed or given another role, the project deleted); a read of issue events carries it, so open streams re-check access before delivering what came after.';
