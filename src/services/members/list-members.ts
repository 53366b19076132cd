import type { ServiceImpl } from "@connectrpc/connect";
import type { MemberService } from "../../../gen/proto/tracker/v1/member_pb.js";
import type { AppContext } from "../../context.js";
import { toMember } from "../../domain/members/member-mapping.js";
import { pageOfMembers } from "../../domain/members/member-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const listMembers =
  (ctx: AppContext): ServiceImpl<typeof MemberService>["listMembers"] =>
  async (req, context) => {
    // Deleted projects keep their members readable, as GetProject returns them.
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
    const { page, nextPageToken } = await pageOfMembers(ctx.db, project.uid, req);
    return { members: page.map((row) => toMember(project.key, row)), nextPageToken };
  };
