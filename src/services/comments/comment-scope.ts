import type { CommentRow } from "../../domain/comments/comment-mapping.js";
import { issueOfComment } from "../../domain/comments/comment-mapping.js";
import { lockComment } from "../../domain/comments/comment-store.js";
import type { Scope } from "../unit-of-work.js";

/** What a change of the comment `name` locks: its project, its live issue, then the comment. */
export const commentScope = (name: string, etag: string): Scope<CommentRow> => ({
  resource: name,
  role: "writer",
  issue: { name: issueOfComment(name), must: "be live" },
  target: ({ tx, caller, project, issue }) =>
    lockComment(tx, { ...caller, role: project.caller_role }, issue?.uid ?? "", name),
  etag,
});
