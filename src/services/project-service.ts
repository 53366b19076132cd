import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { Selectable } from "kysely";
import type { Projects } from "../../gen/db.js";
import {
  CreateProjectRequestSchema,
  type Project,
  ProjectSchema,
  ProjectService,
} from "../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../context.js";
import { notFound } from "../shared/errors.js";
import { once } from "../shared/idempotency.js";
import { decodePageToken, pageSize, paginate } from "../shared/pagination.js";
import { timestampFromPg } from "../shared/timestamps.js";

type ProjectRow = Selectable<Projects>;

const projectName = (key: string) => `projects/${key}`;
/** The validated name pattern guarantees the part after `projects/`. */
const projectKey = (name: string) => name.slice("projects/".length);

function toProject(row: ProjectRow): Project {
  return create(ProjectSchema, {
    name: projectName(row.key),
    uid: row.uid,
    displayName: row.display_name,
    description: row.description,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    etag: String(row.revision),
  });
}

type ListCursor = [createTime: string, key: string];
const isListCursor = (value: unknown): value is ListCursor =>
  Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === "string");

export function projectService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(ProjectService, {
      async createProject(req) {
        return ctx.db.transaction().execute((tx) =>
          once(
            tx,
            {
              method: "CreateProject",
              requestSchema: CreateProjectRequestSchema,
              request: req,
              responseSchema: ProjectSchema,
            },
            async () => {
              const row = await tx
                .insertInto("projects")
                .values({
                  key: req.projectId,
                  display_name: req.project?.displayName ?? "",
                  description: req.project?.description ?? "",
                })
                .returningAll()
                .executeTakeFirstOrThrow();
              return toProject(row);
            },
          ),
        );
      },

      async getProject(req) {
        const row = await ctx.db
          .selectFrom("projects")
          .selectAll()
          .where("key", "=", projectKey(req.name))
          .executeTakeFirst();
        if (!row) throw notFound(req.name);
        return toProject(row);
      },

      async listProjects(req) {
        const size = pageSize(req.pageSize);
        const query = { method: "ListProjects" };
        const after = decodePageToken(req.pageToken, query, isListCursor);
        let select = ctx.db
          .selectFrom("projects")
          .selectAll()
          .orderBy("create_time")
          .orderBy("key")
          .limit(size + 1);
        if (after) {
          select = select.where((eb) =>
            eb(eb.refTuple("create_time", "key"), ">", eb.tuple(eb.val(after[0]), eb.val(after[1]))),
          );
        }
        const { page, nextPageToken } = paginate(
          await select.execute(),
          size,
          query,
          (row): ListCursor => [row.create_time, row.key],
        );
        return { projects: page.map(toProject), nextPageToken };
      },
    });
}
