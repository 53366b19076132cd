import type { ServiceImpl } from "@connectrpc/connect";
import { CommentSchema, type CommentService } from "../../../gen/proto/tracker/v1/comment_pb.js";
import type { AppContext } from "../../context.js";
import { toComment } from "../../domain/comments/comment-mapping.js";
import { deleteComment as deleteForGood } from "../../domain/comments/comment-store.js";
import { mutate } from "../unit-of-work.js";
import { commentScope } from "./comment-scope.js";

export const deleteComment =
  (ctx: AppContext): ServiceImpl<typeof CommentService>["deleteComment"] =>
  async (req, context) => {
    await mutate(
      ctx,
      context,
      req,
      commentScope(req.name, req.etag),
      async ({ tx, project, issue, target: row, ...work }) => {
        const number = issue?.number ?? "";
        await work.audit({
          resource: req.name,
          schema: CommentSchema,
          before: toComment(row, project.key, number),
        });
        await deleteForGood(tx, project.uid, row.uid);
        // A deleted comment's text does not live on in the history.
        await work.event({ uid: row.issue_uid, number }, "comment_deleted", { commentUid: row.uid });
      },
    );
    return {};
  };
