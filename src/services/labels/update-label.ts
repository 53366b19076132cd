import type { ServiceImpl } from "@connectrpc/connect";
import { LabelSchema, type LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { invalidArgument } from "../../domain/errors.js";
import { labelChanges, toLabel, WRITABLE_LABEL_FIELDS } from "../../domain/labels/label-mapping.js";
import { writeLabel } from "../../domain/labels/label-store.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { mutate } from "../unit-of-work.js";
import { labelScope } from "./label-scope.js";

export const updateLabel =
  (ctx: AppContext): ServiceImpl<typeof LabelService>["updateLabel"] =>
  (req, context) => {
    const label = req.label;
    if (!label) throw invalidArgument("label", "is required");
    const changes = labelChanges(label, maskedFields(req.updateMask, WRITABLE_LABEL_FIELDS));
    const scope = labelScope(label.name, label.etag);
    return mutate(ctx, context, req, scope, async ({ tx, project, target: row, ...work }) => {
      const before = toLabel(project.key, row);
      // An empty mask changes nothing (AIP-134), so nothing gets a new etag.
      if (Object.keys(changes).length === 0) return before;
      const after = toLabel(project.key, await writeLabel(tx, row.uid, changes, work.bump()));
      await work.audit({ resource: after.name, schema: LabelSchema, before, after });
      return after;
    });
  };
