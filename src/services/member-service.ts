import type { ConnectRouter } from "@connectrpc/connect";
import { MemberService } from "../../gen/proto/tracker/v1/member_pb.js";
import type { AppContext } from "../context.js";

export function memberService(_ctx: AppContext) {
  return (router: ConnectRouter) => router.service(MemberService, {});
}
