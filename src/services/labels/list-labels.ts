import type { ServiceImpl } from "@connectrpc/connect";
import type { LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { toLabel } from "../../domain/labels/label-mapping.js";
import { pageOfLabels } from "../../domain/labels/label-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { read } from "../unit-of-work.js";

export const listLabels =
  (ctx: AppContext): ServiceImpl<typeof LabelService>["listLabels"] =>
  (req, context) =>
    read(ctx, context, { resource: req.parent }, async ({ db, caller }) => {
      // Deleted projects keep their labels readable, as GetProject returns them.
      const project = await projectFor(db, caller, req.parent, "reader");
      const { page, nextPageToken } = await pageOfLabels(db, project.uid, req);
      return { labels: page.map((row) => toLabel(project.key, row)), nextPageToken };
    });
