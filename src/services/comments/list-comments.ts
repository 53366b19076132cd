import type { ServiceImpl } from "@connectrpc/connect";
import type { CommentService } from "../../../gen/proto/tracker/v1/comment_pb.js";
import type { AppContext } from "../../context.js";
import { toComment } from "../../domain/comments/comment-mapping.js";
import { pageOfComments } from "../../domain/comments/comment-store.js";
import { findIssue } from "../../domain/issues/issue-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { read } from "../unit-of-work.js";

export const listComments =
  (ctx: AppContext): ServiceImpl<typeof CommentService>["listComments"] =>
  (req, context) =>
    read(ctx, context, { resource: req.parent }, async ({ db, caller }) => {
      const project = await projectFor(db, caller, req.parent, "reader");
      const issue = await findIssue(db, project.uid, req.parent);
      const { page, nextPageToken } = await pageOfComments(db, issue.uid, req);
      return { comments: page.map((row) => toComment(row, project.key, issue.number)), nextPageToken };
    });
