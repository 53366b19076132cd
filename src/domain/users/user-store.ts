import { type Kysely, sql, type Transaction } from "kysely";
import type { DB } from "../../../gen/db.js";
import { DomainError, notFound } from "../errors.js";
import type { Caller } from "../shared/caller.js";
import type { NewRevision } from "../shared/etag.js";
import { resolveUserName, userName, userUidOf } from "../shared/names.js";
import { afterPair, type PairCursor, pageOf, pairKeyset } from "../shared/pagination.js";
import { asciiLowerCase } from "./handles.js";
import type { UserRow } from "./user-mapping.js";

/** What a verified token says about the person signing in. */
export interface SignInProfile {
  subject: string;
  /** "" when the token gives none: what is known is kept. */
  email: string;
  displayName: string;
  /** The handles to try, best first, should the user have none (handleCandidates). */
  handles: string[];
}

/** The first of `candidates` that no user has, in any case; null when none is free. */
const freeHandle = (candidates: string[]) =>
  sql<
    string | null
  >`(SELECT candidate FROM unnest(${candidates}::text[]) WITH ORDINALITY AS t(candidate, rank)
    WHERE NOT EXISTS (SELECT 1 FROM users taken WHERE lower(taken.handle) = lower(candidate))
    ORDER BY rank LIMIT 1)`;

const isHandleConflict = (error: unknown) =>
  (error as { code?: unknown; constraint?: unknown }).code === "23505" &&
  (error as { constraint?: unknown }).constraint === "users_handle_key";

/**
 * The uid of the user `profile.subject`, created on first sign-in, with the
 * token's e-mail and name. A user without a handle takes the first free one
 * of `profile.handles`; one that has a handle keeps it. A new revision only
 * when something changed. Two people signing in at once with the same
 * candidate: one statement fails on the unique index, and its retry sees the
 * handle taken (READ COMMITTED: a new snapshot per statement).
 */
export async function signIn(db: Kysely<DB>, profile: SignInProfile): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    // The last attempt takes no handle, so it cannot conflict.
    const handles = attempt < 2 ? profile.handles : [];
    try {
      return await upsertUser(db, profile, handles);
    } catch (error) {
      if (!isHandleConflict(error) || handles.length === 0) throw error;
    }
  }
}

async function upsertUser(db: Kysely<DB>, profile: SignInProfile, handles: string[]): Promise<string> {
  // A token without the claim keeps what is known.
  const email = profile.email === "" ? sql<string>`users.email` : sql<string>`${profile.email}`;
  const displayName =
    profile.displayName === "" ? sql<string>`users.display_name` : sql<string>`${profile.displayName}`;
  const handle = sql<string | null>`coalesce(users.handle, excluded.handle)`;
  const changed = sql<boolean>`(users.email, users.display_name, users.handle) IS DISTINCT FROM (${email}, ${displayName}, ${handle})`;
  const user = await db
    .insertInto("users")
    .values({
      subject: profile.subject,
      email: profile.email,
      display_name: profile.displayName,
      handle: handles.length > 0 ? freeHandle(handles) : null,
    })
    .onConflict((conflict) =>
      conflict.column("subject").doUpdateSet({
        email,
        display_name: displayName,
        handle,
        revision: sql<number>`CASE WHEN ${changed} THEN users.revision + 1 ELSE users.revision END`,
        update_time: sql<string>`CASE WHEN ${changed} THEN now() ELSE users.update_time END`,
      }),
    )
    .returning("uid")
    .executeTakeFirstOrThrow();
  return user.uid;
}

/** The caller's own row, locked for a change of their profile. */
export async function lockUser(tx: Transaction<DB>, uid: string): Promise<UserRow> {
  const row = await tx.selectFrom("users").selectAll().where("uid", "=", uid).forUpdate().executeTakeFirst();
  if (!row) throw notFound(userName(uid));
  return row;
}

