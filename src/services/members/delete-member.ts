import type { ServiceImpl } from "@connectrpc/connect";
import { MemberSchema, type MemberService } from "../../../gen/proto/tracker/v1/member_pb.js";
import type { AppContext } from "../../context.js";
import { type MemberRow, toMember } from "../../domain/members/member-mapping.js";
import { lockMember, removeMember } from "../../domain/members/member-store.js";
import { lastSegmentOf } from "../../domain/shared/names.js";
import { callerOf } from "../../shared/caller.js";
import { mutate, type Scope } from "../unit-of-work.js";

export const deleteMember =
  (ctx: AppContext): ServiceImpl<typeof MemberService>["deleteMember"] =>
  async (req, context) => {
    // Admins remove anyone; every member may leave. Also from a deleted
    // project: removal only takes access away, and a member who wants out
    // should not have to undelete the project first.
    const leaving = lastSegmentOf(req.name) === callerOf(context).userUid;
    const scope = {
      resource: req.name,
      role: leaving ? "reader" : "admin",
      allowDeletedProject: true,
      target: ({ tx, project }) => lockMember(tx, project, req.name),
      etag: req.etag,
    } satisfies Scope<MemberRow>;
    await mutate(ctx, context, req, scope, async ({ tx, project, target: row, ...work }) => {
      await removeMember(tx, project, row, req.name);
      await work.audit({ resource: req.name, schema: MemberSchema, before: toMember(project.key, row) });
    });
    return {};
  };
