import type { ServiceImpl } from "@connectrpc/connect";
import { CommentSchema, type CommentService } from "../../../gen/proto/tracker/v1/comment_pb.js";
import type { AppContext } from "../../context.js";
import { toComment } from "../../domain/comments/comment-mapping.js";
import { insertComment } from "../../domain/comments/comment-store.js";
import { required } from "../../domain/errors.js";
import { mutate } from "../unit-of-work.js";

export const createComment =
  (ctx: AppContext): ServiceImpl<typeof CommentService>["createComment"] =>
  (req, context) => {
    const scope = {
      resource: req.parent,
      role: "writer",
      issue: { name: req.parent, must: "be live" },
    } as const;
    return mutate(ctx, context, req, scope, async ({ tx, caller, project, issue, ...work }) => {
      if (!issue) throw new Error("the scope locks the issue");
      const body = required(req.comment?.body, "comment.body");
      const row = await insertComment(tx, issue, caller.userUid, body);
      await work.event(issue, "comment_created", {
        commentUid: row.uid,
        changes: [{ field: "body", old: null, new: row.body }],
      });
      const comment = toComment(row, project.key, issue.number);
      await work.audit({ resource: comment.name, schema: CommentSchema, after: comment });
      return comment;
    });
  };
