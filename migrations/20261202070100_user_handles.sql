-- users has a row per person (thousands, not millions), so the two indexes are
-- built in the migration's transaction: writes to users wait a moment, reads do not.
-- Existing users get no handle here: each takes one from their token on their
-- next sign-in (see src/shared/caller.ts), or chooses one with UpdateUser.
-- Modify "users" table
ALTER TABLE "users" ADD CONSTRAINT "users_handle_format" CHECK ((handle ~ '^[a-z0-9]([a-z0-9]|-[a-z0-9]){0,38}$'::text) AND (char_length(handle) <= 39)), ADD COLUMN "handle" text NULL, ADD COLUMN "revision" integer NOT NULL DEFAULT 1;
-- Create index "users_email_idx" to table: "users"
CREATE INDEX "users_email_idx" ON "users" ((lower(email)));
-- Create index "users_handle_key" to table: "users"
CREATE UNIQUE INDEX "users_handle_key" ON "users" ((lower(handle)));
-- Set comment to column: "handle" on table: "users"
COMMENT ON COLUMN "users" ."handle" IS 'The user''s unique, changeable name for people (User.handle); null until one is taken.';
-- Set comment to column: "revision" on table: "users"
COMMENT ON COLUMN "users" ."revision" IS 'Bumped by every change; the etag is derived from it.';
-- Set comment to index: "users_email_idx" on table: "users"
COMMENT ON INDEX "users_email_idx" IS 'CreateMember by e-mail address, in any case.';
-- Set comment to index: "users_handle_key" on table: "users"
COMMENT ON INDEX "users_handle_key" IS 'Handles are unique ignoring case (no citext: it is an extension).';
