import type { ServiceImpl } from "@connectrpc/connect";
import type { LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { toLabel } from "../../domain/labels/label-mapping.js";
import { pageOfLabels } from "../../domain/labels/label-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const listLabels =
  (ctx: AppContext): ServiceImpl<typeof LabelService>["listLabels"] =>
  async (req, context) => {
    // Deleted projects keep their labels readable, as GetProject returns them.
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
    const { page, nextPageToken } = await pageOfLabels(ctx.db, project.uid, req);
    return { labels: page.map((row) => toLabel(project.key, row)), nextPageToken };
  };
