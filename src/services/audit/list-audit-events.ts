import type { ServiceImpl } from "@connectrpc/connect";
import type { AuditService } from "../../../gen/proto/tracker/v1/audit_pb.js";
import type { AppContext } from "../../context.js";
import { toAuditEvent } from "../../domain/audit/audit-mapping.js";
import { pageOfAuditEvents } from "../../domain/audit/audit-store.js";
import { DomainError } from "../../domain/errors.js";
import { resolveUserName } from "../../domain/shared/names.js";
import { callerOf } from "../../shared/caller.js";
import { read } from "../unit-of-work.js";

export const listAuditEvents =
  (ctx: AppContext): ServiceImpl<typeof AuditService>["listAuditEvents"] =>
  async (req, context) => {
    const caller = callerOf(context);
    if (!ctx.instanceAdmins.has(caller.subject)) {
      throw new DomainError(
        "permission_denied",
        "NOT_INSTANCE_ADMIN",
        "only instance admins may read the audit log",
      );
    }
    const filter = req.filter && { ...req.filter, actor: resolveUserName(req.filter.actor, caller) };
    // Who may read it is settled above, by the settings, not the database.
    return read(ctx, context, {}, async ({ db }) => {
      const { page, nextPageToken } = await pageOfAuditEvents(db, { ...req, filter });
      return { auditEvents: page.map(toAuditEvent), nextPageToken };
    });
  };
