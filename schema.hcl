// The database schema, declared. Atlas diffs it against a database to plan
// changes: `atlas schema apply` in development, `atlas migrate diff` to write
// the reviewed SQL in migrations/ that production applies.

schema "public" {}

table "projects" {
  schema  = schema.public
  comment = "Top-level containers of issues; `key` is the client-chosen project_id."
  column "uid" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "key" {
    type = text
  }
  column "display_name" {
    type = text
  }
  column "description" {
    type    = text
    default = ""
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "update_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "revision" {
    type    = integer
    default = 1
    comment = "Bumped by every change; the etag is derived from it."
  }
  column "delete_time" {
    type = timestamptz
    null = true
  }
  column "last_issue_number" {
    type    = bigint
    default = 0
    comment = "Issue numbers are taken from here under the row lock, so they have no gaps."
  }
  column "last_event_sequence" {
    type    = bigint
    default = 0
    comment = "Issue events are numbered from here under the row lock, so commit order is sequence order."
  }
  column "access_revision" {
    type    = integer
    default = 0
    comment = "Bumped under the row lock by every change that may end someone's access (a member removed or given another role, the project deleted); a read of issue events carries it, so open streams re-check access before delivering what came after."
  }
  primary_key {
    columns = [column.uid]
  }
  index "projects_key_key" {
    unique  = true
    columns = [column.key]
  }
  index "projects_create_time_key_idx" {
    comment = "Keyset pagination of ListProjects."
    columns = [column.create_time, column.key]
  }
  check "projects_key_format" {
    expr = "key ~ '^[A-Z][A-Z0-9]{1,9}$'"
  }
  check "projects_display_name_length" {
    expr = "char_length(display_name) BETWEEN 1 AND 100"
  }
}

table "idempotent_requests" {
  schema  = schema.public
  comment = "Responses of Create calls that carried a request_id (AIP-155), replayed on retry to the same caller only."
  column "user_uid" {
    type    = uuid
    comment = "Whose request it was: a request_id is scoped to its caller, so another caller's id is unknown to them."
  }
  column "method" {
    type = text
  }
  column "parent" {
    type    = text
    comment = "The request's parent (empty for CreateProject): a request_id is scoped to where it creates."
  }
  column "request_id" {
    type = uuid
  }
  column "request_hash" {
    type    = bytea
    comment = "SHA-256 of the request, to refuse a request_id reused for another request."
  }
  column "response" {
    type    = bytea
    null    = true
    comment = "The binary protobuf response; NULL while the first call is still running."
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.user_uid, column.method, column.parent, column.request_id]
  }
  foreign_key "idempotent_requests_user_uid_fkey" {
    columns     = [column.user_uid]
    ref_columns = [table.users.column.uid]
    on_delete   = CASCADE
  }
  index "idempotent_requests_create_time_idx" {
    comment = "Expiry of old keys."
    columns = [column.create_time]
  }
}

enum "member_role" {
  schema = schema.public
  values = ["reader", "writer", "admin"]
}

enum "issue_state" {
  schema = schema.public
  values = ["open", "in_progress", "closed"]
}

enum "close_reason" {
  schema = schema.public
  values = ["completed", "not_planned", "duplicate"]
}

// Declaration order is sort order: ORDER BY priority puts urgent first.
enum "issue_priority" {
  schema = schema.public
  values = ["urgent", "high", "medium", "low", "none"]
}

enum "issue_relation_kind" {
  schema = schema.public
  values = ["blocks", "duplicate_of", "relates_to"]
}

enum "issue_event_kind" {
  schema = schema.public
  values = ["issue_created", "issue_updated", "issue_deleted", "issue_undeleted", "comment_created", "comment_updated", "comment_deleted", "relation_created", "relation_deleted"]
}

