import { create } from "@bufbuild/protobuf";
import { Code, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import type { Kysely, Transaction } from "kysely";
import type { DB } from "../../gen/db.js";
import {
  CreateProjectRequestSchema,
  type Project,
  ProjectSchema,
  ProjectService,
} from "../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../context.js";
import { announceAccessChange, lockProjectFor, projectFor } from "../shared/access.js";
import { recordAudit } from "../shared/audit.js";
import { type Caller, callerOf } from "../shared/caller.js";
import { apiError, required, toConnectError } from "../shared/errors.js";
import { assertFresh, etagOf } from "../shared/etag.js";
import { once } from "../shared/idempotency.js";
import { projectName } from "../shared/names.js";
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

function toProject(row: ProjectRow): Project {
  return create(ProjectSchema, {
    name: projectName(row.key),
    uid: row.uid,
    displayName: row.display_name,
    description: row.description,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    deleteTime: row.delete_time === null ? undefined : timestampFromPg(row.delete_time),
    etag: etagOf(row.revision),
  });
}

const WRITABLE = ["display_name", "description"] as const;

/** The project locked for a change of the project itself (admins only), with its etag checked. */
async function lockProject(
  tx: Transaction<DB>,
  caller: Caller,
  name: string,
  etag: string,
): Promise<ProjectRow> {
  const row = await lockProjectFor(tx, caller, name, "admin", { allowDeleted: true });
  assertFresh(etag, row.revision, name);
  return row;
}

/** The audit event of a change from `before` to `after`; returns the project as it is now. */
async function audited(tx: Transaction<DB>, context: HandlerContext, before: ProjectRow, after: ProjectRow) {
  const project = toProject(after);
  await recordAudit(tx, context, {
    resource: project.name,
    schema: ProjectSchema,
    before: toProject(before),
    after: project,
  });
  return project;
}

const deletedState = (name: string, deleted: boolean) =>
  apiError(
    Code.FailedPrecondition,
    deleted ? "PROJECT_DELETED" : "PROJECT_NOT_DELETED",
    deleted ? `${name} is deleted; undelete it first` : `${name} is not deleted`,
    { metadata: { resource: name } },
  );

/**
 * A replayed CreateProject returns the project only to a caller who is still
 * its member; anyone else gets what a fresh call gets: the key is taken.
 */
async function stillMember(db: Kysely<DB>, caller: Caller, projectId: string): Promise<void> {
  const member = await db
    .selectFrom("members")
    .innerJoin("projects", "projects.uid", "members.project_uid")
    .select("members.role")
    .where("projects.key", "=", projectId)
    .where("members.user_uid", "=", caller.userUid)
    .executeTakeFirst();
  if (!member) throw toConnectError({ code: "23505", constraint: "projects_key_key" });
}

export function projectService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(ProjectService, {
      async createProject(req, context) {
        const caller = callerOf(context);
        const call = {
          method: "CreateProject",
          requestSchema: CreateProjectRequestSchema,
          request: req,
          responseSchema: ProjectSchema,
        };
        return ctx.db.transaction().execute((tx) =>
          once(
            tx,
            { caller, project: null, mayReplay: () => stillMember(tx, caller, req.projectId) },
            call,
            async () => {
              const row = await tx
                .insertInto("projects")
                .values({
                  key: req.projectId,
                  display_name: required(req.project?.displayName, "project.display_name"),
                  description: req.project?.description ?? "",
                })
                .returningAll()
                .executeTakeFirstOrThrow();
              // The creator administers the project (and can add everyone else).
              await tx
                .insertInto("members")
                .values({ project_uid: row.uid, user_uid: caller.userUid, role: "admin" })
                .execute();
              const project = toProject(row);
              await recordAudit(tx, context, {
                resource: project.name,
                schema: ProjectSchema,
                after: project,
              });
              return project;
            },
          ),
        );
      },

      async getProject(req, context) {
        return toProject(await projectFor(ctx.db, callerOf(context), req.name, "reader"));
      },

      async listProjects(req, context) {
        const caller = callerOf(context);
        const size = pageSize(req.pageSize);
        const query = { method: "ListProjects", showDeleted: req.showDeleted };
        const after = decodePageToken(req.pageToken, query, isPairCursor);
        // Only the projects the caller is a member of exist for them.
        let select = ctx.db
          .selectFrom("projects")
          .innerJoin("members", (join) =>
            join
              .onRef("members.project_uid", "=", "projects.uid")
              .on("members.user_uid", "=", caller.userUid),
          )
          .selectAll("projects")
          .orderBy("projects.create_time")
          .orderBy("projects.key")
          .limit(size + 1);
        if (!req.showDeleted) select = select.where("projects.delete_time", "is", null);
        if (after) {
          select = select.where(afterPair("projects.create_time", "projects.key", after));
        }
        const { page, nextPageToken } = paginate(
          await select.execute(),
          size,
          query,
          (row): PairCursor => [row.create_time, row.key],
        );
        return { projects: page.map(toProject), nextPageToken };
      },

      async updateProject(req, context) {
        const name = req.project?.name ?? "";
        const fields = maskedFields(req.updateMask, WRITABLE);
        return ctx.db.transaction().execute(async (tx) => {
          const row = await lockProject(tx, callerOf(context), name, req.project?.etag ?? "");
          if (row.delete_time !== null) throw deletedState(name, true);
          const displayName = fields.has("display_name")
            ? required(req.project?.displayName, "project.display_name")
            : row.display_name;
          const description = fields.has("description") ? (req.project?.description ?? "") : row.description;
          // Nothing changes: no new version.
          if (displayName === row.display_name && description === row.description) return toProject(row);
          const updated = await tx
            .updateTable("projects")
            .set((eb) => ({
              display_name: displayName,
              description,
              revision: eb("revision", "+", 1),
              update_time: eb.fn("now"),
            }))
            .where("uid", "=", row.uid)
            .returningAll()
            .executeTakeFirstOrThrow();
          return audited(tx, context, row, updated);
        });
      },

      async deleteProject(req, context) {
        return ctx.db.transaction().execute(async (tx) => {
          const row = await lockProject(tx, callerOf(context), req.name, req.etag);
          if (row.delete_time !== null) throw deletedState(req.name, true);
          const deleted = await tx
            .updateTable("projects")
            .set((eb) => ({
              delete_time: eb.fn("now"),
              update_time: eb.fn("now"),
              revision: eb("revision", "+", 1),
            }))
            .where("uid", "=", row.uid)
            .returningAll()
            .executeTakeFirstOrThrow();
          // Every member's open streams re-check, and end only if a new call would fail.
          await announceAccessChange(tx, row.uid);
          return audited(tx, context, row, deleted);
        });
      },

      async undeleteProject(req, context) {
        return ctx.db.transaction().execute(async (tx) => {
          const row = await lockProject(tx, callerOf(context), req.name, req.etag);
          if (row.delete_time === null) throw deletedState(req.name, false);
          const restored = await tx
            .updateTable("projects")
            .set((eb) => ({ delete_time: null, update_time: eb.fn("now"), revision: eb("revision", "+", 1) }))
            .where("uid", "=", row.uid)
            .returningAll()
            .executeTakeFirstOrThrow();
          return audited(tx, context, row, restored);
        });
      },
    });
}
