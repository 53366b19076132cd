import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { Selectable } from "kysely";
import type { Users } from "../../gen/db.js";
import { type User, UserSchema, UserService } from "../../gen/proto/tracker/v1/user_pb.js";
import type { AppContext } from "../context.js";
import type { Database } from "../db/database.js";
import { callerOf } from "../shared/caller.js";
import { notFound } from "../shared/errors.js";
import { userName, userUidOf } from "../shared/names.js";
import { timestampFromPg } from "../shared/timestamps.js";

type UserRow = Selectable<Users>;

function toUser(row: UserRow): User {
  return create(UserSchema, {
    name: userName(row.uid),
    uid: row.uid,
    displayName: row.display_name,
    email: row.email,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
  });
}

async function findUser(db: Database, uid: string): Promise<UserRow> {
  const row = await db.selectFrom("users").selectAll().where("uid", "=", uid).executeTakeFirst();
  if (!row) throw notFound(userName(uid));
  return row;
}

export function userService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(UserService, {
      async getCurrentUser(_req, context) {
        // The caller interceptor has already created the user on this request.
        return toUser(await findUser(ctx.db, callerOf(context).userUid));
      },

      // Users see themselves and the people they share a project with;
      // anyone else does not exist for them.
      async getUser(req, context) {
        const caller = callerOf(context);
        const uid = userUidOf(req.name);
        if (uid !== caller.userUid) {
          const shared = await ctx.db
            .selectFrom("members as mine")
            .innerJoin("members as theirs", "theirs.project_uid", "mine.project_uid")
            .select("theirs.user_uid")
            .where("mine.user_uid", "=", caller.userUid)
            .where("theirs.user_uid", "=", uid)
            .limit(1)
            .executeTakeFirst();
          if (!shared) throw notFound(req.name);
        }
        return toUser(await findUser(ctx.db, uid));
      },
    });
}
