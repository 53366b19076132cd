import type { ServiceImpl } from "@connectrpc/connect";
import type { CommentService } from "../../../gen/proto/tracker/v1/comment_pb.js";
import type { AppContext } from "../../context.js";
import { toComment } from "../../domain/comments/comment-mapping.js";
import { pageOfComments } from "../../domain/comments/comment-store.js";
import { findIssue } from "../../domain/issues/issue-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const listComments =
  (ctx: AppContext): ServiceImpl<typeof CommentService>["listComments"] =>
  async (req, context) => {
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
    const issue = await findIssue(ctx.db, project.uid, req.parent);
    const { page, nextPageToken } = await pageOfComments(ctx.db, issue.uid, req);
    return { comments: page.map((row) => toComment(row, project.key, issue.number)), nextPageToken };
  };
