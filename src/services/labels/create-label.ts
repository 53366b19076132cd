import type { ServiceImpl } from "@connectrpc/connect";
import { LabelSchema, type LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { required } from "../../domain/errors.js";
import { toLabel } from "../../domain/labels/label-mapping.js";
import { insertLabel } from "../../domain/labels/label-store.js";
import { mutate } from "../unit-of-work.js";

export const createLabel =
  (ctx: AppContext): ServiceImpl<typeof LabelService>["createLabel"] =>
  (req, context) => {
    const fields = {
      key: req.labelId,
      display_name: required(req.label?.displayName, "label.display_name"),
      description: req.label?.description ?? "",
      color: req.label?.color ?? "",
    };
    const scope = { resource: req.parent, role: "writer" } as const;
    return mutate(ctx, context, req, scope, async ({ tx, project, ...work }) => {
      const label = toLabel(project.key, await insertLabel(tx, project.uid, fields));
      await work.audit({ resource: label.name, schema: LabelSchema, after: label });
      return label;
    });
  };
