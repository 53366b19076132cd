import type { ServiceImpl } from "@connectrpc/connect";
import type { MemberService } from "../../../gen/proto/tracker/v1/member_pb.js";
import type { AppContext } from "../../context.js";
import { toMember } from "../../domain/members/member-mapping.js";
import { pageOfMembers } from "../../domain/members/member-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { read } from "../unit-of-work.js";

export const listMembers =
  (ctx: AppContext): ServiceImpl<typeof MemberService>["listMembers"] =>
  (req, context) =>
    read(ctx, context, { resource: req.parent }, async ({ db, caller }) => {
      // Deleted projects keep their members readable, as GetProject returns them.
      const project = await projectFor(db, caller, req.parent, "reader");
      const { page, nextPageToken } = await pageOfMembers(db, project.uid, req);
      return { members: page.map((row) => toMember(project.key, row)), nextPageToken };
    });
