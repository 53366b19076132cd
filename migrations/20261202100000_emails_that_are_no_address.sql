-- E-mails that are no address ("@alice", or one whose local part is only blanks,
-- "\u2800@alice"), which clients showed for a user with neither handle nor display
-- name, so that it passed for alice's handle, until sign-in took none (emailFrom in
-- src/domain/users/handles.ts). Cleared, as a new version of the user; the class of
-- blanks is 20261202090000_blank_looking_handle_like_display_names.sql's.
UPDATE "users"
SET "email" = '', "revision" = "revision" + 1, "update_time" = now()
WHERE "email" <> ''
  AND ("email" !~ '^[^[:space:]@\uFF20\uFE6B]+@[^[:space:]@\uFF20\uFE6B]+$'
    OR "email" ~ '^[[:space:]\u00A0\u1680\u2000-\u200F\u2028-\u202F\u205F-\u206F\u115F\u1160\u2800\u3000\u3164\uFEFF\uFFA0]*[@\uFF20\uFE6B]');
