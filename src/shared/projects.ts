import { Code } from "@connectrpc/connect";
import type { Kysely, Selectable, Transaction } from "kysely";
import type { DB, Projects } from "../../gen/db.js";
import { apiError, notFound } from "./errors.js";
import { projectName } from "./names.js";

export type ProjectRow = Selectable<Projects>;

/** The project with key `key`, deleted or not; NOT_FOUND when there is none. */
export async function findProject(db: Kysely<DB>, key: string): Promise<ProjectRow> {
  const row = await db.selectFrom("projects").selectAll().where("key", "=", key).executeTakeFirst();
  if (!row) throw notFound(projectName(key));
  return row;
}

/**
 * Locks a live project for a change to its contents (issues, labels,
 * members). The row lock orders concurrent writers of one project, which
 * keeps issue numbers and event sequences gapless and in commit order.
 */
export async function lockLiveProject(tx: Transaction<DB>, key: string): Promise<ProjectRow> {
  const row = await tx
    .selectFrom("projects")
    .selectAll()
    .where("key", "=", key)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound(projectName(key));
  if (row.delete_time !== null) {
    throw apiError(
      Code.FailedPrecondition,
      "PROJECT_DELETED",
      `${projectName(key)} is deleted; undelete it first`,
      {
        metadata: { resource: projectName(key) },
      },
    );
  }
  return row;
}
