import type { ServiceImpl } from "@connectrpc/connect";
import { ProjectSchema, type ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { required } from "../../domain/errors.js";
import { toProject } from "../../domain/projects/project-mapping.js";
import { insertProject } from "../../domain/projects/project-store.js";
import { mutateOutsideProjects } from "../unit-of-work.js";

export const createProject =
  (ctx: AppContext): ServiceImpl<typeof ProjectService>["createProject"] =>
  (req, context) =>
    mutateOutsideProjects(ctx, context, req, async ({ tx, caller, ...work }) => {
      const row = await insertProject(tx, caller.userUid, {
        key: req.projectId,
        display_name: required(req.project?.displayName, "project.display_name"),
        description: req.project?.description ?? "",
      });
      const project = toProject(row);
      await work.audit({ resource: project.name, schema: ProjectSchema, after: project });
      return project;
    });
