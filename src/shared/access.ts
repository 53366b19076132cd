import { Code } from "@connectrpc/connect";
import type { Kysely, Transaction } from "kysely";
import type { DB, MemberRole } from "../../gen/db.js";
import type { Caller } from "./caller.js";
import { apiError, notFound } from "./errors.js";
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

function projectWithCallerRole(db: Kysely<DB>, caller: Caller, key: string) {
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
    throw apiError(
      Code.PermissionDenied,
      "ROLE_TOO_LOW",
      `this needs ${roleName(role)} in ${projectName(row.key)}`,
      { metadata: { resource: requested, required_role: roleName(role) } },
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
    throw apiError(
      Code.FailedPrecondition,
      "PROJECT_DELETED",
      `${projectName(key)} is deleted; undelete it first`,
      {
        metadata: { resource: projectName(key) },
      },
    );
  }
  return project;
}
