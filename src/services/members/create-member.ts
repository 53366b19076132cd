import type { ServiceImpl } from "@connectrpc/connect";
import { MemberSchema, type MemberService } from "../../../gen/proto/tracker/v1/member_pb.js";
import type { AppContext } from "../../context.js";
import { invalidArgument } from "../../domain/errors.js";
import { roleToDb, toMember } from "../../domain/members/member-mapping.js";
import { insertMember } from "../../domain/members/member-store.js";
import { findUserUidBy } from "../../domain/users/user-store.js";
import { mutate } from "../unit-of-work.js";

export const createMember =
  (ctx: AppContext): ServiceImpl<typeof MemberService>["createMember"] =>
  (req, context) => {
    const member = req.member;
    if (!member) throw invalidArgument("member", "is required");
    const role = roleToDb(member.role, "member.role");
    const scope = { resource: req.parent, role: "admin" } as const;
    const byLookup = req.userLookup.case !== undefined;
    if (byLookup === (member.user !== ""))
      throw invalidArgument(
        "member.user",
        byLookup ? "must be empty when user_handle or user_email says who" : "is required",
      );
    const lookup = req.userLookup.case ? req.userLookup : ({ case: "name", value: member.user } as const);
    return mutate(ctx, context, req, scope, async ({ tx, caller, project, ...work }) => {
      // Looked up only once the caller is known to be the project's admin.
      const userUid = await findUserUidBy(tx, lookup, caller);
      const created = toMember(project.key, await insertMember(tx, project.uid, userUid, role));
      await work.audit({ resource: created.name, schema: MemberSchema, after: created });
      return created;
    });
  };
