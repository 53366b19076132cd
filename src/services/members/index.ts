import type { ConnectRouter } from "@connectrpc/connect";
import { MemberService } from "../../../gen/proto/tracker/v1/member_pb.js";
import type { AppContext } from "../../context.js";
import { createMember } from "./create-member.js";
import { deleteMember } from "./delete-member.js";
import { listMembers } from "./list-members.js";
import { updateMember } from "./update-member.js";

export function memberService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(MemberService, {
      listMembers: listMembers(ctx),
      createMember: createMember(ctx),
      updateMember: updateMember(ctx),
      deleteMember: deleteMember(ctx),
    });
}
