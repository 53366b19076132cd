-- The new columns of issues are NULL, so adding them rewrites nothing; the
-- CHECK and the foreign key read issues once to validate (every row passes).
-- Add value to enum type: "issue_event_kind"
ALTER TYPE "issue_event_kind" ADD VALUE 'relation_created';
-- Add value to enum type: "issue_event_kind"
ALTER TYPE "issue_event_kind" ADD VALUE 'relation_deleted';
-- Create enum type "issue_relation_kind"
CREATE TYPE "issue_relation_kind" AS ENUM ('blocks', 'duplicate_of', 'relates_to');
-- Modify "issue_events" table
ALTER TABLE "issue_events" ADD COLUMN "relation_uid" uuid NULL;
-- Set comment to column: "relation_uid" on table: "issue_events"
COMMENT ON COLUMN "issue_events" ."relation_uid" IS 'For relation events: the relation (which may since be deleted).';
-- Modify "issues" table
ALTER TABLE "issues" ADD CONSTRAINT "issues_parent_has_order" CHECK (((parent_uid IS NULL) = (sub_issue_order IS NULL)) AND (parent_uid IS DISTINCT FROM uid)), ADD COLUMN "parent_uid" uuid NULL, ADD COLUMN "sub_issue_order" integer NULL, ADD CONSTRAINT "issues_parent_fk" FOREIGN KEY ("parent_uid") REFERENCES "issues" ("uid") ON UPDATE NO ACTION ON DELETE NO ACTION;
-- Set comment to column: "parent_uid" on table: "issues"
COMMENT ON COLUMN "issues" ."parent_uid" IS 'The issue this one is a sub-issue of, in the same project (sub-issues never cross projects).';
-- Set comment to column: "sub_issue_order" on table: "issues"
COMMENT ON COLUMN "issues" ."sub_issue_order" IS 'Its place among its parent''s sub-issues (ties by number); set exactly when parent_uid is.';
-- Create "issue_relations" table
CREATE TABLE "issue_relations" ("uid" uuid NOT NULL DEFAULT gen_random_uuid(), "subject_uid" uuid NOT NULL, "object_uid" uuid NOT NULL, "kind" "issue_relation_kind" NOT NULL, "creator_uid" uuid NOT NULL, "create_time" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("uid"), CONSTRAINT "issue_relations_creator_fk" FOREIGN KEY ("creator_uid") REFERENCES "users" ("uid") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "issue_relations_object_fk" FOREIGN KEY ("object_uid") REFERENCES "issues" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "issue_relations_subject_fk" FOREIGN KEY ("subject_uid") REFERENCES "issues" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "issue_relations_not_self" CHECK (subject_uid <> object_uid));
-- Create index "issue_relations_object_idx" to table: "issue_relations"
CREATE INDEX "issue_relations_object_idx" ON "issue_relations" ("object_uid", "kind");
-- Create index "issue_relations_subject_idx" to table: "issue_relations"
CREATE INDEX "issue_relations_subject_idx" ON "issue_relations" ("subject_uid", "kind");
-- Create index "issue_relations_pair_key" to table: "issue_relations"
CREATE UNIQUE INDEX "issue_relations_pair_key" ON "issue_relations" ((
CASE
    WHEN (kind = 'relates_to'::issue_relation_kind) THEN LEAST(subject_uid, object_uid)
    ELSE subject_uid
END), (
CASE
    WHEN (kind = 'relates_to'::issue_relation_kind) THEN GREATEST(subject_uid, object_uid)
    ELSE object_uid
END), "kind");
-- Set comment to table: "issue_relations"
COMMENT ON TABLE "issue_relations" IS 'Links between issues, stored once: subject blocks / is a duplicate of / relates to object. The inverse (BLOCKED_BY, DUPLICATED_BY) is what the object shows.';
-- Set comment to index: "issue_relations_object_idx" on table: "issue_relations"
COMMENT ON INDEX "issue_relations_object_idx" IS 'An issue''s relations from the other side (and its blockers).';
-- Set comment to index: "issue_relations_pair_key" on table: "issue_relations"
COMMENT ON INDEX "issue_relations_pair_key" IS 'One relation of a kind per pair; RELATES_TO, which has no direction, once per pair either way round.';
-- Set comment to index: "issue_relations_subject_idx" on table: "issue_relations"
COMMENT ON INDEX "issue_relations_subject_idx" IS 'An issue''s relations from its own side.';
