import { create } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import type { Selectable, Transaction } from "kysely";
import type { DB, MemberRole, Members } from "../../gen/db.js";
import {
  CreateMemberRequestSchema,
  type Member,
  Member_Role,
  MemberSchema,
  MemberService,
} from "../../gen/proto/tracker/v1/member_pb.js";
import type { AppContext } from "../context.js";
import { announceAccessChange, lockProjectFor, projectFor } from "../shared/access.js";
import { recordAudit } from "../shared/audit.js";
import { callerOf } from "../shared/caller.js";
import { apiError, invalidArgument, notFound } from "../shared/errors.js";
import { assertFresh, etagOf } from "../shared/etag.js";
import { once } from "../shared/idempotency.js";
import { lastSegmentOf, memberName, userName, userUidOf } from "../shared/names.js";
import {
  afterPair,
  decodePageToken,
  isPairCursor,
  type PairCursor,
  pageSize,
  paginate,
} from "../shared/pagination.js";
import type { ProjectRow } from "../shared/projects.js";
import { timestampFromPg } from "../shared/timestamps.js";
import { maskedFields } from "../shared/update-mask.js";

type MemberRow = Selectable<Members>;

/** The fields UpdateMember may change, by their names in the contract. */
const WRITABLE_FIELDS = ["role"] as const;

const ROLES_FROM_DB: Record<MemberRole, Member_Role> = {
  reader: Member_Role.READER,
  writer: Member_Role.WRITER,
  admin: Member_Role.ADMIN,
};

/** The contract only lets defined roles other than ROLE_UNSPECIFIED through. */
function roleToDb(role: Member_Role, field: string): MemberRole {
  switch (role) {
    case Member_Role.READER:
      return "reader";
    case Member_Role.WRITER:
      return "writer";
    case Member_Role.ADMIN:
      return "admin";
    default:
      throw invalidArgument(field, "must be ROLE_READER, ROLE_WRITER or ROLE_ADMIN");
  }
}

function toMember(projectKey: string, row: MemberRow): Member {
  return create(MemberSchema, {
    name: memberName(projectKey, row.user_uid),
    user: userName(row.user_uid),
    role: ROLES_FROM_DB[row.role],
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    etag: etagOf(row.revision),
  });
}

/** The member `name` of a project the transaction holds locked (lockProjectFor), locked for a change. */
async function lockMember(tx: Transaction<DB>, project: ProjectRow, name: string): Promise<MemberRow> {
  const row = await tx
    .selectFrom("members")
    .selectAll()
    .where("project_uid", "=", project.uid)
    .where("user_uid", "=", lastSegmentOf(name))
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/**
 * Refuses a change that takes the admin role from `member` when no other
 * member of the project has it. The project row lock the caller holds makes
 * the check and the change atomic: two admins cannot demote each other at once.
 */
async function assertNotLastAdmin(
  tx: Transaction<DB>,
  project: ProjectRow,
  member: MemberRow,
  name: string,
): Promise<void> {
  if (member.role !== "admin") return;
  const otherAdmin = await tx
    .selectFrom("members")
    .select("user_uid")
    .where("project_uid", "=", project.uid)
    .where("role", "=", "admin")
    .where("user_uid", "!=", member.user_uid)
    .limit(1)
    .executeTakeFirst();
  if (!otherAdmin) {
    throw apiError(
      Code.FailedPrecondition,
      "LAST_ADMIN",
      `${name} is the last admin of projects/${project.key}; make another member an admin first`,
      { metadata: { resource: name } },
    );
  }
}

export function memberService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(MemberService, {
      async listMembers(req, context) {
        // Deleted projects keep their members readable, as GetProject returns them.
        const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
        const size = pageSize(req.pageSize);
        const query = { method: "ListMembers", parent: req.parent };
        const after = decodePageToken(req.pageToken, query, isPairCursor);
        let select = ctx.db
          .selectFrom("members")
          .selectAll()
          .where("project_uid", "=", project.uid)
          .orderBy("create_time")
          .orderBy("user_uid")
          .limit(size + 1);
        if (after) {
          select = select.where(afterPair("create_time", "user_uid", after));
        }
        const { page, nextPageToken } = paginate(
          await select.execute(),
          size,
          query,
          (row): PairCursor => [row.create_time, row.user_uid],
        );
        return { members: page.map((row) => toMember(project.key, row)), nextPageToken };
      },

      async createMember(req, context) {
        const caller = callerOf(context);
        const member = req.member;
        if (!member) throw invalidArgument("member", "is required");
        const role = roleToDb(member.role, "member.role");
        return ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, req.parent, "admin");
          return once(
            tx,
            { caller, project },
            {
              method: "CreateMember",
              requestSchema: CreateMemberRequestSchema,
              request: req,
              responseSchema: MemberSchema,
            },
            async () => {
              const user = await tx
                .selectFrom("users")
                .select("uid")
                .where("uid", "=", userUidOf(member.user))
                .executeTakeFirst();
              if (!user) throw notFound(member.user);
              const row = await tx
                .insertInto("members")
                .values({ project_uid: project.uid, user_uid: user.uid, role })
                .returningAll()
                .executeTakeFirstOrThrow();
              const created = toMember(project.key, row);
              await recordAudit(tx, context, {
                resource: created.name,
                schema: MemberSchema,
                after: created,
              });
              return created;
            },
          );
        });
      },

      async updateMember(req, context) {
        const caller = callerOf(context);
        const member = req.member;
        if (!member) throw invalidArgument("member", "is required");
        const changesRole = maskedFields(req.updateMask, WRITABLE_FIELDS).has("role");
        const role = roleToDb(member.role, "member.role");
        return ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, member.name, "admin");
          const row = await lockMember(tx, project, member.name);
          assertFresh(member.etag, row.revision, member.name);
          // An empty mask changes nothing (AIP-134), so nothing gets a new etag.
          if (!changesRole) return toMember(project.key, row);
          if (role !== "admin") await assertNotLastAdmin(tx, project, row, member.name);
          const updated = await tx
            .updateTable("members")
            .set((eb) => ({ role, revision: eb("revision", "+", 1), update_time: eb.fn("now") }))
            .where("project_uid", "=", row.project_uid)
            .where("user_uid", "=", row.user_uid)
            .returningAll()
            .executeTakeFirstOrThrow();
          if (updated.role !== row.role) await announceAccessChange(tx, project.uid, row.user_uid);
          const changed = toMember(project.key, updated);
          await recordAudit(tx, context, {
            resource: changed.name,
            schema: MemberSchema,
            before: toMember(project.key, row),
            after: changed,
          });
          return changed;
        });
      },

      async deleteMember(req, context) {
        const caller = callerOf(context);
        // Admins remove anyone; every member may leave.
        const leaving = lastSegmentOf(req.name) === caller.userUid;
        await ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, req.name, leaving ? "reader" : "admin");
          const row = await lockMember(tx, project, req.name);
          assertFresh(req.etag, row.revision, req.name);
          await assertNotLastAdmin(tx, project, row, req.name);
          await tx
            .deleteFrom("members")
            .where("project_uid", "=", row.project_uid)
            .where("user_uid", "=", row.user_uid)
            .execute();
          await announceAccessChange(tx, project.uid, row.user_uid);
          await recordAudit(tx, context, {
            resource: req.name,
            schema: MemberSchema,
            before: toMember(project.key, row),
          });
        });
        return {};
      },
    });
}
