import type { ServiceImpl } from "@connectrpc/connect";
import { ProjectSchema, type ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { toProject } from "../../domain/projects/project-mapping.js";
import { projectDeleted, setProjectDeleted } from "../../domain/projects/project-store.js";
import { mutate } from "../unit-of-work.js";
import { projectScope } from "./project-scope.js";

export const undeleteProject =
  (ctx: AppContext): ServiceImpl<typeof ProjectService>["undeleteProject"] =>
  (req, context) =>
    mutate(ctx, context, req, projectScope(req.name, req.etag), async ({ tx, project: row, ...work }) => {
      if (row.delete_time === null) throw projectDeleted(req.name, false);
      const restored = await setProjectDeleted(tx, row.uid, false, work.bump());
      const after = toProject(restored);
      await work.audit({ resource: after.name, schema: ProjectSchema, before: toProject(row), after });
      return after;
    });
