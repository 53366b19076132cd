-- Display names with an at sign after the Braille blank U+2800, which shows as a space
-- but is neither a blank nor invisible to Unicode, passed for a handle ("\u2800@admin"
-- shown as "@admin") until sign-in passed over it too (displayNameFrom in
-- src/domain/users/handles.ts). Cleared as 20261202080000_handle_like_display_names.sql
-- cleared the others, whose characters this one repeats: as a new version of the user.
UPDATE "users"
SET "display_name" = '', "revision" = "revision" + 1, "update_time" = now()
WHERE "display_name" ~ '^[[:space:]\u00A0\u1680\u2000-\u200F\u2028-\u202F\u205F-\u206F\u115F\u1160\u2800\u3000\u3164\uFEFF\uFFA0]*[@\uFF20\uFE6B]';
