import type { Kysely } from "kysely";
import type { DB } from "../../../gen/db.js";
import { notFound } from "../errors.js";
import { userName } from "../shared/names.js";
import type { UserRow } from "./user-mapping.js";

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
