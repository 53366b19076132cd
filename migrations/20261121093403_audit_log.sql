-- Create "audit_events" table
CREATE TABLE "audit_events" ("id" bigint NOT NULL GENERATED ALWAYS AS IDENTITY, "actor_uid" uuid NOT NULL, "method" text NOT NULL, "resource" text NOT NULL, "request_id" text NOT NULL, "client_address" text NOT NULL, "changes" jsonb NOT NULL DEFAULT '[]', "create_time" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("id"));
-- Create index "audit_events_actor_idx" to table: "audit_events"
CREATE INDEX "audit_events_actor_idx" ON "audit_events" ("actor_uid", "id");
-- Create index "audit_events_create_time_idx" to table: "audit_events"
CREATE INDEX "audit_events_create_time_idx" ON "audit_events" ("create_time", "id");
-- Create index "audit_events_resource_idx" to table: "audit_events"
CREATE INDEX "audit_events_resource_idx" ON "audit_events" ("resource" text_pattern_ops);
-- Set comment to table: "audit_events"
COMMENT ON TABLE "audit_events" IS 'Append-only log of every change made through the API, written in the change''s transaction.';
-- Set comment to index: "audit_events_create_time_idx" on table: "audit_events"
COMMENT ON INDEX "audit_events_create_time_idx" IS 'Newest first, in pages.';
-- Set comment to index: "audit_events_resource_idx" on table: "audit_events"
COMMENT ON INDEX "audit_events_resource_idx" IS 'Prefix search on resource names (text_pattern_ops).';
