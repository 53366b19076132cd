import type { Kysely, Selectable } from "kysely";
import type { DB, Projects } from "../../../gen/db.js";
import { notFound } from "../errors.js";
import { projectName } from "./names.js";

export type ProjectRow = Selectable<Projects>;

/** The project with key `key`, deleted or not; NOT_FOUND when there is none. */
export async function findProject(db: Kysely<DB>, key: string): Promise<ProjectRow> {
  const row = await db.selectFrom("projects").selectAll().where("key", "=", key).executeTakeFirst();
  if (!row) throw notFound(projectName(key));
  return row;
}
