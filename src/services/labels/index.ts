import type { ConnectRouter } from "@connectrpc/connect";
import { LabelService } from "../../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../../context.js";
import { createLabel } from "./create-label.js";
import { deleteLabel } from "./delete-label.js";
import { getLabel } from "./get-label.js";
import { listLabels } from "./list-labels.js";
import { updateLabel } from "./update-label.js";

export function labelService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(LabelService, {
      getLabel: getLabel(ctx),
      listLabels: listLabels(ctx),
      createLabel: createLabel(ctx),
      updateLabel: updateLabel(ctx),
      deleteLabel: deleteLabel(ctx),
    });
}
