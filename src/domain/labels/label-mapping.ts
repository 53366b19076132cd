import { create } from "@bufbuild/protobuf";
import type { Selectable } from "kysely";
import type { Labels } from "../../../gen/db.js";
import { type Label, LabelSchema } from "../../../gen/proto/tracker/v1/label_pb.js";
import { etagOf } from "../shared/etag.js";
import { labelName } from "../shared/names.js";
import { timestampFromPg } from "../shared/timestamps.js";

export type LabelRow = Selectable<Labels>;

export function toLabel(projectKey: string, row: LabelRow): Label {
  return create(LabelSchema, {
    name: labelName(projectKey, row.key),
    uid: row.uid,
    displayName: row.display_name,
    description: row.description,
    color: row.color,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    etag: etagOf(row.revision),
  });
}
