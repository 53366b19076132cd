import { toJson } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import type { DB } from "../../../gen/db.js";
import { type AuditEventFilter, AuditEventFilterSchema } from "../../../gen/proto/tracker/v1/audit_pb.js";
import { userUidOf } from "../shared/names.js";
import { afterPair, type PairCursor, pageOf, pairKeyset } from "../shared/pagination.js";
import { timestampToText } from "../shared/timestamps.js";
import type { AuditRow } from "./audit-mapping.js";

/** LIKE pattern for "this resource or anything below it". */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);

/** A page of the audit log, newest first, filtered. */
export function pageOfAuditEvents(
  db: Kysely<DB>,
  request: { filter?: AuditEventFilter; pageSize: number; pageToken: string },
) {
  const filter = request.filter;
  const query = { method: "ListAuditEvents", filter: filter ? toJson(AuditEventFilterSchema, filter) : null };
  const keyset = pairKeyset((row: AuditRow): PairCursor => [row.create_time, row.id]);
  return pageOf(request, query, keyset, (limit, after) => {
    let select = db
      .selectFrom("audit_events")
      .selectAll()
      .orderBy("create_time", "desc")
      .orderBy("id", "desc")
      .limit(limit);
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
    if (after) select = select.where(afterPair("create_time", "id", after, "desc"));
    return select.execute();
  });
}