table "users" {
  schema  = schema.public
  comment = "People, created on their first call from the identity's subject."
  column "uid" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "subject" {
    type    = text
    comment = "The identity provider's stable id for the person (the token's sub)."
  }
  column "email" {
    type    = text
    default = ""
  }
  column "display_name" {
    type    = text
    default = ""
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "update_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "handle" {
    type    = text
    null    = true
    comment = "The user's unique, changeable name for people (User.handle); null until one is taken."
  }
  column "revision" {
    type    = integer
    default = 1
    comment = "Bumped by every change; the etag is derived from it."
  }
  primary_key {
    columns = [column.uid]
  }
  index "users_subject_key" {
    unique  = true
    columns = [column.subject]
  }
  index "users_handle_key" {
    comment = "Handles are unique ignoring case (no citext: it is an extension)."
    unique  = true
    on {
      expr = "lower(handle)"
    }
  }
  index "users_email_idx" {
    comment = "CreateMember by e-mail address, in any case."
    on {
      expr = "lower(email)"
    }
  }
  check "users_handle_format" {
    expr = "handle ~ '^[a-z0-9]([a-z0-9]|-[a-z0-9]){0,38}$' AND char_length(handle) <= 39"
  }
}

table "members" {
  schema = schema.public
  column "project_uid" {
    type = uuid
  }
  column "user_uid" {
    type = uuid
  }
  column "role" {
    type = enum.member_role
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "update_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "revision" {
    type    = integer
    default = 1
  }
  primary_key {
    columns = [column.project_uid, column.user_uid]
  }
  foreign_key "members_project_fk" {
    columns     = [column.project_uid]
    ref_columns = [table.projects.column.uid]
    on_delete   = CASCADE
  }
  foreign_key "members_user_fk" {
    columns     = [column.user_uid]
    ref_columns = [table.users.column.uid]
    on_delete   = CASCADE
  }
  index "members_user_idx" {
    comment = "The projects a user belongs to."
    columns = [column.user_uid]
  }
  index "members_project_create_time_idx" {
    comment = "Keyset pagination of ListMembers."
    columns = [column.project_uid, column.create_time, column.user_uid]
  }
}

table "labels" {
  schema = schema.public
  column "uid" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "project_uid" {
    type = uuid
  }
  column "key" {
    type    = text
    comment = "The client-chosen label_id slug."
  }
  column "display_name" {
    type = text
  }
  column "description" {
    type    = text
    default = ""
  }
  column "color" {
    type    = text
    default = ""
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "update_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "revision" {
    type    = integer
    default = 1
  }
  primary_key {
    columns = [column.uid]
  }
  foreign_key "labels_project_fk" {
    columns     = [column.project_uid]
    ref_columns = [table.projects.column.uid]
    on_delete   = CASCADE
  }
  index "labels_project_key_key" {
    unique  = true
    columns = [column.project_uid, column.key]
  }
  index "labels_project_uid_key" {
    comment = "What issue_labels' project-scoped foreign key refers to; the primary key once uid alone is not (DEPLOYMENT.md, Towards distributed SQL)."
    unique  = true
    columns = [column.project_uid, column.uid]
  }
  check "labels_key_format" {
    expr = "key ~ '^[a-z][a-z0-9-]{0,62}$'"
  }
}

