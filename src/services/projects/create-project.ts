import type { ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { DB } from "../../../gen/db.js";
import { ProjectSchema, type ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { required } from "../../domain/errors.js";
import { toProject } from "../../domain/projects/project-mapping.js";
import { insertProject, isMemberOf } from "../../domain/projects/project-store.js";
import type { Caller } from "../../domain/shared/caller.js";
import { toConnectError } from "../../shared/errors.js";
import { mutateOutsideProjects } from "../unit-of-work.js";

export const createProject =
  (ctx: AppContext): ServiceImpl<typeof ProjectService>["createProject"] =>
  (req, context) =>
    mutateOutsideProjects(
      ctx,
      context,
      req,
      replayOnlyToMembers(req.projectId),
      async ({ tx, caller, ...work }) => {
        const row = await insertProject(tx, caller.userUid, {
          key: req.projectId,
          display_name: required(req.project?.displayName, "project.display_name"),
          description: req.project?.description ?? "",
        });
        const project = toProject(row);
        await work.audit({ resource: project.name, schema: ProjectSchema, after: project });
        return project;
      },
    );

/**
 * A replayed CreateProject returns the project only to a caller who is still
 * its member; anyone else gets what a fresh call gets: the key is taken.
 */
const replayOnlyToMembers = (projectId: string) => async (tx: Kysely<DB>, caller: Caller) => {
  if (!(await isMemberOf(tx, caller.userUid, projectId)))
    throw toConnectError({ code: "23505", constraint: "projects_key_key" });
};
