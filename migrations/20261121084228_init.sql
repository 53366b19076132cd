-- Create "idempotent_requests" table
CREATE TABLE "idempotent_requests" ("method" text NOT NULL, "request_id" uuid NOT NULL, "request_hash" bytea NOT NULL, "response" bytea NULL, "create_time" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("method", "request_id"));
-- Create index "idempotent_requests_create_time_idx" to table: "idempotent_requests"
CREATE INDEX "idempotent_requests_create_time_idx" ON "idempotent_requests" ("create_time");
-- Set comment to table: "idempotent_requests"
COMMENT ON TABLE "idempotent_requests" IS 'Responses of Create calls that carried a request_id (AIP-155), replayed on retry.';
-- Set comment to column: "request_hash" on table: "idempotent_requests"
COMMENT ON COLUMN "idempotent_requests" ."request_hash" IS 'SHA-256 of the request, to refuse a request_id reused for another request.';
-- Set comment to column: "response" on table: "idempotent_requests"
COMMENT ON COLUMN "idempotent_requests" ."response" IS 'The binary protobuf response; NULL while the first call is still running.';
-- Set comment to index: "idempotent_requests_create_time_idx" on table: "idempotent_requests"
COMMENT ON INDEX "idempotent_requests_create_time_idx" IS 'Expiry of old keys.';
-- Create "projects" table
CREATE TABLE "projects" ("uid" uuid NOT NULL DEFAULT gen_random_uuid(), "key" text NOT NULL, "display_name" text NOT NULL, "description" text NOT NULL DEFAULT '', "create_time" timestamptz NOT NULL DEFAULT now(), "update_time" timestamptz NOT NULL DEFAULT now(), "revision" integer NOT NULL DEFAULT 1, PRIMARY KEY ("uid"), CONSTRAINT "projects_display_name_length" CHECK ((char_length(display_name) >= 1) AND (char_length(display_name) <= 100)), CONSTRAINT "projects_key_format" CHECK (key ~ '^[A-Z][A-Z0-9]{1,9}$'::text));
-- Create index "projects_create_time_key_idx" to table: "projects"
CREATE INDEX "projects_create_time_key_idx" ON "projects" ("create_time", "key");
-- Create index "projects_key_key" to table: "projects"
CREATE UNIQUE INDEX "projects_key_key" ON "projects" ("key");
-- Set comment to table: "projects"
COMMENT ON TABLE "projects" IS 'Top-level containers of issues; `key` is the client-chosen project_id.';
-- Set comment to column: "revision" on table: "projects"
COMMENT ON COLUMN "projects" ."revision" IS 'Bumped by every change; the etag is derived from it.';
-- Set comment to index: "projects_create_time_key_idx" on table: "projects"
COMMENT ON INDEX "projects_create_time_key_idx" IS 'Keyset pagination of ListProjects.';
