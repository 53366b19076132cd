-- atlas:txmode none

-- comments and issue_labels get the project_uid every other project table has:
-- the key a sharded database (DEPLOYMENT.md, "Towards distributed SQL") places
-- rows by, filled on write from here on. Outside a transaction (txmode none),
-- so the indexes build CONCURRENTLY (issues stays readable and writable; about
-- as long as issues_project_search_idx took) and the backfill commits in
-- batches instead of holding every comment's row lock at once. If a statement
-- fails, drop the INVALID index it may leave (DROP INDEX CONCURRENTLY ...)
-- before applying again; the other statements may run twice.
--
-- The columns stay NULL-able: a process of the release before this one, still
-- serving while this runs, writes rows without them. The composite foreign
-- keys below check every row that has one (a NULL skips them, as SQL's MATCH
-- SIMPLE says), so a project_uid, once written, is its issue's and its label's.
-- NOT NULL comes with a later release, after a last backfill of the rows
-- those processes wrote.

-- Modify "comments" table
ALTER TABLE "comments" ADD COLUMN IF NOT EXISTS "project_uid" uuid NULL;
-- Set comment to column: "project_uid" on table: "comments"
COMMENT ON COLUMN "comments" ."project_uid" IS 'The issue''s project, the key a sharded database places the row by: written with the row, backfilled; NULL only from a process older than the column, so not yet NOT NULL.';
-- Modify "issue_labels" table
ALTER TABLE "issue_labels" ADD COLUMN IF NOT EXISTS "project_uid" uuid NULL;
-- Set comment to column: "project_uid" on table: "issue_labels"
COMMENT ON COLUMN "issue_labels" ."project_uid" IS 'The issue''s (and the label''s) project, the key a sharded database places the row by: written with the row, backfilled; NULL only from a process older than the column, so not yet NOT NULL.';

-- Create index "issues_project_uid_key" to table: "issues"
CREATE UNIQUE INDEX CONCURRENTLY "issues_project_uid_key" ON "issues" ("project_uid", "uid");
-- Set comment to index: "issues_project_uid_key" on table: "issues"
COMMENT ON INDEX "issues_project_uid_key" IS 'What the project-scoped foreign keys of comments and issue_labels refer to; the primary key once uid alone is not (DEPLOYMENT.md, Towards distributed SQL).';
-- Create index "labels_project_uid_key" to table: "labels"
CREATE UNIQUE INDEX CONCURRENTLY "labels_project_uid_key" ON "labels" ("project_uid", "uid");
-- Set comment to index: "labels_project_uid_key" on table: "labels"
COMMENT ON INDEX "labels_project_uid_key" IS 'What issue_labels'' project-scoped foreign key refers to; the primary key once uid alone is not (DEPLOYMENT.md, Towards distributed SQL).';

-- Backfill, walking issues by primary key 1,000 at a time: each batch fills
-- those issues' comments and labels (found by their issue_uid indexes) and
-- commits. Rows already filled are left as they are.
DO $$
DECLARE
  batch uuid[];
  last_uid uuid;
BEGIN
  LOOP
    SELECT array_agg(uid ORDER BY uid) INTO batch
    FROM (SELECT uid FROM issues WHERE last_uid IS NULL OR uid > last_uid ORDER BY uid LIMIT 1000) AS next;
    EXIT WHEN batch IS NULL;
    UPDATE comments SET project_uid = issues.project_uid
    FROM issues
    WHERE issues.uid = ANY (batch) AND comments.issue_uid = issues.uid AND comments.project_uid IS NULL;
    UPDATE issue_labels SET project_uid = issues.project_uid
    FROM issues
    WHERE issues.uid = ANY (batch) AND issue_labels.issue_uid = issues.uid AND issue_labels.project_uid IS NULL;
    last_uid := batch[array_length(batch, 1)];
    COMMIT;
  END LOOP;
END
$$;

-- NOT VALID takes the table's lock only for a moment; VALIDATE then checks the
-- existing rows while reads and writes go on.
ALTER TABLE "comments" ADD CONSTRAINT "comments_project_issue_fk" FOREIGN KEY ("project_uid", "issue_uid") REFERENCES "issues" ("project_uid", "uid") ON UPDATE NO ACTION ON DELETE CASCADE NOT VALID;
ALTER TABLE "comments" VALIDATE CONSTRAINT "comments_project_issue_fk";
ALTER TABLE "issue_labels" ADD CONSTRAINT "issue_labels_project_issue_fk" FOREIGN KEY ("project_uid", "issue_uid") REFERENCES "issues" ("project_uid", "uid") ON UPDATE NO ACTION ON DELETE CASCADE NOT VALID;
ALTER TABLE "issue_labels" VALIDATE CONSTRAINT "issue_labels_project_issue_fk";
ALTER TABLE "issue_labels" ADD CONSTRAINT "issue_labels_project_label_fk" FOREIGN KEY ("project_uid", "label_uid") REFERENCES "labels" ("project_uid", "uid") ON UPDATE NO ACTION ON DELETE CASCADE NOT VALID;
ALTER TABLE "issue_labels" VALIDATE CONSTRAINT "issue_labels_project_label_fk";
