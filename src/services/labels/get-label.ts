import type { ServiceImpl } from "@connectrpc/connect";
import type { LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { toLabel } from "../../domain/labels/label-mapping.js";
import { findLabel } from "../../domain/labels/label-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const getLabel =
  (ctx: AppContext): ServiceImpl<typeof LabelService>["getLabel"] =>
  async (req, context) => {
    const project = await projectFor(ctx.db, callerOf(context), req.name, "reader");
    return toLabel(project.key, await findLabel(ctx.db, project, req.name));
  };
