import type { ServiceImpl } from "@connectrpc/connect";
import type { UserService } from "../../../gen/proto/tracker/v1/user_pb.js";
import type { AppContext } from "../../context.js";
import { toUser } from "../../domain/users/user-mapping.js";
import { searchVisibleUsers } from "../../domain/users/user-store.js";
import { callerOf } from "../../shared/caller.js";

export const searchUsers =
  (ctx: AppContext): ServiceImpl<typeof UserService>["searchUsers"] =>
  async (req, context) => {
    const { page, nextPageToken } = await searchVisibleUsers(ctx.db, callerOf(context).userUid, req);
    return { users: page.map(toUser), nextPageToken };
  };
