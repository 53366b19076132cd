import type { ServiceImpl } from "@connectrpc/connect";
import { LabelSchema, type LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { required } from "../../domain/errors.js";
import { toLabel } from "../../domain/labels/label-mapping.js";
import { mutate } from "../unit-of-work.js";

export const createLabel =
  (ctx: AppContext): ServiceImpl<typeof LabelService>["createLabel"] =>
  (req, context) => {
    const displayName = required(req.label?.displayName, "label.display_name");
    return mutate(
      ctx,
      context,
      req,
      { resource: req.parent, role: "writer" },
      async ({ tx, project, ...work }) => {
        const row = await tx
          .insertInto("labels")
          .values({
            project_uid: project.uid,
            key: req.labelId,
            display_name: displayName,
            description: req.label?.description ?? "",
            color: req.label?.color ?? "",
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const label = toLabel(project.key, row);
        await work.audit({ resource: label.name, schema: LabelSchema, after: label });
        return label;
      },
    );
  };
