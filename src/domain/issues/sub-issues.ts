import { sql, type Transaction } from "kysely";
import type { DB } from "../../../gen/db.js";
import { DomainError, failedPrecondition, invalidArgument, notFound } from "../errors.js";
import { issueNumberOf, projectKeyOf } from "../shared/names.js";
import { issueDeleted } from "./issue-rules.js";

// Sub-issues: a parent link inside one project, ordered among siblings, with
// no cycles and a bounded depth and fan-out. Every check reads the tree in
// the writer's transaction, which holds the project row locked
// (lockProjectFor): every change of a project's issues takes that lock first,
// so two moves in one project (A under B and B under A) run one after the
// other, and the second sees the first committed (READ COMMITTED reads the
// newest commit at each statement) and is refused as a cycle.

/** A tree is at most this many issues deep, its top-level issue included. */
export const MAX_SUB_ISSUE_DEPTH = 8;
/** An issue has at most this many sub-issues (deleted ones count: they may be restored). */
export const MAX_SUB_ISSUES = 100;
/** The contract's largest sub_issue_order: an appended issue stays within it (ties go by number). */
const MAX_ORDER = 1_000_000_000;

type Project = { uid: string; key: string };

/** Where an issue goes: its parent's uid and its place among the parent's sub-issues. */
export interface Placement {
  parent_uid: string | null;
  sub_issue_order: number | null;
}

export const TOP_LEVEL: Placement = { parent_uid: null, sub_issue_order: null };

/**
 * The placement of an issue (`moving`, undefined for a new one) under the
 * issue named `parentName` ("" for none) at `order` (undefined: after the
 * last sub-issue), or the contract's error: a parent of another project is
 * INVALID_ARGUMENT, a missing one NOT_FOUND, a deleted one, a cycle or a
 * tree too deep FAILED_PRECONDITION, a full parent RESOURCE_EXHAUSTED.
 */
export async function placeUnder(
  tx: Transaction<DB>,
  project: Project,
  parentName: string,
  order: number | undefined,
  moving?: { uid: string },
): Promise<Placement> {
  if (parentName === "") {
    if (order !== undefined) {
      throw invalidArgument("issue.sub_issue_order", "is only set on a sub-issue (with a parent)");
    }
    return TOP_LEVEL;
  }
  if (projectKeyOf(parentName) !== project.key) {
    throw invalidArgument(
      "issue.parent",
      `${parentName} is in another project; sub-issues stay in their parent's project`,
      "PARENT_OF_OTHER_PROJECT",
    );
  }
  const parent = await tx
    .selectFrom("issues")
    .select(["uid", "delete_time"])
    .where("project_uid", "=", project.uid)
    .where("number", "=", issueNumberOf(parentName))
    .executeTakeFirst();
  if (!parent) throw notFound(parentName);
  if (parent.delete_time !== null) throw issueDeleted(parentName, true);

  // The parent's ancestors, itself included: how deep it is, and whether the
  // moving issue is among them (which would close a cycle). The walk stops
  // past the bound, so even a tree wrongly too deep cannot make it run on.
  const above = await sql<{ depth: number; cycle: boolean }>`
    WITH RECURSIVE up(uid, parent_uid, depth) AS (
      SELECT uid, parent_uid, 1 FROM issues WHERE uid = ${parent.uid}
      UNION ALL
      SELECT issue.uid, issue.parent_uid, up.depth + 1
      FROM issues issue JOIN up ON issue.uid = up.parent_uid
      WHERE up.depth <= ${MAX_SUB_ISSUE_DEPTH}
    )
    SELECT max(depth)::int AS depth, coalesce(bool_or(uid = ${moving?.uid ?? null}::uuid), false) AS cycle FROM up`
    .execute(tx)
    .then((result) => result.rows[0] ?? { depth: 1, cycle: false });
  if (above.cycle) {
    throw failedPrecondition(
      "SUB_ISSUE_CYCLE",
      `${parentName} is the issue itself or one of its sub-issues; an issue cannot go under itself`,
      parentName,
    );
  }
  // The moving issue's own subtree goes along: its height counts too.
  const height = moving ? await subtreeHeight(tx, moving.uid, MAX_SUB_ISSUE_DEPTH - above.depth + 1) : 1;
  if (above.depth + height > MAX_SUB_ISSUE_DEPTH) {
    throw new DomainError(
      "failed_precondition",
      "SUB_ISSUE_TOO_DEEP",
      `under ${parentName} the tree would be ${above.depth + height} issues deep; at most ${MAX_SUB_ISSUE_DEPTH} are allowed`,
      { resource: parentName, limit: String(MAX_SUB_ISSUE_DEPTH) },
    );
  }

  let siblings = tx
    .selectFrom("issues")
    .select((eb) => [eb.fn.countAll<string>().as("count"), eb.fn.max("sub_issue_order").as("last")])
    .where("parent_uid", "=", parent.uid);
  if (moving) siblings = siblings.where("uid", "<>", moving.uid);
  const { count, last } = await siblings.executeTakeFirstOrThrow();
  if (Number(count) >= MAX_SUB_ISSUES) {
    throw new DomainError(
      "resource_exhausted",
      "TOO_MANY_SUB_ISSUES",
      `${parentName} has ${count} sub-issues, the most an issue may have`,
      { resource: parentName, limit: String(MAX_SUB_ISSUES) },
    );
  }
  return {
    parent_uid: parent.uid,
    sub_issue_order: order ?? (last === null ? 0 : Math.min(Number(last) + 1, MAX_ORDER)),
  };
}

/**
 * How many issues deep the subtree of `uid` is (1: no sub-issues), looking
 * no further than `enough` levels: anything deeper is refused anyway.
 */
async function subtreeHeight(tx: Transaction<DB>, uid: string, enough: number): Promise<number> {
  const { rows } = await sql<{ height: number }>`
    WITH RECURSIVE down(uid, level) AS (
      SELECT ${uid}::uuid, 1
      UNION ALL
      SELECT issue.uid, down.level + 1
      FROM issues issue JOIN down ON issue.parent_uid = down.uid
      WHERE down.level < ${Math.max(enough, 1)}
    )
    SELECT max(level)::int AS height FROM down`.execute(tx);
  return rows[0]?.height ?? 1;
}
