import type { ConnectRouter } from "@connectrpc/connect";
import { CommentService } from "../../../gen/proto/tracker/v1/comment_pb.js";
import type { AppContext } from "../../context.js";
import { createComment } from "./create-comment.js";
import { deleteComment } from "./delete-comment.js";
import { listComments } from "./list-comments.js";
import { updateComment } from "./update-comment.js";

export function commentService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(CommentService, {
      listComments: listComments(ctx),
      createComment: createComment(ctx),
      updateComment: updateComment(ctx),
      deleteComment: deleteComment(ctx),
    });
}
