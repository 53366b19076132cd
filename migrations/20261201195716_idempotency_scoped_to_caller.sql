-- Existing keys have no owner, and replaying them to anyone was the hole this closes: they go.
-- (A retry in flight across the deploy creates anew, as after expiry.)
DELETE FROM "idempotent_requests";
-- Modify "idempotent_requests" table
ALTER TABLE "idempotent_requests" DROP CONSTRAINT "idempotent_requests_pkey", ADD COLUMN "user_uid" uuid NOT NULL, ADD COLUMN "parent" text NOT NULL, ADD PRIMARY KEY ("user_uid", "method", "parent", "request_id"), ADD CONSTRAINT "idempotent_requests_user_uid_fkey" FOREIGN KEY ("user_uid") REFERENCES "users" ("uid") ON UPDATE NO ACTION ON DELETE CASCADE;
-- Set comment to table: "idempotent_requests"
COMMENT ON TABLE "idempotent_requests" IS 'Responses of Create calls that carried a request_id (AIP-155), replayed on retry to the same caller only.';
-- Set comment to column: "user_uid" on table: "idempotent_requests"
COMMENT ON COLUMN "idempotent_requests" ."user_uid" IS 'Whose request it was: a request_id is scoped to its caller, so another caller''s id is unknown to them.';
-- Set comment to column: "parent" on table: "idempotent_requests"
COMMENT ON COLUMN "idempotent_requests" ."parent" IS 'The request''s parent (empty for CreateProject): a request_id is scoped to where it creates.';
