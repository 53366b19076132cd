import { type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";
import type { Transaction } from "kysely";
import type { DB, Json } from "../../../gen/db.js";
import { diffFields } from "./issue-events.js";

/** Who made a change, by which call: what every audit event records besides the change. */
export interface AuditOrigin {
  actorUid: string;
  /** `/tracker.v1.IssueService/CreateIssue` */
  method: string;
  requestId: string;
  clientAddress: string;
}

/** Fields the server sets on every change; the audit log records what the caller changed. */
const NOISE = new Set(["etag", "createTime", "updateTime"]);

function fieldsOf<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc> | undefined,
): Record<string, Json> {
  if (!message) return {};
  const json = toJson(schema, message, { alwaysEmitImplicit: true }) as Record<string, Json>;
  return Object.fromEntries(Object.entries(json).filter(([field]) => !NOISE.has(field)));
}

/**
 * Writes the audit event of a change, in the change's own transaction, so
 * there is exactly one event per committed change and none for a change
 * that rolled back. `before` is unset for creates, `after` for deletes.
 */
export async function recordAudit<Desc extends DescMessage>(
  tx: Transaction<DB>,
  origin: AuditOrigin,
  change: { resource: string; schema: Desc; before?: MessageShape<Desc>; after?: MessageShape<Desc> },
): Promise<void> {
  const before = fieldsOf(change.schema, change.before);
  const after = fieldsOf(change.schema, change.after);
  // A deleted resource's fields go to null.
  for (const field of Object.keys(before)) if (!(field in after)) after[field] = null;
  await tx
    .insertInto("audit_events")
    .values({
      actor_uid: origin.actorUid,
      method: origin.method,
      resource: change.resource,
      request_id: origin.requestId,
      client_address: origin.clientAddress,
      changes: JSON.stringify(diffFields(before, after)),
    })
    .execute();
}
