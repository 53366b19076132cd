// Handles (User.handle): lower-case ASCII letters and digits, single hyphens
// inside, at most 39 characters, as GitHub logins are. The same rule is the
// contract's pattern and the users_handle_format check.

const MAX_HANDLE_LENGTH = 39;
const HANDLE = /^[a-z0-9]([a-z0-9]|-[a-z0-9]){0,38}$/;
/** A handle in any case: checked before lower-casing, which maps some non-ASCII letters (K, the Kelvin sign) onto ASCII. */
const HANDLE_ANY_CASE = /^[A-Za-z0-9]([A-Za-z0-9]|-[A-Za-z0-9]){0,38}$/;

/**
 * Handles no one may have: `me` is the caller wherever a user is named
 * (`users/me`), so a user called `me` would be added in place of whoever
 * asks; the others would pass for the service itself.
 */
export const RESERVED_HANDLES: ReadonlySet<string> = new Set(["me", "admin", "root", "system", "tracker"]);

export const isHandle = (text: string) =>
  text.length <= MAX_HANDLE_LENGTH && HANDLE.test(text) && !RESERVED_HANDLES.has(text);

/** Lower-cases ASCII letters only, so no other character can become one. */
export const asciiLowerCase = (text: string) => text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());

/**
 * The handles a user signing in for the first time may get, best first: the
 * token's `preferred_username` when it is a handle in any case, then the
 * local part of the e-mail address made into one (`Ada.Lovelace@...` is
 * `ada-lovelace`). Whichever is free is taken; with none, the user has no
 * handle until they choose one.
 */
export function handleCandidates(preferredUsername: string, email: string): string[] {
  const candidates: string[] = [];
  const preferred = asciiLowerCase(preferredUsername);
  if (
    preferredUsername.length <= MAX_HANDLE_LENGTH &&
    HANDLE_ANY_CASE.test(preferredUsername) &&
    isHandle(preferred)
  )
    candidates.push(preferred);
  const at = email.lastIndexOf("@");
  if (at > 0) {
    const fromEmail = asciiLowerCase(email.slice(0, at).replace(/[^A-Za-z0-9]+/g, "-"))
      .replace(/^-+/, "")
      .slice(0, MAX_HANDLE_LENGTH)
      .replace(/-+$/, "");
    if (isHandle(fromEmail) && !candidates.includes(fromEmail)) candidates.push(fromEmail);
  }
  return candidates;
}

/**
 * What a display name may not start with, once blanks, invisible characters
 * and characters that show as a blank before it are passed over: an at sign
 * or one that looks like it (fullwidth, small). Clients write handles as
 * `@ada`, so a display name "@ada" shown for a user without a handle would
 * pass for ada's handle. The Braille blank U+2800 is neither White_Space nor
 * ignorable, but shows as a space; the Hangul fillers (U+115F, U+1160,
 * U+3164, U+FFA0) are Default_Ignorable_Code_Point. A combining mark first
 * (U+0301, U+0670) has nothing to combine with and shows as next to nothing.
 */
const READS_AS_HANDLE = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{M}\u2800]*[@\uFF20\uFE6B]/u;

/**
 * The token's `name` claim as the user's display name: without surrounding
 * blanks, and "" (as good as absent, see signIn) when it would read as a
 * handle. Control and format characters already made the claim unusable
 * (the authenticator's profileClaim), so none hides in front of the "@".
 */
export function displayNameFrom(claim: string): string {
  const name = claim.trim();
  return READS_AS_HANDLE.test(name) ? "" : name;
}

/** An address: something, one at sign, something; no blanks, no look-alike at signs. */
// Its first character one that shows: a letter, digit, punctuation or symbol, not a mark.
const VISIBLE_FIRST = /^[\p{L}\p{N}\p{P}\p{S}]/u;
const EMAIL_ADDRESS = /^[^\p{White_Space}@\uFF20\uFE6B]+@[^\p{White_Space}@\uFF20\uFE6B]+$/u;

/**
 * The token's `email` claim as the user's e-mail: "" (as good as absent)
 * unless it is an address whose local part is more than blanks. Clients show
 * the e-mail of a user with neither handle nor display name, so an "email"
 * of "@alice", or "\u2800@alice", would pass for alice's handle.
 */
export function emailFrom(claim: string): string {
  return EMAIL_ADDRESS.test(claim) && !READS_AS_HANDLE.test(claim) && VISIBLE_FIRST.test(claim) ? claim : "";
}
