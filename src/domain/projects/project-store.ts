import { type Kysely, sql, type Transaction } from "kysely";
import type { DB } from "../../../gen/db.js";
import { failedPrecondition } from "../errors.js";
import type { NewRevision } from "../shared/etag.js";
import {
  afterPair,
  type PairCursor,
  pageBytes,
  pageOf,
  pairKeyset,
  withinPageBytes,
} from "../shared/pagination.js";
import type { ProjectRow } from "../shared/projects.js";

/** The project is deleted (`deleted`) or not, and the change needs the other. */
export const projectDeleted = (name: string, deleted: boolean) =>
  failedPrecondition(
    deleted ? "PROJECT_DELETED" : "PROJECT_NOT_DELETED",
    deleted ? `${name} is deleted; undelete it first` : `${name} is not deleted`,
    name,
  );

/** A new project, administered by its creator (who can add everyone else). */
export async function insertProject(
  tx: Transaction<DB>,
  creatorUid: string,
  fields: { key: string; display_name: string; description: string },
): Promise<ProjectRow> {
  const row = await tx.insertInto("projects").values(fields).returningAll().executeTakeFirstOrThrow();
  await tx
    .insertInto("members")
    .values({ project_uid: row.uid, user_uid: creatorUid, role: "admin" })
    .execute();
  return row;
}

/** Writes `changes` to the locked project `uid`, as its next revision. */
export function writeProject(
  tx: Transaction<DB>,
  uid: string,
  changes: Pick<ProjectRow, "display_name" | "description">,
  revision: NewRevision,
): Promise<ProjectRow> {
  return tx
    .updateTable("projects")
    .set({ ...changes, ...revision })
    .where("uid", "=", uid)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes (soft) or restores the locked project `uid`, as its next revision. */
export function setProjectDeleted(
  tx: Transaction<DB>,
  uid: string,
  deleted: boolean,
  revision: NewRevision,
): Promise<ProjectRow> {
  return tx
    .updateTable("projects")
    .set((eb) => ({ delete_time: deleted ? eb.fn("now") : null, ...revision }))
    .where("uid", "=", uid)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A page of the projects `userUid` is a member of: only those exist for them. */
export function pageOfProjects(
  db: Kysely<DB>,
  userUid: string,
  request: { pageSize: number; pageToken: string; showDeleted: boolean },
) {
  const query = { method: "ListProjects", showDeleted: request.showDeleted };
  const keyset = pairKeyset((row: ProjectRow): PairCursor => [row.create_time, row.key]);
  return pageOf(request, query, keyset, (limit, after) => {
    let select = db
      .selectFrom("projects")
      .innerJoin("members", (join) =>
        join.onRef("members.project_uid", "=", "projects.uid").on("members.user_uid", "=", userUid),
      )
      .selectAll("projects")
      .select(pageBytes(sql`octet_length(projects.description)`, sql`projects.create_time, projects.key`))
      .orderBy("projects.create_time")
      .orderBy("projects.key")
      .limit(limit);
    if (!request.showDeleted) select = select.where("projects.delete_time", "is", null);
    if (after) select = select.where(afterPair("projects.create_time", "projects.key", after));
    return db
      .selectFrom(select.as("project"))
      .selectAll()
      .where(withinPageBytes("project"))
      .orderBy("project.page_place")
      .execute();
  });
}

/** Whether `userUid` is a member of the project with this key (any role). */
export async function isMemberOf(db: Kysely<DB>, userUid: string, projectKey: string): Promise<boolean> {
  const member = await db
    .selectFrom("members")
    .innerJoin("projects", "projects.uid", "members.project_uid")
    .select("members.role")
    .where("projects.key", "=", projectKey)
    .where("members.user_uid", "=", userUid)
    .executeTakeFirst();
  return member !== undefined;
}
