import type { ServiceImpl } from "@connectrpc/connect";
import { LabelSchema, type LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { toLabel } from "../../domain/labels/label-mapping.js";
import { deleteLabelRow, takeOffIssues } from "../../domain/labels/label-store.js";
import { mutate } from "../unit-of-work.js";
import { labelScope } from "./label-scope.js";

export const deleteLabel =
  (ctx: AppContext): ServiceImpl<typeof LabelService>["deleteLabel"] =>
  async (req, context) => {
    await mutate(
      ctx,
      context,
      req,
      labelScope(req.name, req.etag),
      async ({ tx, project, target: row, ...work }) => {
        // Before the delete, while the issue_labels rows it cascades to still exist.
        await takeOffIssues(tx, project, row, work.event);
        await deleteLabelRow(tx, row.uid);
        await work.audit({ resource: req.name, schema: LabelSchema, before: toLabel(project.key, row) });
      },
    );
    return {};
  };
