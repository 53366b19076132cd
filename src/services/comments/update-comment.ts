import type { ServiceImpl } from "@connectrpc/connect";
import { CommentSchema, type CommentService } from "../../../gen/proto/tracker/v1/comment_pb.js";
import type { AppContext } from "../../context.js";
import { toComment } from "../../domain/comments/comment-mapping.js";
import { writeCommentBody } from "../../domain/comments/comment-store.js";
import { required } from "../../domain/errors.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { mutate } from "../unit-of-work.js";
import { commentScope } from "./comment-scope.js";

export const updateComment =
  (ctx: AppContext): ServiceImpl<typeof CommentService>["updateComment"] =>
  (req, context) => {
    const fields = maskedFields(req.updateMask, ["body"] as const);
    const scope = commentScope(req.comment?.name ?? "", req.comment?.etag ?? "");
    return mutate(ctx, context, req, scope, async ({ tx, project, issue, target: row, ...work }) => {
      const number = issue?.number ?? "";
      const before = toComment(row, project.key, number);
      if (!fields.has("body") || req.comment?.body === row.body) return before;
      const body = required(req.comment?.body, "comment.body");
      const updated = await writeCommentBody(tx, row.uid, body, work.bump());
      const changes = [{ field: "body", old: row.body, new: updated.body }];
      await work.event({ uid: row.issue_uid, number }, "comment_updated", { commentUid: row.uid, changes });
      const after = toComment(updated, project.key, number);
      await work.audit({ resource: after.name, schema: CommentSchema, before, after });
      return after;
    });
  };
