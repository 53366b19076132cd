import type { ServiceImpl } from "@connectrpc/connect";
import type { UserService } from "../../../gen/proto/tracker/v1/user_pb.js";
import type { AppContext } from "../../context.js";
import { notFound } from "../../domain/errors.js";
import { resolveUserName, userUidOf } from "../../domain/shared/names.js";
import { toUser } from "../../domain/users/user-mapping.js";
import { findUser, shareAProject } from "../../domain/users/user-store.js";
import { callerOf } from "../../shared/caller.js";

export const getUser =
  (ctx: AppContext): ServiceImpl<typeof UserService>["getUser"] =>
  async (req, context) => {
    // Users see themselves and the people they share a project with;
    // anyone else does not exist for them.
    const caller = callerOf(context);
    const uid = userUidOf(resolveUserName(req.name, caller));
    if (uid !== caller.userUid && !(await shareAProject(ctx.db, caller.userUid, uid)))
      throw notFound(req.name);
    return toUser(await findUser(ctx.db, uid));
  };
