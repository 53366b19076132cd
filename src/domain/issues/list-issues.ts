import { toJson } from "@bufbuild/protobuf";
import { type Expression, type Kysely, type SqlBool, sql } from "kysely";
import type { DB } from "../../../gen/db.js";
import { IssueFilterSchema, type ListIssuesRequest } from "../../../gen/proto/tracker/v1/issue_pb.js";
import { invalidArgument } from "../errors.js";
import { readingAsReader } from "../shared/access.js";
import type { Caller } from "../shared/caller.js";
import { issueNumberOf, lastSegmentOf, projectKeyOf, resolveUserName, userUidOf } from "../shared/names.js";
import { type Keyset, pageOf } from "../shared/pagination.js";
import { timestampToText } from "../shared/timestamps.js";
import { dbPriority, dbState, type IssueRow } from "./issue-mapping.js";
import { type IssueSortField as SortField, selectIssues, selectIssuesAsReader } from "./issue-store.js";

type Cursor = [sortValue: string, number: string];
const isCursor = (value: unknown): value is Cursor =>
  Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === "string");

/**
 * `number desc` (newest first) unless the request says otherwise, and a
 * parent's sub-issues in their order; the contract checked the syntax.
 */
function parseOrderBy(orderBy: string, parent: string): { field: SortField; descending: boolean } {
  if (orderBy === "")
    return parent ? { field: "sub_issue_order", descending: false } : { field: "number", descending: true };
  const [field, direction] = orderBy.split(" ") as [SortField, string | undefined];
  if (field === "sub_issue_order" && !parent) {
    throw invalidArgument(
      "order_by",
      "sub_issue_order orders the sub-issues of one issue: set filter.parent",
      "ORDER_NEEDS_PARENT",
    );
  }
  return { field, descending: direction === "desc" };
}

/**
 * ListIssues: the typed filter, the order, and keyset pagination over the
 * (project, sort field, number) indexes, with labels and the caller's access
 * check in the same query.
 */
export async function listIssues(db: Kysely<DB>, caller: Caller, req: ListIssuesRequest) {
  const key = projectKeyOf(req.parent);
  const filter = req.filter;
  // The token is checked before the filter: a request wrong in both is told of the token.
  return readingAsReader(db, caller, req.parent, () => {
    const order = parseOrderBy(req.orderBy, filter?.parent ?? "");
    const query = {
      method: "ListIssues",
      parent: req.parent,
      filter: filter ? toJson(IssueFilterSchema, filter) : null,
      order,
      showDeleted: req.showDeleted,
    };
    const keyset: Keyset<IssueRow, Cursor> = {
      isCursor,
      cursorOf: (row) => [String(row[order.field]), row.number],
    };
    return pageOf(req, query, keyset, (limit, after) =>
      selectIssuesAsReader(
        db,
        caller,
        req.parent,
        (projectUid) => {
          let select = filtered(db, caller, { uid: projectUid, key }, req);
          if (after) select = select.where(keysetAfter(order.field, order.descending, after));
          return select.limit(limit);
        },
        order,
      ),
    );
  });
}

