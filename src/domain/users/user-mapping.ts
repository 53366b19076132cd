import { create } from "@bufbuild/protobuf";
import type { Selectable } from "kysely";
import type { Users } from "../../../gen/db.js";
import { type User, UserSchema } from "../../../gen/proto/tracker/v1/user_pb.js";
import { etagOf } from "../shared/etag.js";
import { userName } from "../shared/names.js";
import { timestampFromPg } from "../shared/timestamps.js";

export type UserRow = Selectable<Users>;

export function toUser(row: UserRow): User {
  return create(UserSchema, {
    name: userName(row.uid),
    uid: row.uid,
    displayName: row.display_name,
    email: row.email,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    handle: row.handle ?? "",
    etag: etagOf(row.revision),
  });
}
