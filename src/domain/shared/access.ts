import { type Kysely, type QueryCreator, type SqlBool, sql, type Transaction } from "kysely";
import type { DB, MemberRole } from "../../../gen/db.js";
import { DomainError, failedPrecondition, notFound } from "../errors.js";
import type { Caller } from "./caller.js";
import { projectKeyOf, projectName } from "./names.js";
import type { ProjectRow } from "./projects.js";

// Object-level authorisation: every request for something in a project goes
// through here. A caller who is not a member learns nothing (NOT_FOUND, as
// if the project did not exist); a member whose role is too low gets
// PERMISSION_DENIED. Roles include those below them.

const RANK: Record<MemberRole, number> = { reader: 1, writer: 2, admin: 3 };

/** The contract's name of a role, e.g. ROLE_WRITER. */
const roleName = (role: MemberRole) => `ROLE_${role.toUpperCase()}`;

export type ProjectAccess = ProjectRow & { caller_role: MemberRole };

function projectWithCallerRole(db: QueryCreator<DB>, caller: Caller, key: string) {
  return db
    .selectFrom("projects")
    .leftJoin("members", (join) =>
      join.onRef("members.project_uid", "=", "projects.uid").on("members.user_uid", "=", caller.userUid),
    )
    .selectAll("projects")
    .select("members.role as caller_role")
    .where("projects.key", "=", key);
}

function check(
  row: (ProjectRow & { caller_role: MemberRole | null }) | undefined,
  role: MemberRole,
  requested: string,
): ProjectAccess {
  if (!row || row.caller_role === null) throw notFound(requested);
  if (RANK[row.caller_role] < RANK[role]) {
    throw new DomainError(
      "permission_denied",
      "ROLE_TOO_LOW",
      `this needs ${roleName(role)} in ${projectName(row.key)}`,
      { resource: requested, required_role: roleName(role) },
    );
  }
  return { ...row, caller_role: row.caller_role };
}

/**
 * The project of `requested` (a project or anything in one, e.g.
 * `projects/CORE/issues/7`) for a read by a member with at least `role`;
 * deleted projects too.
 */
export async function projectFor(
  db: Kysely<DB>,
  caller: Caller,
  requested: string,
  role: MemberRole,
): Promise<ProjectAccess> {
  const row = await projectWithCallerRole(db, caller, projectKeyOf(requested)).executeTakeFirst();
  return check(row, role, requested);
}

/**
 * The CTE `access`, for a read that checks access in its own query (one
 * round trip): the project of `requested` (its `uid`, deleted projects too,
 * as for projectFor) with the caller's role in it (`caller_role`, null for
 * a non-member); no row for no such project. The read should touch nothing
 * else unless `caller_role` is set, and answer with assertReader.
 */
export function withProjectAccess(db: Kysely<DB>, caller: Caller, requested: string) {
  return db.with("access", (db) => projectWithCallerRole(db, caller, projectKeyOf(requested)));
}

/**
 * The CTE `access` for a read across projects (`projects/-`, AIP-159): the
 * `uid` and `key` of every project the caller is a member of, any role;
 * deleted projects only if `showDeleted`, and only those of `keys` if given.
 * It starts from the caller's memberships (members_user_idx), so a read
 * joined to it never touches a row of another project: what a caller sees,
 * counts or waits for depends on their own projects alone.
 */
export function withReadableProjects(
  db: Kysely<DB>,
  caller: Caller,
  options: { showDeleted: boolean; keys?: string[] },
) {
  return db.with("access", (db) => {
    let projects = db
      .selectFrom("members")
      .innerJoin("projects", "projects.uid", "members.project_uid")
      .select(["projects.uid", "projects.key"])
      .where("members.user_uid", "=", caller.userUid);
    if (!options.showDeleted) projects = projects.where("projects.delete_time", "is", null);
    if (options.keys) {
      const { keys } = options;
      projects = keys.length
        ? projects.where("projects.key", "in", keys)
        : projects.where(sql<SqlBool>`false`);
    }
    return projects;
  });
}

/** projectFor's answer to a reader, from the `caller_role` a withProjectAccess read returned (undefined: no row). */
export function assertReader(row: { caller_role: MemberRole | null } | undefined, requested: string): void {
  if (!row || row.caller_role === null) throw notFound(requested);
}

/**
 * Runs `read`, which checks access in its own query (withProjectAccess).
 * Should it refuse the request before its query (a bad page token, a filter
 * naming another project), access is checked first, as when it was a query
 * of its own: a non-member is NOT_FOUND whatever else is wrong, and learns
 * nothing from the request's mistakes.
 */
export async function readingAsReader<T>(
  db: Kysely<DB>,
  caller: Caller,
  requested: string,
  read: () => Promise<T>,
): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof DomainError && error.code === "invalid_argument") {
      await projectFor(db, caller, requested, "reader");
    }
    throw error;
  }
}

/**
 * The project for a change, locked in the transaction. The row lock orders
 * concurrent writers of one project, which keeps issue numbers and event
 * sequences gapless and in commit order. Unless `deleted` is allowed, a
 * deleted project is FAILED_PRECONDITION (after the access check, so only
 * members learn it).
 */
export async function lockProjectFor(
  tx: Transaction<DB>,
  caller: Caller,
  requested: string,
  role: MemberRole,
  options: { allowDeleted?: boolean } = {},
): Promise<ProjectAccess> {
  const key = projectKeyOf(requested);
  const row = await projectWithCallerRole(tx, caller, key).forUpdate("projects").executeTakeFirst();
  const project = check(row, role, requested);
  if (project.delete_time !== null && !options.allowDeleted) {
    throw failedPrecondition(
      "PROJECT_DELETED",
      `${projectName(key)} is deleted; undelete it first`,
      projectName(key),
    );
  }
  return project;
}

/** The channel changes that may end someone's access are announced on (see announceAccessChange). */
export const ACCESS_CHANGES_CHANNEL = "tracker_access_changes";

/** Who a change of access concerns: one user, or every member of the project (`"*"`). */
export interface AccessChange {
  projectUid: string;
  /** The project's access_revision the change committed with. */
  revision: number;
  userUid: string | "*";
}

/**
 * Records, in the transaction that makes it, a change that may end access to
 * a project (a member removed or given another role; `userUid` unset: the
 * project deleted), and announces it on commit. The caller holds the project
 * row locked (lockProjectFor), so revisions are in commit order. Open
 * WatchIssues streams of the member (or of everyone) re-check access on the
 * announcement; a stream that reads events first sees the new revision in
 * the same snapshot and re-checks before delivering them.
 */
export async function announceAccessChange(
  tx: Transaction<DB>,
  projectUid: string,
  userUid?: string,
): Promise<void> {
  const { access_revision: revision } = await tx
    .updateTable("projects")
    .set((eb) => ({ access_revision: eb("access_revision", "+", 1) }))
    .where("uid", "=", projectUid)
    .returning("access_revision")
    .executeTakeFirstOrThrow();
  const payload = `${projectUid} ${revision} ${userUid ?? "*"}`;
  await sql`SELECT pg_notify(${ACCESS_CHANGES_CHANNEL}, ${payload})`.execute(tx);
}

/** The change an ACCESS_CHANGES_CHANNEL payload announces; undefined for anything else. */
export function parseAccessChange(payload: string): AccessChange | undefined {
  const [projectUid, revision, userUid, ...rest] = payload.split(" ");
  if (!projectUid || !userUid || rest.length > 0 || !/^\d{1,10}$/.test(revision ?? "")) return undefined;
  return { projectUid, revision: Number(revision), userUid };
}
