import { toJson } from "@bufbuild/protobuf";
import { type Expression, type Kysely, type SelectQueryBuilder, type SqlBool, sql } from "kysely";
import type { DB } from "../../../gen/db.js";
import { IssueFilterSchema, type ListIssuesRequest } from "../../../gen/proto/tracker/v1/issue_pb.js";
import { invalidArgument } from "../errors.js";
import { readingAsReader } from "../shared/access.js";
import type { Caller } from "../shared/caller.js";
import {
  EVERY_PROJECT,
  issueNumberOf,
  lastSegmentOf,
  projectKeyOf,
  resolveUserName,
  userUidOf,
} from "../shared/names.js";
import { type Keyset, pageOf } from "../shared/pagination.js";
import { timestampToText } from "../shared/timestamps.js";
import { dbPriority, dbState, type IssueRow } from "./issue-mapping.js";
import {
  type IssueRowWithProject,
  type IssueSortField as SortField,
  selectIssueColumns,
  selectIssues,
  selectIssuesAcrossProjects,
  selectIssuesAsReader,
} from "./issue-store.js";

type Cursor = [sortValue: string, number: string];
const isCursor = (value: unknown): value is Cursor =>
  Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === "string");

/** Across projects, ties of the sort field are broken by project key, then number. */
type AcrossCursor = [sortValue: string, projectKey: string, number: string];
const isAcrossCursor = (value: unknown): value is AcrossCursor =>
  Array.isArray(value) && value.length === 3 && value.every((part) => typeof part === "string");

type Order = { field: SortField; descending: boolean };

/**
 * `number desc` (newest first) unless the request says otherwise, and a
 * parent's sub-issues in their order; the contract checked the syntax.
 */
