import type { ServiceImpl } from "@connectrpc/connect";
import { ProjectSchema, type ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { projectChanges, toProject, WRITABLE_PROJECT_FIELDS } from "../../domain/projects/project-mapping.js";
import { projectDeleted, writeProject } from "../../domain/projects/project-store.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { mutate } from "../unit-of-work.js";
import { projectScope } from "./project-scope.js";

export const updateProject =
  (ctx: AppContext): ServiceImpl<typeof ProjectService>["updateProject"] =>
  (req, context) => {
    const name = req.project?.name ?? "";
    const fields = maskedFields(req.updateMask, WRITABLE_PROJECT_FIELDS);
    const scope = projectScope(name, req.project?.etag ?? "");
    return mutate(ctx, context, req, scope, async ({ tx, project: row, ...work }) => {
      if (row.delete_time !== null) throw projectDeleted(name, true);
      const changes = projectChanges(row, req.project, fields);
      if (!changes) return toProject(row);
      const after = toProject(await writeProject(tx, row.uid, changes, work.bump()));
      await work.audit({ resource: after.name, schema: ProjectSchema, before: toProject(row), after });
      return after;
    });
  };
