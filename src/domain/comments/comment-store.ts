import { type Kysely, sql, type Transaction } from "kysely";
import type { DB, MemberRole } from "../../../gen/db.js";
import { DomainError, notFound } from "../errors.js";
import type { Caller } from "../shared/caller.js";
import type { NewRevision } from "../shared/etag.js";
import { lastSegmentOf } from "../shared/names.js";
import {
  afterPair,
  type PairCursor,
  pageBytes,
  pageOf,
  pairKeyset,
  withinPageBytes,
} from "../shared/pagination.js";
import type { CommentRow } from "./comment-mapping.js";

/**
 * The comment `name` of an issue the transaction holds locked, locked for a
 * change. Writers comment; only the author or an admin changes what was written.
 */
export async function lockComment(
  tx: Transaction<DB>,
  caller: Caller & { role: MemberRole },
  issueUid: string,
  name: string,
): Promise<CommentRow> {
  const row = await tx
    .selectFrom("comments")
    .selectAll()
    .where("uid", "=", lastSegmentOf(name))
    .where("issue_uid", "=", issueUid)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound(name);
  if (row.author_uid !== caller.userUid && caller.role !== "admin") {
    throw new DomainError(
      "permission_denied",
      "NOT_COMMENT_AUTHOR",
      `only the author or a project admin may change ${name}`,
      {
        resource: name,
      },
    );
  }
  return row;
}

/** A new comment by `authorUid` on the locked issue `issue` of its project. */
export function insertComment(
  tx: Transaction<DB>,
  issue: { project_uid: string; uid: string },
  authorUid: string,
  body: string,
): Promise<CommentRow> {
  return tx
    .insertInto("comments")
    .values({ project_uid: issue.project_uid, issue_uid: issue.uid, author_uid: authorUid, body })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Writes the body of the locked comment `uid`, as its next revision. */
export function writeCommentBody(
  tx: Transaction<DB>,
  uid: string,
  body: string,
  revision: NewRevision,
): Promise<CommentRow> {
  return tx
    .updateTable("comments")
    .set({ body, ...revision })
    .where("uid", "=", uid)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A page of an issue's comments, oldest first. */
export function pageOfComments(
  db: Kysely<DB>,
  issueUid: string,
  request: { parent: string; pageSize: number; pageToken: string },
) {
  const query = { method: "ListComments", parent: request.parent };
  const keyset = pairKeyset((row: CommentRow): PairCursor => [row.create_time, row.uid]);
  return pageOf(request, query, keyset, (limit, after) => {
    let select = db
      .selectFrom("comments")
      .selectAll()
      .select(pageBytes(sql`octet_length(body)`, sql`create_time, uid`))
      .where("issue_uid", "=", issueUid)
      .orderBy("create_time")
      .orderBy("uid")
      .limit(limit);
    if (after) select = select.where(afterPair("create_time", "uid", after));
    return db
      .selectFrom(select.as("comment"))
      .selectAll()
      .where(withinPageBytes("comment"))
      .orderBy("comment.page_place")
      .execute();
  });
}

/**
 * Deletes a comment for good: its text leaves the history too (the events
 * stay, emptied).
 */
export async function deleteComment(
  tx: Transaction<DB>,
  projectUid: string,
  commentUid: string,
): Promise<void> {
  await tx.deleteFrom("comments").where("uid", "=", commentUid).execute();
  await tx
    .updateTable("issue_events")
    .set({ changes: "[]" })
    .where("project_uid", "=", projectUid)
    .where("comment_uid", "=", commentUid)
    .execute();
}
