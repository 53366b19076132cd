import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import type { Selectable } from "kysely";
import type { AuditEvents } from "../../gen/db.js";
import {
  type AuditEvent,
  AuditEventFilterSchema,
  AuditEventSchema,
  AuditService,
} from "../../gen/proto/tracker/v1/audit_pb.js";
import type { AppContext } from "../context.js";
import { callerOf } from "../shared/caller.js";
import { apiError } from "../shared/errors.js";
import { userName, userUidOf } from "../shared/names.js";
import {
  afterPair,
  decodePageToken,
  isPairCursor,
  type PairCursor,
  pageSize,
  paginate,
} from "../shared/pagination.js";
import { timestampFromPg, timestampToText } from "../shared/timestamps.js";

type AuditRow = Selectable<AuditEvents>;

interface StoredChange {
  field: string;
  old: JsonValue;
  new: JsonValue;
}

function toAuditEvent(row: AuditRow): AuditEvent {
  return create(AuditEventSchema, {
    name: `auditEvents/${row.id}`,
    actor: userName(row.actor_uid),
    method: row.method,
    resource: row.resource,
    requestId: row.request_id,
    clientAddress: row.client_address,
    createTime: timestampFromPg(row.create_time),
    changes: (row.changes as unknown as StoredChange[]).map((change) => ({
      field: change.field,
      oldValue: fromJson(ValueSchema, change.old),
      newValue: fromJson(ValueSchema, change.new),
    })),
  });
}

/** LIKE pattern for "this resource or anything below it". */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);

export function auditService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(AuditService, {
      async listAuditEvents(req, context) {
        const caller = callerOf(context);
        if (!ctx.instanceAdmins.has(caller.subject)) {
          throw apiError(
            Code.PermissionDenied,
            "NOT_INSTANCE_ADMIN",
            "only instance admins may read the audit log",
          );
        }
        const size = pageSize(req.pageSize);
        const filter = req.filter;
        const query = {
          method: "ListAuditEvents",
          filter: filter ? toJson(AuditEventFilterSchema, filter) : null,
        };
        const after = decodePageToken(req.pageToken, query, isPairCursor);
        let select = ctx.db
          .selectFrom("audit_events")
          .selectAll()
          .orderBy("create_time", "desc")
          .orderBy("id", "desc")
          .limit(size + 1);
        if (filter?.actor) select = select.where("actor_uid", "=", userUidOf(filter.actor));
        if (filter?.method) select = select.where("method", "=", filter.method);
        if (filter?.resource) {
          const resource = filter.resource;
          select = select.where((eb) =>
            eb.or([eb("resource", "=", resource), eb("resource", "like", `${escapeLike(resource)}/%`)]),
          );
        }
        if (filter?.createTime?.startTime)
          select = select.where("create_time", ">=", timestampToText(filter.createTime.startTime));
        if (filter?.createTime?.endTime)
          select = select.where("create_time", "<", timestampToText(filter.createTime.endTime));
        if (after) {
          select = select.where(afterPair("create_time", "id", after, "desc"));
        }
        const { page, nextPageToken } = paginate(
          await select.execute(),
          size,
          query,
          (row): PairCursor => [row.create_time, row.id],
        );
        return { auditEvents: page.map(toAuditEvent), nextPageToken };
      },
    });
}
