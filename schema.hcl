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
  comment = "Responses of Create calls that carried a request_id (AIP-155), replayed on retry."
  column "method" {
    type = text
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
    columns = [column.method, column.request_id]
  }
  index "idempotent_requests_create_time_idx" {
    comment = "Expiry of old keys."
    columns = [column.create_time]
  }
}
