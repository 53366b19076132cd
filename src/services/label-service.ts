import type { ConnectRouter } from "@connectrpc/connect";
import { LabelService } from "../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../context.js";

export function labelService(_ctx: AppContext) {
  return (router: ConnectRouter) => router.service(LabelService, {});
}