/** The issues of the project that `req`'s filter (and show_deleted) lets through. */
function filtered(
  db: Kysely<DB>,
  caller: Caller,
  project: { uid: Expression<string>; key: string },
  req: ListIssuesRequest,
) {
  const filter = req.filter;
  const uidOf = (user: string) => userUidOf(resolveUserName(user, caller));
  let select = selectIssues(db, project.uid);
  if (!req.showDeleted) select = select.where("issues.delete_time", "is", null);
  if (filter) {
    const states = filter.states.map(dbState).filter((state) => state !== undefined);
    if (states.length) select = select.where("issues.state", "in", states);
    const priorities = filter.priorities.map(dbPriority).filter((priority) => priority !== undefined);
    if (priorities.length) select = select.where("issues.priority", "in", priorities);
    if (filter.assignees.length || filter.unassigned) {
      const assignees = filter.assignees.map(uidOf);
      select = select.where((eb) => {
        const conditions: Expression<SqlBool>[] = [];
        if (assignees.length) conditions.push(eb("issues.assignee_uid", "in", assignees));
        if (filter.unassigned) conditions.push(eb("issues.assignee_uid", "is", null));
        return eb.or(conditions);
      });
    }
    if (filter.reporter) select = select.where("issues.reporter_uid", "=", uidOf(filter.reporter));
    for (const label of filter.labels) {
      if (projectKeyOf(label) !== project.key) {
        throw invalidArgument(
          "filter.labels",
          `${label} belongs to another project`,
          "LABEL_OF_OTHER_PROJECT",
        );
      }
      select = select.where(({ exists, selectFrom }) =>
        exists(
          selectFrom("issue_labels")
            .innerJoin("labels", "labels.uid", "issue_labels.label_uid")
            .select(sql`1`.as("one"))
            .whereRef("issue_labels.issue_uid", "=", "issues.uid")
            .where("labels.key", "=", lastSegmentOf(label)),
        ),
      );
    }
    for (const [column, range] of [
      ["issues.create_time", filter.createTime],
      ["issues.update_time", filter.updateTime],
    ] as const) {
      if (range?.startTime) select = select.where(column, ">=", timestampToText(range.startTime));
      if (range?.endTime) select = select.where(column, "<", timestampToText(range.endTime));
    }
    if (filter.hasParent !== undefined) {
      select = select.where("issues.parent_uid", filter.hasParent ? "is not" : "is", null);
    }
    if (filter.parent) {
      if (projectKeyOf(filter.parent) !== project.key) {
        throw invalidArgument(
          "filter.parent",
          `${filter.parent} belongs to another project; sub-issues stay in their parent's project`,
          "PARENT_OF_OTHER_PROJECT",
        );
      }
      select = select.where(
        "issues.parent_uid",
        "=",
        db
          .selectFrom("issues as parent")
          .select("parent.uid")
          .where("parent.project_uid", "=", project.uid)
          .where("parent.number", "=", issueNumberOf(filter.parent)),
      );
    }
    if (filter.blocked !== undefined) {
      const blocker = openBlocker(db, caller);
      select = select.where(({ exists, not }) => (filter.blocked ? exists(blocker) : not(exists(blocker))));
    }
    if (filter.query.trim() !== "") {
      assertSearchable(filter.query);
      // The project's own index entries find the candidates (schema-functions.sql); `search` decides.
      const query = sql`websearch_to_tsquery('english', ${filter.query})`;
      select = select
        .where(
          sql<SqlBool>`issue_search_keys(issues.project_uid, issues.search) @@ issue_search_query(${project.uid}, ${query})`,
        )
        .where(sql<SqlBool>`issues.search @@ ${query}`);
    }
  }

  return select;
}

/**
 * An open issue that BLOCKS the listed one and that the caller can read:
 * a blocker they cannot see does not count, so the filter tells nothing of it.
 */
function openBlocker(db: Kysely<DB>, caller: Caller) {
  return db
    .selectFrom("issue_relations as relation")
    .innerJoin("issues as blocker", "blocker.uid", "relation.subject_uid")
    .innerJoin("members as reader", (join) =>
      join.onRef("reader.project_uid", "=", "blocker.project_uid").on("reader.user_uid", "=", caller.userUid),
    )
    .select(sql`1`.as("one"))
    .where(sql<SqlBool>`relation.object_uid = issues.uid`)
    .where("relation.kind", "=", "blocks")
    .where("blocker.state", "<>", "closed")
    .where("blocker.delete_time", "is", null);
}

/**
 * How many `-` (NOT) may stand in a row with no word between them. PostgreSQL
 * parses a query on a stack of 32 operators: a longer chain of negations is
 * "tsquery stack too small", a failed statement instead of an answer. No one
 * means more than one in a row; a few are allowed, so `--` typed by accident
 * still searches.
 */
export const MAX_CHAINED_NEGATIONS = 8;
const CHAINED_NEGATIONS = new RegExp(`-(?:[^\\p{L}\\p{N}-]*-){${MAX_CHAINED_NEGATIONS}}`, "u");

/** A full-text query PostgreSQL can evaluate, or INVALID_ARGUMENT naming filter.query. */
export function assertSearchable(query: string): void {
  if (CHAINED_NEGATIONS.test(query)) {
    throw invalidArgument(
      "filter.query",
      `has more than ${MAX_CHAINED_NEGATIONS} "-" in a row with no word between them`,
      "SEARCH_QUERY_TOO_COMPLEX",
    );
  }
}

/** Rows strictly after the cursor in the sort order: (field, number) > or < (value, number). */
function keysetAfter(field: SortField, descending: boolean, [value, number]: Cursor) {
  const comparison = sql.raw(descending ? "<" : ">");
  if (field === "number") return sql<SqlBool>`issues.number ${comparison} ${number}::bigint`;
  const type = sql.raw(
    field === "priority" ? "issue_priority" : field === "sub_issue_order" ? "integer" : "timestamptz",
  );
  return sql<SqlBool>`(${sql.ref(`issues.${field}`)}, issues.number) ${comparison} (${value}::${type}, ${number}::bigint)`;
}
