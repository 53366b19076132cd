import { create } from "@bufbuild/protobuf";
import type { Selectable } from "kysely";
import type { MemberRole, Members } from "../../../gen/db.js";
import { type Member, Member_Role, MemberSchema } from "../../../gen/proto/tracker/v1/member_pb.js";
import { invalidArgument } from "../errors.js";
import { etagOf } from "../shared/etag.js";
import { memberName, userName } from "../shared/names.js";
import { timestampFromPg } from "../shared/timestamps.js";

export type MemberRow = Selectable<Members>;

const ROLES_FROM_DB: Record<MemberRole, Member_Role> = {
  reader: Member_Role.READER,
  writer: Member_Role.WRITER,
  admin: Member_Role.ADMIN,
};

/** The contract only lets defined roles other than ROLE_UNSPECIFIED through. */
export function roleToDb(role: Member_Role, field: string): MemberRole {
  switch (role) {
    case Member_Role.READER:
      return "reader";
    case Member_Role.WRITER:
      return "writer";
    case Member_Role.ADMIN:
      return "admin";
    default:
      throw invalidArgument(field, "must be ROLE_READER, ROLE_WRITER or ROLE_ADMIN");
  }
}

export function toMember(projectKey: string, row: MemberRow): Member {
  return create(MemberSchema, {
    name: memberName(projectKey, row.user_uid),
    user: userName(row.user_uid),
    role: ROLES_FROM_DB[row.role],
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    etag: etagOf(row.revision),
  });
}
