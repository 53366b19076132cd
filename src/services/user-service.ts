import type { ConnectRouter } from "@connectrpc/connect";
import { UserService } from "../../gen/proto/tracker/v1/user_pb.js";
import type { AppContext } from "../context.js";

export function userService(_ctx: AppContext) {
  return (router: ConnectRouter) => router.service(UserService, {});
}
