-- Create "rate_limit_buckets" table
CREATE TABLE "rate_limit_buckets" ("key" text NOT NULL, "tokens" double precision NOT NULL, "refilled_at" timestamptz NOT NULL, "last_grant" integer NOT NULL, PRIMARY KEY ("key"));
-- Create index "rate_limit_buckets_refilled_at_idx" to table: "rate_limit_buckets"
CREATE INDEX "rate_limit_buckets_refilled_at_idx" ON "rate_limit_buckets" ("refilled_at");
-- Set comment to table: "rate_limit_buckets"
COMMENT ON TABLE "rate_limit_buckets" IS 'One token bucket per caller (the token''s subject), shared by every process: each takes tokens in small batches (shared/rate-limit.ts).';
-- Set comment to column: "tokens" on table: "rate_limit_buckets"
COMMENT ON COLUMN "rate_limit_buckets" ."tokens" IS 'Tokens left as of refilled_at; they grow at RATE_LIMIT_PER_SECOND up to the bucket''s size.';
-- Set comment to column: "last_grant" on table: "rate_limit_buckets"
COMMENT ON COLUMN "rate_limit_buckets" ."last_grant" IS 'Tokens the last take got, so the one upsert can return it (an UPDATE''s RETURNING sees only the new row).';
-- Set comment to index: "rate_limit_buckets_refilled_at_idx" on table: "rate_limit_buckets"
COMMENT ON INDEX "rate_limit_buckets_refilled_at_idx" IS 'The sweep of buckets full again (as good as no row).';
-- Create "watch_stream_leases" table
CREATE TABLE "watch_stream_leases" ("id" uuid NOT NULL, "user_uid" uuid NOT NULL, "slot" integer NOT NULL, "holder" text NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "watch_stream_leases_expires_at_idx" to table: "watch_stream_leases"
CREATE INDEX "watch_stream_leases_expires_at_idx" ON "watch_stream_leases" ("expires_at");
-- Create index "watch_stream_leases_user_slot_key" to table: "watch_stream_leases"
CREATE UNIQUE INDEX "watch_stream_leases_user_slot_key" ON "watch_stream_leases" ("user_uid", "slot");
-- Set comment to table: "watch_stream_leases"
COMMENT ON TABLE "watch_stream_leases" IS 'One row per open WatchIssues stream, in any process: the per-user cap counts the live ones. The holder renews its leases; a crashed holder''s expire.';
-- Set comment to column: "slot" on table: "watch_stream_leases"
COMMENT ON COLUMN "watch_stream_leases" ."slot" IS 'Which of the user''s MAX_WATCH_STREAMS_PER_USER slots the stream holds: unique per user, so a take is one insert.';
-- Set comment to column: "holder" on table: "watch_stream_leases"
COMMENT ON COLUMN "watch_stream_leases" ."holder" IS 'The process holding the stream: host, pid and a random suffix.';
-- Set comment to index: "watch_stream_leases_expires_at_idx" on table: "watch_stream_leases"
COMMENT ON INDEX "watch_stream_leases_expires_at_idx" IS 'The sweep of expired leases.';
