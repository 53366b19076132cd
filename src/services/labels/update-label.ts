import type { ServiceImpl } from "@connectrpc/connect";
import { LabelSchema, type LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { invalidArgument, required } from "../../domain/errors.js";
import { toLabel } from "../../domain/labels/label-mapping.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { mutate } from "../unit-of-work.js";
import { labelScope } from "./label-scope.js";

const WRITABLE = ["display_name", "description", "color"] as const;

export const updateLabel =
  (ctx: AppContext): ServiceImpl<typeof LabelService>["updateLabel"] =>
  (req, context) => {
    const label = req.label;
    if (!label) throw invalidArgument("label", "is required");
    const fields = maskedFields(req.updateMask, WRITABLE);
    if (fields.has("display_name")) required(label.displayName, "label.display_name");
    return mutate(
      ctx,
      context,
      req,
      labelScope(label.name, label.etag),
      async ({ tx, project, target: row, ...work }) => {
        const before = toLabel(project.key, row);
        // An empty mask changes nothing (AIP-134), so nothing gets a new etag.
        if (fields.size === 0) return before;
        const updated = await tx
          .updateTable("labels")
          .set({
            ...(fields.has("display_name") && { display_name: label.displayName }),
            ...(fields.has("description") && { description: label.description }),
            ...(fields.has("color") && { color: label.color }),
            ...work.bump(),
          })
          .where("uid", "=", row.uid)
          .returningAll()
          .executeTakeFirstOrThrow();
        const after = toLabel(project.key, updated);
        await work.audit({ resource: after.name, schema: LabelSchema, before, after });
        return after;
      },
    );
  };
