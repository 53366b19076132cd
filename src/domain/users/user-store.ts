import type { Kysely } from "kysely";
import type { DB } from "../../../gen/db.js";
import { notFound } from "../errors.js";
import { userName } from "../shared/names.js";
import { afterPair, type PairCursor, pageOf, pairKeyset } from "../shared/pagination.js";
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

/** A LIKE pattern for "starts with `text`": its own `%`, `_` and `\\` match only themselves. */
const startsWith = (text: string) => `${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/**
 * A page of the people `callerUid` may see (themselves, and whoever shares a
 * project with them) whose display name or e-mail starts with `query`, in
 * any case, by display name. Nobody else is ever a candidate, whatever the query.
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
      .where((eb) => eb.or([eb("display_name", "ilike", pattern), eb("email", "ilike", pattern)]))
      .orderBy("display_name")
      .orderBy("uid")
      .limit(limit);
    if (after) select = select.where(afterPair("display_name", "uid", after));
    return select.execute();
  });
}
