-- Create enum type "member_role"
CREATE TYPE "member_role" AS ENUM ('reader', 'writer', 'admin');
-- Create enum type "issue_state"
CREATE TYPE "issue_state" AS ENUM ('open', 'in_progress', 'closed');
-- Create enum type "close_reason"
CREATE TYPE "close_reason" AS ENUM ('completed', 'not_planned', 'duplicate');
-- Create enum type "issue_priority"
CREATE TYPE "issue_priority" AS ENUM ('urgent', 'high', 'medium', 'low', 'none');
-- Create enum type "issue_event_kind"
CREATE TYPE "issue_event_kind" AS ENUM ('issue_created', 'issue_updated', 'issue_deleted', 'issue_undeleted', 'comment_created', 'comment_updated', 'comment_deleted');
-- Modify "projects" table
ALTER TABLE "projects" ADD COLUMN "delete_time" timestamptz NULL, ADD COLUMN "last_issue_number" bigint NOT NULL DEFAULT 0, ADD COLUMN "last_event_sequence" bigint NOT NULL DEFAULT 0;
-- Set comment to column: "last_issue_number" on table: "projects"
COMMENT ON COLUMN "projects" ."last_issue_number" IS 'Issue numbers are taken from here under the row lock, so they have no gaps.';
-- Set comment to column: "last_event_sequence" on table: "projects"
COMMENT ON COLUMN "projects" ."last_event_sequence" IS 'Issue events are numbered from here under the row lock, so commit order is sequence order.';
-- Create "users" table
CREATE TABLE "users" ("uid" uuid NOT NULL DEFAULT gen_random_uuid(), "subject" text NOT NULL, "email" text NOT NULL DEFAULT '', "display_name" text NOT NULL DEFAULT '', "create_time" timestamptz NOT NULL DEFAULT now(), "update_time" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("uid"));
-- Create index "users_subject_key" to table: "users"
CREATE UNIQUE INDEX "users_subject_key" ON "users" ("subject");
-- Set comment to table: "users"
COMMENT ON TABLE "users" IS 'People, created on their first call from the identity''s subject.';
-- Set comment to column: "subject" on table: "users"
COMMENT ON COLUMN "users" ."subject" IS 'The identity provider''s stable id for the person (the token''s sub).';
-- Create "members" table
CREATE TABLE "members" ("project_uid" uuid NOT NULL, "user_uid" uuid NOT NULL, "role" "member_role" NOT NULL, "create_time" timestamptz NOT NULL DEFAULT now(), "update_time" timestamptz NOT NULL DEFAULT now(), "revision" integer NOT NULL DEFAULT 1, PRIMARY KEY ("project_uid", "user_uid"), CONSTRAINT "members_project_fk" FOREIGN KEY ("project_uid") REFERENCES "projects" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "members_user_fk" FOREIGN KEY ("user_uid") REFERENCES "users" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "members_project_create_time_idx" to table: "members"
CREATE INDEX "members_project_create_time_idx" ON "members" ("project_uid", "create_time", "user_uid");
-- Create index "members_user_idx" to table: "members"
CREATE INDEX "members_user_idx" ON "members" ("user_uid");
-- Set comment to index: "members_project_create_time_idx" on table: "members"
COMMENT ON INDEX "members_project_create_time_idx" IS 'Keyset pagination of ListMembers.';
-- Set comment to index: "members_user_idx" on table: "members"
COMMENT ON INDEX "members_user_idx" IS 'The projects a user belongs to.';
-- Create "issues" table
CREATE TABLE "issues" ("uid" uuid NOT NULL DEFAULT gen_random_uuid(), "project_uid" uuid NOT NULL, "number" bigint NOT NULL, "title" text NOT NULL, "body" text NOT NULL DEFAULT '', "state" "issue_state" NOT NULL DEFAULT 'open', "close_reason" "close_reason" NULL, "close_time" timestamptz NULL, "priority" "issue_priority" NOT NULL DEFAULT 'none', "reporter_uid" uuid NOT NULL, "assignee_uid" uuid NULL, "create_time" timestamptz NOT NULL DEFAULT now(), "update_time" timestamptz NOT NULL DEFAULT now(), "delete_time" timestamptz NULL, "revision" integer NOT NULL DEFAULT 1, "search" tsvector NOT NULL GENERATED ALWAYS AS (setweight(to_tsvector('english'::regconfig, title), 'A'::"char") || setweight(to_tsvector('english'::regconfig, body), 'B'::"char")) STORED, PRIMARY KEY ("uid"), CONSTRAINT "issues_assignee_fk" FOREIGN KEY ("assignee_uid") REFERENCES "users" ("uid") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "issues_project_fk" FOREIGN KEY ("project_uid") REFERENCES "projects" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "issues_reporter_fk" FOREIGN KEY ("reporter_uid") REFERENCES "users" ("uid") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "issues_closed_has_reason" CHECK ((state = 'closed'::issue_state) = ((close_reason IS NOT NULL) AND (close_time IS NOT NULL))), CONSTRAINT "issues_title_length" CHECK ((char_length(title) >= 1) AND (char_length(title) <= 256)));
-- Create index "issues_project_assignee_idx" to table: "issues"
CREATE INDEX "issues_project_assignee_idx" ON "issues" ("project_uid", "assignee_uid");
-- Create index "issues_project_create_time_idx" to table: "issues"
CREATE INDEX "issues_project_create_time_idx" ON "issues" ("project_uid", "create_time", "number");
-- Create index "issues_project_number_key" to table: "issues"
CREATE UNIQUE INDEX "issues_project_number_key" ON "issues" ("project_uid", "number");
-- Create index "issues_project_priority_idx" to table: "issues"
CREATE INDEX "issues_project_priority_idx" ON "issues" ("project_uid", "priority", "number");
-- Create index "issues_project_update_time_idx" to table: "issues"
CREATE INDEX "issues_project_update_time_idx" ON "issues" ("project_uid", "update_time", "number");
-- Create index "issues_search_idx" to table: "issues"
CREATE INDEX "issues_search_idx" ON "issues" USING gin ("search");
-- Set comment to index: "issues_search_idx" on table: "issues"
COMMENT ON INDEX "issues_search_idx" IS 'Full-text search of ListIssues (websearch_to_tsquery).';
-- Create "comments" table
CREATE TABLE "comments" ("uid" uuid NOT NULL DEFAULT gen_random_uuid(), "issue_uid" uuid NOT NULL, "author_uid" uuid NOT NULL, "body" text NOT NULL, "create_time" timestamptz NOT NULL DEFAULT now(), "update_time" timestamptz NOT NULL DEFAULT now(), "revision" integer NOT NULL DEFAULT 1, PRIMARY KEY ("uid"), CONSTRAINT "comments_author_fk" FOREIGN KEY ("author_uid") REFERENCES "users" ("uid") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "comments_issue_fk" FOREIGN KEY ("issue_uid") REFERENCES "issues" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "comments_issue_create_time_idx" to table: "comments"
CREATE INDEX "comments_issue_create_time_idx" ON "comments" ("issue_uid", "create_time", "uid");
-- Set comment to index: "comments_issue_create_time_idx" on table: "comments"
COMMENT ON INDEX "comments_issue_create_time_idx" IS 'Keyset pagination of ListComments.';
-- Create "issue_events" table
CREATE TABLE "issue_events" ("project_uid" uuid NOT NULL, "sequence" bigint NOT NULL, "issue_uid" uuid NOT NULL, "issue_number" bigint NOT NULL, "actor_uid" uuid NOT NULL, "kind" "issue_event_kind" NOT NULL, "changes" jsonb NOT NULL DEFAULT '[]', "comment_uid" uuid NULL, "create_time" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("project_uid", "sequence"), CONSTRAINT "issue_events_project_fk" FOREIGN KEY ("project_uid") REFERENCES "projects" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "issue_events_issue_idx" to table: "issue_events"
CREATE INDEX "issue_events_issue_idx" ON "issue_events" ("issue_uid", "sequence");
-- Set comment to table: "issue_events"
COMMENT ON TABLE "issue_events" IS 'Append-only history of every issue and comment change, numbered per project.';
-- Set comment to column: "changes" on table: "issue_events"
COMMENT ON COLUMN "issue_events" ."changes" IS '[{field, old, new}] in the API''s JSON form.';
-- Set comment to index: "issue_events_issue_idx" on table: "issue_events"
COMMENT ON INDEX "issue_events_issue_idx" IS 'The history of one issue.';
-- Create "labels" table
CREATE TABLE "labels" ("uid" uuid NOT NULL DEFAULT gen_random_uuid(), "project_uid" uuid NOT NULL, "key" text NOT NULL, "display_name" text NOT NULL, "description" text NOT NULL DEFAULT '', "color" text NOT NULL DEFAULT '', "create_time" timestamptz NOT NULL DEFAULT now(), "update_time" timestamptz NOT NULL DEFAULT now(), "revision" integer NOT NULL DEFAULT 1, PRIMARY KEY ("uid"), CONSTRAINT "labels_project_fk" FOREIGN KEY ("project_uid") REFERENCES "projects" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "labels_key_format" CHECK (key ~ '^[a-z][a-z0-9-]{0,62}$'::text));
-- Create index "labels_project_key_key" to table: "labels"
CREATE UNIQUE INDEX "labels_project_key_key" ON "labels" ("project_uid", "key");
-- Set comment to column: "key" on table: "labels"
COMMENT ON COLUMN "labels" ."key" IS 'The client-chosen label_id slug.';
-- Create "issue_labels" table
CREATE TABLE "issue_labels" ("issue_uid" uuid NOT NULL, "label_uid" uuid NOT NULL, PRIMARY KEY ("issue_uid", "label_uid"), CONSTRAINT "issue_labels_issue_fk" FOREIGN KEY ("issue_uid") REFERENCES "issues" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "issue_labels_label_fk" FOREIGN KEY ("label_uid") REFERENCES "labels" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "issue_labels_label_idx" to table: "issue_labels"
CREATE INDEX "issue_labels_label_idx" ON "issue_labels" ("label_uid", "issue_uid");
-- Set comment to index: "issue_labels_label_idx" on table: "issue_labels"
COMMENT ON INDEX "issue_labels_label_idx" IS 'Label filters, and the issues a deleted label leaves.';