table "issues" {
  schema = schema.public
  column "uid" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "project_uid" {
    type = uuid
  }
  column "number" {
    type = bigint
  }
  column "title" {
    type = text
  }
  column "body" {
    type    = text
    default = ""
  }
  column "state" {
    type    = enum.issue_state
    default = "open"
  }
  column "close_reason" {
    type = enum.close_reason
    null = true
  }
  column "close_time" {
    type = timestamptz
    null = true
  }
  column "priority" {
    type    = enum.issue_priority
    default = "none"
  }
  column "reporter_uid" {
    type = uuid
  }
  column "assignee_uid" {
    type = uuid
    null = true
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "update_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "delete_time" {
    type = timestamptz
    null = true
  }
  column "revision" {
    type    = integer
    default = 1
  }
  column "parent_uid" {
    type    = uuid
    null    = true
    comment = "The issue this one is a sub-issue of, in the same project (sub-issues never cross projects)."
  }
  column "sub_issue_order" {
    type    = integer
    null    = true
    comment = "Its place among its parent's sub-issues (ties by number); set exactly when parent_uid is."
  }
  column "search" {
    type = tsvector
    as {
      expr = "setweight(to_tsvector('english'::regconfig, title), 'A') || setweight(to_tsvector('english'::regconfig, body), 'B')"
      type = STORED
    }
  }
  primary_key {
    columns = [column.uid]
  }
  foreign_key "issues_project_fk" {
    columns     = [column.project_uid]
    ref_columns = [table.projects.column.uid]
    on_delete   = CASCADE
  }
  foreign_key "issues_parent_fk" {
    columns     = [column.parent_uid]
    ref_columns = [table.issues.column.uid]
    on_delete   = NO_ACTION
  }
  foreign_key "issues_reporter_fk" {
    columns     = [column.reporter_uid]
    ref_columns = [table.users.column.uid]
    on_delete   = NO_ACTION
  }
  foreign_key "issues_assignee_fk" {
    columns     = [column.assignee_uid]
    ref_columns = [table.users.column.uid]
    on_delete   = SET_NULL
  }
  index "issues_project_number_key" {
    unique  = true
    columns = [column.project_uid, column.number]
  }
  index "issues_project_uid_key" {
    comment = "What the project-scoped foreign keys of comments and issue_labels refer to; the primary key once uid alone is not (DEPLOYMENT.md, Towards distributed SQL)."
    unique  = true
    columns = [column.project_uid, column.uid]
  }
  index "issues_parent_order_idx" {
    comment = "A parent's sub-issues in order (ListIssues filter.parent), and the walks of the sub-issue tree."
    columns = [column.parent_uid, column.sub_issue_order, column.number]
    where   = "parent_uid IS NOT NULL"
  }
  index "issues_project_create_time_idx" {
    columns = [column.project_uid, column.create_time, column.number]
  }
  index "issues_project_update_time_idx" {
    columns = [column.project_uid, column.update_time, column.number]
  }
  index "issues_project_priority_idx" {
    columns = [column.project_uid, column.priority, column.number]
  }
  index "issues_project_assignee_idx" {
    columns = [column.project_uid, column.assignee_uid]
  }
  index "issues_search_keys_idx" {
    comment = "Full-text search of ListIssues within one project: its words prefixed by the project (issue_search_keys), so a lookup reads that project's entries only."
    type    = GIN
    on {
      expr = "issue_search_keys(project_uid, search)"
    }
  }
  check "issues_title_length" {
    expr = "char_length(title) BETWEEN 1 AND 256"
  }
  check "issues_parent_has_order" {
    expr = "(parent_uid IS NULL) = (sub_issue_order IS NULL) AND parent_uid IS DISTINCT FROM uid"
  }
  check "issues_closed_has_reason" {
    comment = "Closed issues say why and when; open ones carry neither."
    expr    = "(state = 'closed') = (close_reason IS NOT NULL AND close_time IS NOT NULL)"
  }
}

table "issue_labels" {
  schema = schema.public
  column "project_uid" {
    type    = uuid
    null    = true
    comment = "The issue's (and the label's) project, the key a sharded database places the row by: written with the row, backfilled; NULL only from a process older than the column, so not yet NOT NULL."
  }
  column "issue_uid" {
    type = uuid
  }
  column "label_uid" {
    type = uuid
  }
  primary_key {
    columns = [column.issue_uid, column.label_uid]
  }
  foreign_key "issue_labels_issue_fk" {
    columns     = [column.issue_uid]
    ref_columns = [table.issues.column.uid]
    on_delete   = CASCADE
  }
  foreign_key "issue_labels_label_fk" {
    columns     = [column.label_uid]
    ref_columns = [table.labels.column.uid]
    on_delete   = CASCADE
  }
  foreign_key "issue_labels_project_issue_fk" {
    columns     = [column.project_uid, column.issue_uid]
    ref_columns = [table.issues.column.project_uid, table.issues.column.uid]
    on_delete   = CASCADE
  }
  // Also keeps a label of one project off the issues of another.
  foreign_key "issue_labels_project_label_fk" {
    columns     = [column.project_uid, column.label_uid]
    ref_columns = [table.labels.column.project_uid, table.labels.column.uid]
    on_delete   = CASCADE
  }
  index "issue_labels_label_idx" {
    comment = "Label filters, and the issues a deleted label leaves."
    columns = [column.label_uid, column.issue_uid]
  }
}

