import type { ServiceImpl } from "@connectrpc/connect";
import { ProjectSchema, type ProjectService } from "../../../gen/proto/tracker/v1/project_pb.js";
import type { AppContext } from "../../context.js";
import { required } from "../../domain/errors.js";
import { toProject } from "../../domain/projects/project-mapping.js";
import { projectDeleted } from "../../domain/projects/project-store.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { mutate } from "../unit-of-work.js";
import { projectScope } from "./project-scope.js";

const WRITABLE = ["display_name", "description"] as const;

export const updateProject =
  (ctx: AppContext): ServiceImpl<typeof ProjectService>["updateProject"] =>
  (req, context) => {
    const name = req.project?.name ?? "";
    const fields = maskedFields(req.updateMask, WRITABLE);
    return mutate(
      ctx,
      context,
      req,
      projectScope(name, req.project?.etag ?? ""),
      async ({ tx, project: row, ...work }) => {
        if (row.delete_time !== null) throw projectDeleted(name, true);
        const displayName = fields.has("display_name")
          ? required(req.project?.displayName, "project.display_name")
          : row.display_name;
        const description = fields.has("description") ? (req.project?.description ?? "") : row.description;
        // Nothing changes: no new version.
        if (displayName === row.display_name && description === row.description) return toProject(row);
        const updated = await tx
          .updateTable("projects")
          .set({ display_name: displayName, description, ...work.bump() })
          .where("uid", "=", row.uid)
          .returningAll()
          .executeTakeFirstOrThrow();
        const after = toProject(updated);
        await work.audit({ resource: after.name, schema: ProjectSchema, before: toProject(row), after });
        return after;
      },
    );
  };
