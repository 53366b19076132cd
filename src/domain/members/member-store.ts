import type { Kysely, Transaction } from "kysely";
import type { DB, MemberRole } from "../../../gen/db.js";
import { failedPrecondition, notFound } from "../errors.js";
import { announceAccessChange } from "../shared/access.js";
import type { NewRevision } from "../shared/etag.js";
import { lastSegmentOf } from "../shared/names.js";
import { afterPair, type PairCursor, pageOf, pairKeyset } from "../shared/pagination.js";
import type { ProjectRow } from "../shared/projects.js";
import type { MemberRow } from "./member-mapping.js";

/** The member `name` of a project the transaction holds locked (lockProjectFor), locked for a change. */
export async function lockMember(tx: Transaction<DB>, project: ProjectRow, name: string): Promise<MemberRow> {
  const row = await tx
    .selectFrom("members")
    .selectAll()
    .where("project_uid", "=", project.uid)
    .where("user_uid", "=", lastSegmentOf(name))
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/**
 * Refuses a change that takes the admin role from `member` when no other
 * member of the project has it. The project row lock the caller holds makes
 * the check and the change atomic: two admins cannot demote each other at once.
 */
async function assertNotLastAdmin(
  tx: Transaction<DB>,
  project: ProjectRow,
  member: MemberRow,
  name: string,
): Promise<void> {
  if (member.role !== "admin") return;
  const otherAdmin = await tx
    .selectFrom("members")
    .select("user_uid")
    .where("project_uid", "=", project.uid)
    .where("role", "=", "admin")
    .where("user_uid", "!=", member.user_uid)
    .limit(1)
    .executeTakeFirst();
  if (!otherAdmin) {
    throw failedPrecondition(
      "LAST_ADMIN",
      `${name} is the last admin of projects/${project.key}; make another member an admin first`,
      name,
    );
  }
}

/** Makes the user `userUid` (found by findUserUidBy) a member of the project. */
export function insertMember(
  tx: Transaction<DB>,
  projectUid: string,
  userUid: string,
  role: MemberRole,
): Promise<MemberRow> {
  return tx
    .insertInto("members")
    .values({ project_uid: projectUid, user_uid: userUid, role })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Gives the locked member `row` (called `name`) a new role, as its next
 * revision; never the last admin's away (LAST_ADMIN). When the role changes,
 * the member's open WatchIssues streams re-check their access.
 */
export async function changeRole(
  tx: Transaction<DB>,
  project: ProjectRow,
  row: MemberRow,
  name: string,
  role: MemberRole,
  revision: NewRevision,
): Promise<MemberRow> {
  if (role !== "admin") await assertNotLastAdmin(tx, project, row, name);
  const updated = await tx
    .updateTable("members")
    .set({ role, ...revision })
    .where("project_uid", "=", row.project_uid)
    .where("user_uid", "=", row.user_uid)
    .returningAll()
    .executeTakeFirstOrThrow();
  if (updated.role !== row.role) await announceAccessChange(tx, project.uid, row.user_uid);
  return updated;
}

/**
 * Removes the locked member `row` (called `name`), never the last admin
 * (LAST_ADMIN); the member's open WatchIssues streams end (see announceAccessChange).
 */
export async function removeMember(
  tx: Transaction<DB>,
  project: ProjectRow,
  row: MemberRow,
  name: string,
): Promise<void> {
  await assertNotLastAdmin(tx, project, row, name);
  await tx
    .deleteFrom("members")
    .where("project_uid", "=", row.project_uid)
    .where("user_uid", "=", row.user_uid)
    .execute();
  await announceAccessChange(tx, project.uid, row.user_uid);
}

/** A page of a project's members, by the time they joined. */
export function pageOfMembers(
  db: Kysely<DB>,
  projectUid: string,
  request: { parent: string; pageSize: number; pageToken: string },
) {
  const query = { method: "ListMembers", parent: request.parent };
  const keyset = pairKeyset((row: MemberRow): PairCursor => [row.create_time, row.user_uid]);
  return pageOf(request, query, keyset, (limit, after) => {
    let select = db
      .selectFrom("members")
      .selectAll()
      .where("project_uid", "=", projectUid)
      .orderBy("create_time")
      .orderBy("user_uid")
      .limit(limit);
    if (after) select = select.where(afterPair("create_time", "user_uid", after));
    return select.execute();
  });
}