table "issue_relations" {
  schema  = schema.public
  comment = "Links between issues, stored once: subject blocks / is a duplicate of / relates to object. The inverse (BLOCKED_BY, DUPLICATED_BY) is what the object shows."
  column "uid" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "subject_uid" {
    type = uuid
  }
  column "object_uid" {
    type = uuid
  }
  column "kind" {
    type = enum.issue_relation_kind
  }
  column "creator_uid" {
    type = uuid
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.uid]
  }
  foreign_key "issue_relations_subject_fk" {
    columns     = [column.subject_uid]
    ref_columns = [table.issues.column.uid]
    on_delete   = CASCADE
  }
  foreign_key "issue_relations_object_fk" {
    columns     = [column.object_uid]
    ref_columns = [table.issues.column.uid]
    on_delete   = CASCADE
  }
  foreign_key "issue_relations_creator_fk" {
    columns     = [column.creator_uid]
    ref_columns = [table.users.column.uid]
    on_delete   = NO_ACTION
  }
  index "issue_relations_pair_key" {
    comment = "One relation of a kind per pair; RELATES_TO, which has no direction, once per pair either way round."
    unique  = true
    on {
      expr = "(CASE WHEN kind = 'relates_to' THEN LEAST(subject_uid, object_uid) ELSE subject_uid END)"
    }
    on {
      expr = "(CASE WHEN kind = 'relates_to' THEN GREATEST(subject_uid, object_uid) ELSE object_uid END)"
    }
    on {
      column = column.kind
    }
  }
  index "issue_relations_subject_idx" {
    comment = "An issue's relations from its own side."
    columns = [column.subject_uid, column.kind]
  }
  index "issue_relations_object_idx" {
    comment = "An issue's relations from the other side (and its blockers)."
    columns = [column.object_uid, column.kind]
  }
  check "issue_relations_not_self" {
    expr = "subject_uid <> object_uid"
  }
}

table "comments" {
  schema = schema.public
  column "uid" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "project_uid" {
    type    = uuid
    null    = true
    comment = "The issue's project, the key a sharded database places the row by: written with the row, backfilled; NULL only from a process older than the column, so not yet NOT NULL."
  }
  column "issue_uid" {
    type = uuid
  }
  column "author_uid" {
    type = uuid
  }
  column "body" {
    type = text
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "update_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "revision" {
    type    = integer
    default = 1
  }
  primary_key {
    columns = [column.uid]
  }
  foreign_key "comments_issue_fk" {
    columns     = [column.issue_uid]
    ref_columns = [table.issues.column.uid]
    on_delete   = CASCADE
  }
  foreign_key "comments_author_fk" {
    columns     = [column.author_uid]
    ref_columns = [table.users.column.uid]
    on_delete   = NO_ACTION
  }
  foreign_key "comments_project_issue_fk" {
    columns     = [column.project_uid, column.issue_uid]
    ref_columns = [table.issues.column.project_uid, table.issues.column.uid]
    on_delete   = CASCADE
  }
  index "comments_issue_create_time_idx" {
    comment = "Keyset pagination of ListComments."
    columns = [column.issue_uid, column.create_time, column.uid]
  }
}

table "issue_events" {
  schema  = schema.public
  comment = "Append-only history of every issue and comment change, numbered per project."
  column "project_uid" {
    type = uuid
  }
  column "sequence" {
    type = bigint
  }
  column "issue_uid" {
    type = uuid
  }
  column "issue_number" {
    type = bigint
  }
  column "actor_uid" {
    type = uuid
  }
  column "kind" {
    type = enum.issue_event_kind
  }
  column "changes" {
    type    = jsonb
    default = sql("'[]'::jsonb")
    comment = "[{field, old, new}] in the API's JSON form."
  }
  column "changes_bytes" {
    type    = integer
    null    = true
    comment = "Bytes of changes as JSON text, counted once on write: ListIssueEvents ends a page by it without reading the changes (null for events written before the column: counted on read)."
  }
  column "comment_uid" {
    type = uuid
    null = true
  }
  column "relation_uid" {
    type    = uuid
    null    = true
    comment = "For relation events: the relation (which may since be deleted)."
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.project_uid, column.sequence]
  }
  foreign_key "issue_events_project_fk" {
    columns     = [column.project_uid]
    ref_columns = [table.projects.column.uid]
    on_delete   = CASCADE
  }
  index "issue_events_issue_idx" {
    comment = "The history of one issue."
    columns = [column.issue_uid, column.sequence]
  }
}