/** Gives the locked user `uid` a new handle, as its next revision; ALREADY_EXISTS when taken in any case. */
export function changeHandle(
  tx: Transaction<DB>,
  uid: string,
  handle: string,
  revision: NewRevision,
): Promise<UserRow> {
  return tx
    .updateTable("users")
    .set({ handle, ...revision })
    .where("uid", "=", uid)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Who CreateMember adds: a user's name (or `users/me`), or a handle or e-mail address to look up. */
export type UserLookup =
  | { case: "name"; value: string }
  | { case: "userHandle"; value: string }
  | { case: "userEmail"; value: string };

/**
 * The uid of the user a CreateMember request names. A handle or e-mail
 * address that is nobody's is NOT_FOUND, in the same words for both, and
 * whoever asks learns no more than whether such a user exists (see SECURITY.md).
 */
export async function findUserUidBy(db: Kysely<DB>, lookup: UserLookup, caller: Caller): Promise<string> {
  if (lookup.case === "name") {
    const name = resolveUserName(lookup.value, caller);
    const row = await db
      .selectFrom("users")
      .select("uid")
      .where("uid", "=", userUidOf(name))
      .executeTakeFirst();
    if (!row) throw notFound(name);
    return row.uid;
  }
  const column = lookup.case === "userHandle" ? "handle" : "email";
  const wanted = asciiLowerCase(lookup.value);
  const rows = await db
    .selectFrom("users")
    .select(["uid", column])
    .where(sql`lower(${sql.ref(column)})`, "=", wanted)
    .limit(3)
    .execute();
  // lower() in the database also folds non-ASCII letters onto ASCII ones (the
  // Kelvin sign is a k): only addresses equal but for ASCII case count.
  const [match, ...others] = rows.filter((row) => asciiLowerCase(row[column] ?? "") === wanted);
  const field = lookup.case === "userHandle" ? "user_handle" : "user_email";
  if (!match) {
    const what = lookup.case === "userHandle" ? "handle" : "e-mail address";
    throw new DomainError("not_found", "USER_NOT_FOUND", `no user has this ${what}`, { field });
  }
  if (others.length > 0) {
    throw new DomainError(
      "failed_precondition",
      "AMBIGUOUS_EMAIL",
      "more than one user has this e-mail address; add the user by user_handle or member.user",
      { field },
    );
  }
  return match.uid;
}

export async function findUser(db: Kysely<DB>, uid: string): Promise<UserRow> {
  const row = await db.selectFrom("users").selectAll().where("uid", "=", uid).executeTakeFirst();
  if (!row) throw notFound(userName(uid));
  return row;
}

/** Whether two users are members of one project (the people a user may see). */
export async function shareAProject(db: Kysely<DB>, userUid: string, otherUid: string): Promise<boolean> {
  const shared = await db
    .selectFrom("members as mine")
    .innerJoin("members as theirs", "theirs.project_uid", "mine.project_uid")
    .select("theirs.user_uid")
    .where("mine.user_uid", "=", userUid)
    .where("theirs.user_uid", "=", otherUid)
    .limit(1)
    .executeTakeFirst();
  return shared !== undefined;
}

/** A LIKE pattern for "starts with `text`": its own `%`, `_` and `\\` match only themselves. */
const startsWith = (text: string) => `${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/**
 * A page of the people `callerUid` may see (themselves, and whoever shares a
 * project with them) whose handle, display name or e-mail starts with
 * `query`, in any case, by display name. Nobody else is ever a candidate, whatever the query.
 */
export function searchVisibleUsers(
  db: Kysely<DB>,
  callerUid: string,
  request: { query: string; pageSize: number; pageToken: string },
) {
  const query = { method: "SearchUsers", query: request.query };
  const keyset = pairKeyset((row: UserRow): PairCursor => [row.display_name, row.uid]);
  const pattern = startsWith(request.query);
  return pageOf(request, query, keyset, (limit, after) => {
    let select = db
      .selectFrom("users")
      .selectAll()
      .where((eb) =>
        eb.or([
          eb("uid", "=", callerUid),
          eb(
            "uid",
            "in",
            eb
              .selectFrom("members as mine")
              .innerJoin("members as theirs", "theirs.project_uid", "mine.project_uid")
              .select("theirs.user_uid")
              .where("mine.user_uid", "=", callerUid),
          ),
        ]),
      )
      .where((eb) =>
        eb.or([
          eb("handle", "ilike", pattern),
          eb("display_name", "ilike", pattern),
          eb("email", "ilike", pattern),
        ]),
      )
      .orderBy("display_name")
      .orderBy("uid")
      .limit(limit);
    if (after) select = select.where(afterPair("display_name", "uid", after));
    return select.execute();
  });
}
