import { create } from "@bufbuild/protobuf";
import type { Selectable } from "kysely";
import type { Labels } from "../../../gen/db.js";
import { type Label, LabelSchema } from "../../../gen/proto/tracker/v1/label_pb.js";
import { required } from "../errors.js";
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

/** The fields UpdateLabel may change, by their names in the contract. */
export const WRITABLE_LABEL_FIELDS = ["display_name", "description", "color"] as const;

/** The columns an update writes: the masked `fields` of `label`, whose display name may not be emptied. */
export function labelChanges(
  label: Pick<Label, "displayName" | "description" | "color">,
  fields: Set<(typeof WRITABLE_LABEL_FIELDS)[number]>,
): Partial<Pick<LabelRow, "display_name" | "description" | "color">> {
  return {
    ...(fields.has("display_name") && { display_name: required(label.displayName, "label.display_name") }),
    ...(fields.has("description") && { description: label.description }),
    ...(fields.has("color") && { color: label.color }),
  };
}