table "audit_events" {
  schema  = schema.public
  comment = "Append-only log of every change made through the API, written in the change's transaction."
  column "id" {
    type = bigint
    identity {
      generated = ALWAYS
    }
  }
  column "actor_uid" {
    type = uuid
  }
  column "method" {
    type = text
  }
  column "resource" {
    type = text
  }
  column "request_id" {
    type = text
  }
  column "client_address" {
    type = text
  }
  column "changes" {
    type    = jsonb
    default = sql("'[]'::jsonb")
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  index "audit_events_create_time_idx" {
    comment = "Newest first, in pages."
    columns = [column.create_time, column.id]
  }
  index "audit_events_actor_idx" {
    columns = [column.actor_uid, column.id]
  }
  index "audit_events_resource_idx" {
    comment = "Prefix search on resource names (text_pattern_ops)."
    on {
      column = column.resource
      ops    = text_pattern_ops
    }
  }
}

// Limits shared by every tracker process and host (DEPLOYMENT.md, "Cluster-wide
// limits"): PostgreSQL holds them because every deployment already runs it, so
// no Redis or other store is added. Their rows are ephemeral and would suit
// UNLOGGED tables, but Atlas v0.13 (tools/atlas/README.md) cannot declare one,
// and a migration saying UNLOGGED would leave `npm start`'s schema apply with
// a logged table: plain tables, a few rows per user.

table "rate_limit_buckets" {
  schema  = schema.public
  comment = "One token bucket per caller (the token's subject), shared by every process: each takes tokens in small batches (shared/rate-limit.ts)."
  column "key" {
    type = text
  }
  column "tokens" {
    type    = double_precision
    comment = "Tokens left as of refilled_at; they grow at RATE_LIMIT_PER_SECOND up to the bucket's size."
  }
  column "refilled_at" {
    type = timestamptz
  }
  column "last_grant" {
    type    = integer
    comment = "Tokens the last take got, so the one upsert can return it (an UPDATE's RETURNING sees only the new row)."
  }
  primary_key {
    columns = [column.key]
  }
  index "rate_limit_buckets_refilled_at_idx" {
    comment = "The sweep of buckets full again (as good as no row)."
    columns = [column.refilled_at]
  }
}

table "watch_stream_leases" {
  schema  = schema.public
  comment = "One row per open WatchIssues stream, in any process: the per-user cap counts the live ones. The holder renews its leases; a crashed holder's expire."
  column "id" {
    type = uuid
  }
  column "user_uid" {
    type = uuid
  }
  column "slot" {
    type    = integer
    comment = "Which of the user's MAX_WATCH_STREAMS_PER_USER slots the stream holds: unique per user, so a take is one insert."
  }
  column "holder" {
    type    = text
    comment = "The process holding the stream: host, pid and a random suffix."
  }
  column "expires_at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
  index "watch_stream_leases_user_slot_key" {
    unique  = true
    columns = [column.user_uid, column.slot]
  }
  index "watch_stream_leases_expires_at_idx" {
    comment = "The sweep of expired leases."
    columns = [column.expires_at]
  }
}

table "webhooks" {
  schema  = schema.public
  comment = "HTTP endpoints told of a project's issue events; they belong to the project, not to the admin who made them."
  column "uid" {
    type    = uuid
    default = sql("gen_random_uuid()")
  }
  column "project_uid" {
    type = uuid
  }
  column "url" {
    type = text
  }
  column "secret" {
    type    = text
    comment = "The HMAC key of the signatures; write-only in the API. Kept in clear because each delivery needs it."
  }
  column "event_kinds" {
    type    = sql("issue_event_kind[]")
    comment = "The kinds of issue event delivered; at least one."
  }
  column "active" {
    type    = boolean
    default = true
    comment = "Inactive webhooks get no new deliveries, and their pending ones wait."
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "update_time" {
    type    = timestamptz
    default = sql("now()")
  }
  column "revision" {
    type    = integer
    default = 1
  }
  primary_key {
    columns = [column.uid]
  }
  foreign_key "webhooks_project_fk" {
    columns     = [column.project_uid]
    ref_columns = [table.projects.column.uid]
    on_delete   = CASCADE
  }
  index "webhooks_project_idx" {
    comment = "A project's webhooks, in ListWebhooks order; also what each issue event looks up."
    columns = [column.project_uid, column.create_time, column.uid]
  }
  check "webhooks_url_length" {
    expr = "char_length(url) BETWEEN 1 AND 2048"
  }
  check "webhooks_event_kinds_present" {
    expr = "cardinality(event_kinds) >= 1"
  }
}

enum "webhook_delivery_state" {
  schema = schema.public
  values = ["pending", "delivered", "failed"]
}

table "webhook_deliveries" {
  schema  = schema.public
  comment = "The webhook outbox: one row per (issue event, webhook), written in the event's transaction, claimed by the delivery workers of every process."
  column "uid" {
    type    = uuid
    default = sql("gen_random_uuid()")
    comment = "The X-Tracker-Delivery header."
  }
  column "webhook_uid" {
    type = uuid
  }
  column "project_uid" {
    type = uuid
  }
  column "event_sequence" {
    type = bigint
  }
  column "state" {
    type    = enum.webhook_delivery_state
    default = "pending"
  }
  column "attempt_count" {
    type    = integer
    default = 0
    comment = "Attempts claimed so far, counted when claimed (a process that dies mid-attempt has used it)."
  }
  column "next_attempt_time" {
    type    = timestamptz
    null    = true
    comment = "When a worker may claim it next; while an attempt runs, the end of that worker's lease. Null once delivered or failed."
  }
  column "lease_token" {
    type    = uuid
    null    = true
    comment = "The claim of the attempt in progress: only its holder may record the outcome."
  }
  column "last_status_code" {
    type = integer
    null = true
  }
  column "last_response_body" {
    type    = text
    null    = true
    comment = "The start of the last response's body, at most 1024 bytes."
  }
  column "last_error" {
    type = text
    null = true
  }
  column "delivered_time" {
    type = timestamptz
    null = true
  }
  column "attempts" {
    type    = jsonb
    default = sql("'[]'::jsonb")
    comment = "[{time, status_code, error, duration_ms}], one per finished attempt (at most WEBHOOK_MAX_ATTEMPTS)."
  }
  column "redelivery_of" {
    type    = uuid
    null    = true
    comment = "The delivery a RedeliverWebhookDelivery sent again."
  }
  column "create_time" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.uid]
  }
  foreign_key "webhook_deliveries_webhook_fk" {
    columns     = [column.webhook_uid]
    ref_columns = [table.webhooks.column.uid]
    on_delete   = CASCADE
  }
  foreign_key "webhook_deliveries_event_fk" {
    columns     = [column.project_uid, column.event_sequence]
    ref_columns = [table.issue_events.column.project_uid, table.issue_events.column.sequence]
    on_delete   = CASCADE
  }
  index "webhook_deliveries_due_idx" {
    comment = "What the workers claim: pending rows by when they are due."
    columns = [column.next_attempt_time]
    where   = "state = 'pending'"
  }
  index "webhook_deliveries_backlog_idx" {
    comment = "A webhook's pending rows, counted against its backlog cap."
    columns = [column.webhook_uid]
    where   = "state = 'pending'"
  }
  index "webhook_deliveries_webhook_idx" {
    comment = "ListWebhookDeliveries, newest first."
    columns = [column.webhook_uid, column.create_time, column.uid]
  }
  index "webhook_deliveries_finished_idx" {
    comment = "The retention sweep of finished deliveries."
    columns = [column.create_time]
    where   = "state <> 'pending'"
  }
  index "webhook_deliveries_event_idx" {
    comment = "The foreign key to issue_events, for its cascade."
    columns = [column.project_uid, column.event_sequence]
  }
}
