import type { ServiceImpl } from "@connectrpc/connect";
import { MemberSchema, type MemberService } from "../../../gen/proto/tracker/v1/member_pb.js";
import type { AppContext } from "../../context.js";
import { invalidArgument } from "../../domain/errors.js";
import { type MemberRow, roleToDb, toMember } from "../../domain/members/member-mapping.js";
import { changeRole, lockMember } from "../../domain/members/member-store.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { mutate, type Scope } from "../unit-of-work.js";

export const updateMember =
  (ctx: AppContext): ServiceImpl<typeof MemberService>["updateMember"] =>
  (req, context) => {
    const member = req.member;
    if (!member) throw invalidArgument("member", "is required");
    const changesRole = maskedFields(req.updateMask, ["role"] as const).has("role");
    const role = roleToDb(member.role, "member.role");
    const scope = {
      resource: member.name,
      role: "admin",
      target: ({ tx, project }) => lockMember(tx, project, member.name),
      etag: member.etag,
    } satisfies Scope<MemberRow>;
    return mutate(ctx, context, req, scope, async ({ tx, project, target: row, ...work }) => {
      const before = toMember(project.key, row);
      // An empty mask changes nothing (AIP-134), so nothing gets a new etag.
      if (!changesRole) return before;
      const updated = await changeRole(tx, project, row, member.name, role, work.bump());
      const after = toMember(project.key, updated);
      await work.audit({ resource: after.name, schema: MemberSchema, before, after });
      return after;
    });
  };
