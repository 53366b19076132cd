// Resource names: of what a person types, and of what a name belongs to;
// and how people are named.

import type { User } from "../../client/index.js";

/** The project an issue (or anything under a project) belongs to: `projects/CORE`. */
export function projectOf(name: string): string {
  return name.split("/").slice(0, 2).join("/");
}

/**
 * An issue's name from what a person types: its key (`CORE-12`, any case),
 * its number in `project` (`12`, `#12`), its name, or a link to it.
 */
export function issueNameFrom(text: string, project: string): string | undefined {
  let typed = text.trim();
  try {
    typed = new URL(typed).pathname;
  } catch {
    // Not a link: taken as typed.
  }
  typed = typed.replace(/^\//, "");
  const number = /^#?([1-9][0-9]{0,17})$/.exec(typed);
  if (number) return `${project}/issues/${number[1]}`;
  return issueNameOfKey(typed) ?? (ISSUE_NAME.test(typed) ? typed : undefined);
}

/** `projects/CORE/issues/12` of the key `CORE-12` (any case), else undefined. */
export function issueNameOfKey(text: string): string | undefined {
  const key = /^([A-Za-z][A-Za-z0-9]{1,9})-([1-9][0-9]{0,17})$/.exec(text.trim());
  return key ? `projects/${key[1]?.toUpperCase()}/issues/${key[2]}` : undefined;
}

/** The key `CORE-12` of the issue `projects/CORE/issues/12`; anything else as it is. */
export function issueKeyOf(name: string): string {
  const parts = /^projects\/([^/]+)\/issues\/([^/]+)$/.exec(name);
  return parts ? `${parts[1]}-${parts[2]}` : name;
}

const ISSUE_NAME = /^projects\/[A-Z][A-Z0-9]{1,9}\/issues\/[1-9][0-9]{0,17}$/;

/**
 * Blanks, invisible characters, the Braille blank and at signs (or
 * look-alikes) that a display name may start with, as the server's
 * displayNameFrom passes them over.
 */
const HANDLE_LIKE_START = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{M}\u2800@\uFF20\uFE6B]+/u;

const AT_SIGNS = /[@\uFF20\uFE6B]/gu;

/**
 * How people are named on the board: `@handle`, else their display name or
 * e-mail, with no at sign in it. Only a handle shows one: a name or e-mail
 * could put a character no list keeps up with (a tiny mark, U+0640) before
 * "@alice", so any at sign of theirs is written " at " ("ada at example.com").
 * One at the start, after blanks and invisible characters, is dropped.
 */
export function personName(user: Pick<User, "handle" | "displayName" | "email">): string {
  if (user.handle) return `@${user.handle}`;
  const name = user.displayName.replace(HANDLE_LIKE_START, "") || user.email.replace(HANDLE_LIKE_START, "");
  return name.replace(AT_SIGNS, " at ").replace(/\s+/gu, " ").trim();
}
