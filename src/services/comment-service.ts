import { create } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import type { Selectable, Transaction } from "kysely";
import type { Comments, DB } from "../../gen/db.js";
import {
  type Comment,
  CommentSchema,
  CommentService,
  CreateCommentRequestSchema,
} from "../../gen/proto/tracker/v1/comment_pb.js";
import type { AppContext } from "../context.js";
import { lockProjectFor, projectFor } from "../shared/access.js";
import { recordAudit } from "../shared/audit.js";
import { type Caller, callerOf } from "../shared/caller.js";
import { apiError, notFound, required } from "../shared/errors.js";
import { assertFresh, etagOf } from "../shared/etag.js";
import { once } from "../shared/idempotency.js";
import { appendIssueEvent } from "../shared/issue-events.js";
import { commentName, issueNumberOf, lastSegmentOf, userName } from "../shared/names.js";
import {
  afterPair,
  decodePageToken,
  isPairCursor,
  type PairCursor,
  pageSize,
  paginate,
} from "../shared/pagination.js";
import { timestampFromPg } from "../shared/timestamps.js";
import { maskedFields } from "../shared/update-mask.js";
import { findIssue, issueDeleted, lockIssue } from "./issues/issue-rows.js";

type CommentRow = Selectable<Comments>;

function toComment(row: CommentRow, projectKey: string, issueNumber: string): Comment {
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
const issueOfComment = (name: string) => name.split("/").slice(0, 4).join("/");

/**
 * The comment with `name`, locked, with its live issue and project locked
 * before it (the order every writer of a project takes).
 */
async function lockComment(tx: Transaction<DB>, caller: Caller, name: string, etag: string) {
  const issueName = issueOfComment(name);
  const project = await lockProjectFor(tx, caller, name, "writer");
  const issue = await lockIssue(tx, project.uid, issueName);
  if (issue.delete_time !== null) throw issueDeleted(issueName, true);
  const row = await tx
    .selectFrom("comments")
    .selectAll()
    .where("uid", "=", lastSegmentOf(name))
    .where("issue_uid", "=", issue.uid)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound(name);
  // Writers comment; only the author or an admin changes what was written.
  if (row.author_uid !== caller.userUid && project.caller_role !== "admin") {
    throw apiError(
      Code.PermissionDenied,
      "NOT_COMMENT_AUTHOR",
      `only the author or a project admin may change ${name}`,
      {
        metadata: { resource: name },
      },
    );
  }
  assertFresh(etag, row.revision, name);
  return { project, issue, row };
}

export function commentService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(CommentService, {
      async listComments(req, context) {
        const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
        const issue = await findIssue(ctx.db, project.uid, req.parent);
        const size = pageSize(req.pageSize);
        const query = { method: "ListComments", parent: req.parent };
        const after = decodePageToken(req.pageToken, query, isPairCursor);
        let select = ctx.db
          .selectFrom("comments")
          .selectAll()
          .where("issue_uid", "=", issue.uid)
          .orderBy("create_time")
          .orderBy("uid")
          .limit(size + 1);
        if (after) {
          select = select.where(afterPair("create_time", "uid", after));
        }
        const { page, nextPageToken } = paginate(
          await select.execute(),
          size,
          query,
          (row): PairCursor => [row.create_time, row.uid],
        );
        return { comments: page.map((row) => toComment(row, project.key, issue.number)), nextPageToken };
      },

      async createComment(req, context) {
        const caller = callerOf(context);
        const call = {
          method: "CreateComment",
          requestSchema: CreateCommentRequestSchema,
          request: req,
          responseSchema: CommentSchema,
        };
        return ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, req.parent, "writer");
          return once(tx, { caller, project }, call, async () => {
            const issue = await lockIssue(tx, project.uid, req.parent);
            if (issue.delete_time !== null) throw issueDeleted(req.parent, true);
            const row = await tx
              .insertInto("comments")
              .values({
                issue_uid: issue.uid,
                author_uid: caller.userUid,
                body: required(req.comment?.body, "comment.body"),
              })
              .returningAll()
              .executeTakeFirstOrThrow();
            await appendIssueEvent(tx, {
              projectUid: project.uid,
              issueUid: issue.uid,
              issueNumber: issue.number,
              actorUid: caller.userUid,
              kind: "comment_created",
              commentUid: row.uid,
              changes: [{ field: "body", old: null, new: row.body }],
            });
            const comment = toComment(row, project.key, issueNumberOf(req.parent));
            await recordAudit(tx, context, { resource: comment.name, schema: CommentSchema, after: comment });
            return comment;
          });
        });
      },

      async updateComment(req, context) {
        const caller = callerOf(context);
        const name = req.comment?.name ?? "";
        const fields = maskedFields(req.updateMask, ["body"] as const);
        return ctx.db.transaction().execute(async (tx) => {
          const { project, issue, row } = await lockComment(tx, caller, name, req.comment?.etag ?? "");
          if (!fields.has("body") || req.comment?.body === row.body)
            return toComment(row, project.key, issue.number);
          const updated = await tx
            .updateTable("comments")
            .set((eb) => ({
              body: required(req.comment?.body, "comment.body"),
              revision: eb("revision", "+", 1),
              update_time: eb.fn("now"),
            }))
            .where("uid", "=", row.uid)
            .returningAll()
            .executeTakeFirstOrThrow();
          await appendIssueEvent(tx, {
            projectUid: project.uid,
            issueUid: issue.uid,
            issueNumber: issue.number,
            actorUid: caller.userUid,
            kind: "comment_updated",
            commentUid: row.uid,
            changes: [{ field: "body", old: row.body, new: updated.body }],
          });
          const comment = toComment(updated, project.key, issue.number);
          await recordAudit(tx, context, {
            resource: comment.name,
            schema: CommentSchema,
            before: toComment(row, project.key, issue.number),
            after: comment,
          });
          return comment;
        });
      },

      async deleteComment(req, context) {
        const caller = callerOf(context);
        await ctx.db.transaction().execute(async (tx) => {
          const { project, issue, row } = await lockComment(tx, caller, req.name, req.etag);
          await tx.deleteFrom("comments").where("uid", "=", row.uid).execute();
          await recordAudit(tx, context, {
            resource: req.name,
            schema: CommentSchema,
            before: toComment(row, project.key, issue.number),
          });
          // Deleted for good: its text leaves the history too (the events stay).
          await tx
            .updateTable("issue_events")
            .set({ changes: "[]" })
            .where("project_uid", "=", project.uid)
            .where("comment_uid", "=", row.uid)
            .execute();
          await appendIssueEvent(tx, {
            projectUid: project.uid,
            issueUid: issue.uid,
            issueNumber: issue.number,
            actorUid: caller.userUid,
            kind: "comment_deleted",
            commentUid: row.uid,
            // A deleted comment's text does not live on in the history.
          });
        });
        return {};
      },
    });
}
