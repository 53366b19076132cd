import type { ConnectRouter } from "@connectrpc/connect";
import { UserService } from "../../../gen/proto/tracker/v1/user_pb.js";
import type { AppContext } from "../../context.js";
import { getCurrentUser } from "./get-current-user.js";
import { getUser } from "./get-user.js";
import { searchUsers } from "./search-users.js";
import { updateUser } from "./update-user.js";

export function userService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(UserService, {
      getCurrentUser: getCurrentUser(ctx),
      getUser: getUser(ctx),
      searchUsers: searchUsers(ctx),
      updateUser: updateUser(ctx),
    });
}
