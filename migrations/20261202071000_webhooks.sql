-- Create enum type "webhook_delivery_state"
CREATE TYPE "webhook_delivery_state" AS ENUM ('pending', 'delivered', 'failed');
-- Create "webhooks" table
CREATE TABLE "webhooks" ("uid" uuid NOT NULL DEFAULT gen_random_uuid(), "project_uid" uuid NOT NULL, "url" text NOT NULL, "secret" text NOT NULL, "event_kinds" "issue_event_kind"[] NOT NULL, "active" boolean NOT NULL DEFAULT true, "create_time" timestamptz NOT NULL DEFAULT now(), "update_time" timestamptz NOT NULL DEFAULT now(), "revision" integer NOT NULL DEFAULT 1, PRIMARY KEY ("uid"), CONSTRAINT "webhooks_project_fk" FOREIGN KEY ("project_uid") REFERENCES "projects" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "webhooks_event_kinds_present" CHECK (cardinality(event_kinds) >= 1), CONSTRAINT "webhooks_url_length" CHECK ((char_length(url) >= 1) AND (char_length(url) <= 2048)));
-- Create index "webhooks_project_idx" to table: "webhooks"
CREATE INDEX "webhooks_project_idx" ON "webhooks" ("project_uid", "create_time", "uid");
-- Set comment to table: "webhooks"
COMMENT ON TABLE "webhooks" IS 'HTTP endpoints told of a project''s issue events; they belong to the project, not to the admin who made them.';
-- Set comment to column: "secret" on table: "webhooks"
COMMENT ON COLUMN "webhooks" ."secret" IS 'The HMAC key of the signatures; write-only in the API. Kept in clear because each delivery needs it.';
-- Set comment to column: "event_kinds" on table: "webhooks"
COMMENT ON COLUMN "webhooks" ."event_kinds" IS 'The kinds of issue event delivered; at least one.';
-- Set comment to column: "active" on table: "webhooks"
COMMENT ON COLUMN "webhooks" ."active" IS 'Inactive webhooks get no new deliveries, and their pending ones wait.';
-- Set comment to index: "webhooks_project_idx" on table: "webhooks"
COMMENT ON INDEX "webhooks_project_idx" IS 'A project''s webhooks, in ListWebhooks order; also what each issue event looks up.';
-- Create "webhook_deliveries" table
CREATE TABLE "webhook_deliveries" ("uid" uuid NOT NULL DEFAULT gen_random_uuid(), "webhook_uid" uuid NOT NULL, "project_uid" uuid NOT NULL, "event_sequence" bigint NOT NULL, "state" "webhook_delivery_state" NOT NULL DEFAULT 'pending', "attempt_count" integer NOT NULL DEFAULT 0, "next_attempt_time" timestamptz NULL, "lease_token" uuid NULL, "last_status_code" integer NULL, "last_response_body" text NULL, "last_error" text NULL, "delivered_time" timestamptz NULL, "attempts" jsonb NOT NULL DEFAULT '[]', "redelivery_of" uuid NULL, "create_time" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("uid"), CONSTRAINT "webhook_deliveries_event_fk" FOREIGN KEY ("project_uid", "event_sequence") REFERENCES "issue_events" ("project_uid", "sequence") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "webhook_deliveries_webhook_fk" FOREIGN KEY ("webhook_uid") REFERENCES "webhooks" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "webhook_deliveries_backlog_idx" to table: "webhook_deliveries"
CREATE INDEX "webhook_deliveries_backlog_idx" ON "webhook_deliveries" ("webhook_uid") WHERE (state = 'pending'::webhook_delivery_state);
-- Create index "webhook_deliveries_due_idx" to table: "webhook_deliveries"
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" ("next_attempt_time") WHERE (state = 'pending'::webhook_delivery_state);
-- Create index "webhook_deliveries_event_idx" to table: "webhook_deliveries"
CREATE INDEX "webhook_deliveries_event_idx" ON "webhook_deliveries" ("project_uid", "event_sequence");
-- Create index "webhook_deliveries_finished_idx" to table: "webhook_deliveries"
CREATE INDEX "webhook_deliveries_finished_idx" ON "webhook_deliveries" ("create_time") WHERE (state <> 'pending'::webhook_delivery_state);
-- Create index "webhook_deliveries_webhook_idx" to table: "webhook_deliveries"
CREATE INDEX "webhook_deliveries_webhook_idx" ON "webhook_deliveries" ("webhook_uid", "create_time", "uid");
-- Set comment to table: "webhook_deliveries"
COMMENT ON TABLE "webhook_deliveries" IS 'The webhook outbox: one row per (issue event, webhook), written in the event''s transaction, claimed by the delivery workers of every process.';
-- Set comment to column: "uid" on table: "webhook_deliveries"
COMMENT ON COLUMN "webhook_deliveries" ."uid" IS 'The X-Tracker-Delivery header.';
-- Set comment to column: "attempt_count" on table: "webhook_deliveries"
COMMENT ON COLUMN "webhook_deliveries" ."attempt_count" IS 'Attempts claimed so far, counted when claimed (a process that dies mid-attempt has used it).';
-- Set comment to column: "next_attempt_time" on table: "webhook_deliveries"
COMMENT ON COLUMN "webhook_deliveries" ."next_attempt_time" IS 'When a worker may claim it next; while an attempt runs, the end of that worker''s lease. Null once delivered or failed.';
-- Set comment to column: "lease_token" on table: "webhook_deliveries"
COMMENT ON COLUMN "webhook_deliveries" ."lease_token" IS 'The claim of the attempt in progress: only its holder may record the outcome.';
-- Set comment to column: "last_response_body" on table: "webhook_deliveries"
COMMENT ON COLUMN "webhook_deliveries" ."last_response_body" IS 'The start of the last response''s body, at most 1024 bytes.';
-- Set comment to column: "attempts" on table: "webhook_deliveries"
COMMENT ON COLUMN "webhook_deliveries" ."attempts" IS '[{time, status_code, error, duration_ms}], one per finished attempt (at most WEBHOOK_MAX_ATTEMPTS).';
-- Set comment to column: "redelivery_of" on table: "webhook_deliveries"
COMMENT ON COLUMN "webhook_deliveries" ."redelivery_of" IS 'The delivery a RedeliverWebhookDelivery sent again.';
-- Set comment to index: "webhook_deliveries_backlog_idx" on table: "webhook_deliveries"
COMMENT ON INDEX "webhook_deliveries_backlog_idx" IS 'A webhook''s pending rows, counted against its backlog cap.';
-- Set comment to index: "webhook_deliveries_due_idx" on table: "webhook_deliveries"
COMMENT ON INDEX "webhook_deliveries_due_idx" IS 'What the workers claim: pending rows by when they are due.';
-- Set comment to index: "webhook_deliveries_event_idx" on table: "webhook_deliveries"
COMMENT ON INDEX "webhook_deliveries_event_idx" IS 'The foreign key to issue_events, for its cascade.';
-- Set comment to index: "webhook_deliveries_finished_idx" on table: "webhook_deliveries"
COMMENT ON INDEX "webhook_deliveries_finished_idx" IS 'The retention sweep of finished deliveries.';
-- Set comment to index: "webhook_deliveries_webhook_idx" on table: "webhook_deliveries"
COMMENT ON INDEX "webhook_deliveries_webhook_idx" IS 'ListWebhookDeliveries, newest first.';
