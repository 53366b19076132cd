import { type Kysely, type SqlBool, sql, type Transaction } from "kysely";
import type { DB, IssueRelationKind } from "../../../gen/db.js";
import { notFound } from "../errors.js";
import type { Caller } from "../shared/caller.js";
import { issueNumberOf, lastSegmentOf, projectKeyOf } from "../shared/names.js";
import { afterPair, type PairCursor, pageOf, pairKeyset } from "../shared/pagination.js";
import type { RelationView } from "./relation-mapping.js";

// A relation is only ever seen by a caller who can read both of its issues:
// every read here joins the other issue's project with the caller's
// membership, so a relation to an issue they cannot read is, to them, not
// there, exactly like one that does not exist.

/**
 * The issue `name` if the caller may read it (a member of its project, as
 * for GetIssue), else NOT_FOUND, whether it is missing or only hidden.
 */
export async function findReadableIssue(
  db: Kysely<DB>,
  caller: Caller,
  name: string,
): Promise<{
  uid: string;
  number: string;
  project_uid: string;
  delete_time: string | null;
  project_delete_time: string | null;
}> {
  const row = await db
    .selectFrom("issues")
    .innerJoin("projects", "projects.uid", "issues.project_uid")
    .innerJoin("members", (join) =>
      join
        .onRef("members.project_uid", "=", "issues.project_uid")
        .on("members.user_uid", "=", caller.userUid),
    )
    .select(["issues.uid", "issues.number", "issues.project_uid", "issues.delete_time"])
    .select("projects.delete_time as project_delete_time")
    .where("projects.key", "=", projectKeyOf(name))
    .where("issues.number", "=", issueNumberOf(name))
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/** The relations of the issue `issueUid` whose other issue `callerUid` can read, as that issue sees them. */
function relationViews(db: Kysely<DB>, issueUid: string, callerUid: string) {
  return db
    .selectFrom("issue_relations as relation")
    .innerJoin("issues as related", (join) =>
      join.on(
        sql<SqlBool>`related.uid = CASE WHEN relation.subject_uid = ${issueUid}::uuid THEN relation.object_uid ELSE relation.subject_uid END`,
      ),
    )
    .innerJoin("projects as related_project", "related_project.uid", "related.project_uid")
    .innerJoin("members as reader", (join) =>
      join.onRef("reader.project_uid", "=", "related.project_uid").on("reader.user_uid", "=", callerUid),
    )
    .select([
      "relation.uid",
      "relation.kind",
      "relation.creator_uid",
      "relation.create_time",
      sql<boolean>`relation.subject_uid = ${issueUid}::uuid`.as("is_subject"),
      "related_project.key as related_project_key",
      "related.number as related_number",
    ])
    .where((eb) =>
      eb.or([eb("relation.subject_uid", "=", issueUid), eb("relation.object_uid", "=", issueUid)]),
    );
}

/** A page of the relations of the issue `issueUid` the caller can see, newest first. */
export function pageOfRelations(
  db: Kysely<DB>,
  caller: Caller,
  issueUid: string,
  request: { parent: string; pageSize: number; pageToken: string },
) {
  const query = { method: "ListIssueRelations", parent: request.parent };
  const keyset = pairKeyset((row: RelationView): PairCursor => [row.create_time, row.uid]);
  return pageOf(request, query, keyset, (limit, after) => {
    let select = relationViews(db, issueUid, caller.userUid)
      .orderBy("relation.create_time", "desc")
      .orderBy("relation.uid", "desc")
      .limit(limit);
    if (after) select = select.where(afterPair("relation.create_time", "relation.uid", after, "desc"));
    return select.execute();
  });
}

/**
 * The relation `name` of the issue `issueUid` (which the transaction holds
 * locked), locked for its removal; NOT_FOUND when it does not exist, is not
 * that issue's, or relates it to an issue the caller cannot read.
 */
export async function lockRelation(
  tx: Transaction<DB>,
  caller: Caller,
  issueUid: string,
  name: string,
): Promise<RelationView> {
  const row = await relationViews(tx, issueUid, caller.userUid)
    .where("relation.uid", "=", lastSegmentOf(name))
    .forUpdate("relation")
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/** Stores a relation; undefined if the same one exists already (from either side). */
export async function insertRelation(
  tx: Transaction<DB>,
  relation: { subject_uid: string; object_uid: string; kind: IssueRelationKind; creator_uid: string },
): Promise<{ uid: string; create_time: string } | undefined> {
  return tx
    .insertInto("issue_relations")
    .values(relation)
    .onConflict((conflict) => conflict.doNothing())
    .returning(["uid", "create_time"])
    .executeTakeFirst();
}

export async function deleteRelation(tx: Transaction<DB>, uid: string): Promise<void> {
  await tx.deleteFrom("issue_relations").where("uid", "=", uid).execute();
}
