import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Selectable } from "kysely";
import type { AuditEvents } from "../../../gen/db.js";
import { type AuditEvent, AuditEventSchema } from "../../../gen/proto/tracker/v1/audit_pb.js";
import { userName } from "../shared/names.js";
import { timestampFromPg } from "../shared/timestamps.js";

export type AuditRow = Selectable<AuditEvents>;

interface StoredChange {
  field: string;
  old: JsonValue;
  new: JsonValue;
}

export function toAuditEvent(row: AuditRow): AuditEvent {
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
