import type { ServiceImpl } from "@connectrpc/connect";
import type { UserService } from "../../../gen/proto/tracker/v1/user_pb.js";
import type { AppContext } from "../../context.js";
import { toUser } from "../../domain/users/user-mapping.js";
import { findUser } from "../../domain/users/user-store.js";
import { callerOf } from "../../shared/caller.js";

export const getCurrentUser =
  (ctx: AppContext): ServiceImpl<typeof UserService>["getCurrentUser"] =>
  async (_req, context) =>
    // The caller interceptor has already created the user on this request.
    toUser(await findUser(ctx.db, callerOf(context).userUid));