function parseOrderBy(orderBy: string, parent: string): Order {
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
 * check in the same query. `projects/-` lists every project the caller can
 * read (listAcrossProjects).
 */
export async function listIssues(db: Kysely<DB>, caller: Caller, req: ListIssuesRequest) {
  const filter = req.filter;
  const searching = isSearch(req);
  const queryOf = (order: Order) => ({
    method: "ListIssues",
    parent: req.parent,
    filter: filter ? toJson(IssueFilterSchema, filter) : null,
    order,
    showDeleted: req.showDeleted,
  });
  if (req.parent === EVERY_PROJECT) {
    const order = parseOrderBy(req.orderBy, filter?.parent ?? "");
    return listAcrossProjects(db, caller, req, order, queryOf(order));
  }

  const key = projectKeyOf(req.parent);
  // The token is checked before the filter: a request wrong in both is told of the token.
  const { page, nextPageToken } = await readingAsReader(db, caller, req.parent, () => {
    const order = parseOrderBy(req.orderBy, filter?.parent ?? "");
    const keyset: Keyset<IssueRow, Cursor> = {
      isCursor,
      cursorOf: (row) => [String(row[order.field]), row.number],
    };
    return pageOf(req, queryOf(order), keyset, (limit, after) =>
      selectIssuesAsReader(
        db,
        caller,
        req.parent,
        (projectUid) => {
          assertOfProject(key, filter?.labels ?? [], filter?.parent ?? "");
          let select = filtered(db, selectIssues(db, projectUid, { searching }), req, caller, {
            uid: projectUid,
          });
          if (after) select = select.where(keysetAfter(order, after));
          return select.limit(limit);
        },
        order,
      ),
    );
  });
  return { page: page.map((row) => ({ ...row, project_key: key })), nextPageToken };
}

/**
 * ListIssues of `projects/-`: the issues of every project the caller is a
 * member of (any role), each named in its own project. A deleted project's
 * issues count as deleted: shown with `show_deleted` only, as ListProjects
 * shows the project. Labels are per project, so each label of the filter
 * applies in its own project: an issue matches if it carries every label the
 * filter names in its project, and a project none of them names is left out
 * (`projects/A/labels/bug` with `projects/B/labels/bug` is "bug in A or B").
 * Nothing here depends on a project the caller is not a member of: there is
 * no project to hide, so a bad token or filter is INVALID_ARGUMENT at once.
 */
async function listAcrossProjects(
  db: Kysely<DB>,
  caller: Caller,
  req: ListIssuesRequest,
  order: Order,
  query: unknown,
) {
  const labels = req.filter?.labels ?? [];
  const parent = req.filter?.parent ?? "";
  const searching = isSearch(req);
  const keyset: Keyset<IssueRowWithProject, AcrossCursor> = {
    isCursor: isAcrossCursor,
    cursorOf: (row) => [String(row[order.field]), row.project_key, row.number],
  };
  // Only the projects the filter can match: those of its labels, and its parent's.
  let keys = labels.length ? [...new Set(labels.map(projectKeyOf))] : undefined;
  if (parent) keys = (keys ?? [projectKeyOf(parent)]).filter((key) => key === projectKeyOf(parent));
  const projects = { showDeleted: req.showDeleted, keys };
  return pageOf(req, query, keyset, (limit, after) =>
    selectIssuesAcrossProjects(
      db,
      caller,
      projects,
      (project) => {
        let select = filtered(db, selectIssueColumns(db, project.uid, { searching }), req, caller, project);
        if (after) select = select.where(keysetAcrossAfter(order, project.key, after));
        return select.limit(limit);
      },
      order,
      limit,
    ),
  );
}

const isSearch = (req: ListIssuesRequest) => (req.filter?.query.trim() ?? "") !== "";

/** One project's list: a label or parent of another project is INVALID_ARGUMENT (it could match nothing). */
function assertOfProject(key: string, labels: string[], parent: string): void {
  for (const label of labels) {
    if (projectKeyOf(label) !== key) {
      throw invalidArgument("filter.labels", `${label} belongs to another project`, "LABEL_OF_OTHER_PROJECT");
    }
  }
  if (parent && projectKeyOf(parent) !== key) {
    throw invalidArgument(
      "filter.parent",
      `${parent} belongs to another project; sub-issues stay in their parent's project`,
      "PARENT_OF_OTHER_PROJECT",
    );
  }
}

/**
 * The issues of `select` that `req`'s filter (and show_deleted) lets
 * through, of the project `project.uid`. Across projects, `project.key` is
 * the key of each issue's project: a label applies in its own project only
 * (see listAcrossProjects).
 */
function filtered<O>(
  db: Kysely<DB>,
  select: SelectQueryBuilder<DB, "issues", O>,
  req: ListIssuesRequest,
  caller: Caller,
  project: { uid: Expression<string>; key?: Expression<string> },
): SelectQueryBuilder<DB, "issues", O> {
  const projectKey = project.key;
  const filter = req.filter;
  const uidOf = (user: string) => userUidOf(resolveUserName(user, caller));
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
      const carried = sql<SqlBool>`EXISTS (SELECT 1 FROM issue_labels JOIN labels ON labels.uid = issue_labels.label_uid WHERE issue_labels.issue_uid = issues.uid AND labels.key = ${lastSegmentOf(label)})`;
      select = select.where(
        projectKey ? sql<SqlBool>`(${projectKey} <> ${projectKeyOf(label)} OR ${carried})` : carried,
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

/** The sort field's SQL type, for a cursor's value. */
const sortType = (field: SortField) =>
  sql.raw(field === "priority" ? "issue_priority" : field === "sub_issue_order" ? "integer" : "timestamptz");

/** Rows strictly after the cursor in the sort order: (field, number) > or < (value, number). */
function keysetAfter({ field, descending }: Order, [value, number]: Cursor) {
  const comparison = sql.raw(descending ? "<" : ">");
  if (field === "number") return sql<SqlBool>`issues.number ${comparison} ${number}::bigint`;
  return sql<SqlBool>`(${sql.ref(`issues.${field}`)}, issues.number) ${comparison} (${value}::${sortType(field)}, ${number}::bigint)`;
}

/**
 * Across projects, the rows of the project `projectKey` strictly after the
 * cursor in the order (field, project key, number). The project's key is
 * one value in its scan, so the comparison on the field alone (`>=` or
 * `<=`) is what starts that project's index scan at the cursor; the row
 * comparison then drops the few rows that tie with it.
 */
function keysetAcrossAfter(
  { field, descending }: Order,
  projectKey: Expression<string>,
  [value, key, number]: AcrossCursor,
) {
  const [comparison, bound] = descending ? [sql.raw("<"), sql.raw("<=")] : [sql.raw(">"), sql.raw(">=")];
  const typed = field === "number" ? sql`${value}::bigint` : sql`${value}::${sortType(field)}`;
  const column = sql.ref(`issues.${field}`);
  return sql<SqlBool>`(${column} ${bound} ${typed} AND (${column}, ${projectKey}, issues.number) ${comparison} (${typed}, ${key}, ${number}::bigint))`;
}
