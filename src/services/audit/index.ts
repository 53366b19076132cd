import type { ConnectRouter } from "@connectrpc/connect";
import { AuditService } from "../../../gen/proto/tracker/v1/audit_pb.js";
import type { AppContext } from "../../context.js";
import { listAuditEvents } from "./list-audit-events.js";

export function auditService(ctx: AppContext) {
  return (router: ConnectRouter) => router.service(AuditService, { listAuditEvents: listAuditEvents(ctx) });
}
