import { create } from "@bufbuild/protobuf";
import type { Selectable } from "kysely";
import type { Comments } from "../../../gen/db.js";
import { type Comment, CommentSchema } from "../../../gen/proto/tracker/v1/comment_pb.js";
import { etagOf } from "../shared/etag.js";
import { commentName, userName } from "../shared/names.js";
import { timestampFromPg } from "../shared/timestamps.js";

export type CommentRow = Selectable<Comments>;

export function toComment(row: CommentRow, projectKey: string, issueNumber: string): Comment {
  return create(CommentSchema, {
    name: commentName(projectKey, issueNumber, row.uid),
    uid: row.uid,
    author: userName(row.author_uid),
    body: row.body,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    etag: etagOf(row.revision),
  });
}

/** `projects/P/issues/N/comments/U` -> `projects/P/issues/N` */
export const issueOfComment = (name: string) => name.split("/").slice(0, 4).join("/");
