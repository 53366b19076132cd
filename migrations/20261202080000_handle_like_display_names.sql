-- Display names that read as a handle ("@ada", or an at sign's look-alike, after blanks
-- or invisible characters) were taken from tokens until sign-in refused them
-- (displayNameFrom in src/domain/users/handles.ts): cleared here, as a new version of
-- the user, since sign-in keeps the known name when a token's is refused. The next
-- token with a usable name sets one again. users has thousands of rows, not millions.
UPDATE "users"
SET "display_name" = '', "revision" = "revision" + 1, "update_time" = now()
WHERE "display_name" ~ '^[[:space:]\u00A0\u1680\u2000-\u200F\u2028-\u202F\u205F-\u206F\u115F\u1160\u3000\u3164\uFEFF\uFFA0]*[@\uFF20\uFE6B]';
