import type { ServiceImpl } from "@connectrpc/connect";
import { ProjectSchema, type ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { toProject } from "../../domain/projects/project-mapping.js";
import { projectDeleted, setProjectDeleted } from "../../domain/projects/project-store.js";
import { announceAccessChange } from "../../domain/shared/access.js";
import { mutate } from "../unit-of-work.js";
import { projectScope } from "./project-scope.js";

export const deleteProject =
  (ctx: AppContext): ServiceImpl<typeof ProjectService>["deleteProject"] =>
  (req, context) =>
    mutate(ctx, context, req, projectScope(req.name, req.etag), async ({ tx, project: row, ...work }) => {
      if (row.delete_time !== null) throw projectDeleted(req.name, true);
      const deleted = await setProjectDeleted(tx, row.uid, true, work.bump());
      // Every member's open streams re-check, and end only if a new call would fail.
      await announceAccessChange(tx, row.uid);
      const after = toProject(deleted);
      await work.audit({ resource: after.name, schema: ProjectSchema, before: toProject(row), after });
      return after;
    });
