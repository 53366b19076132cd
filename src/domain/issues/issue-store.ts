import {
  type Expression,
  type Kysely,
  type Selectable,
  type SelectQueryBuilder,
  type SqlBool,
  sql,
  type Transaction,
} from "kysely";
import type { DB, Issues } from "../../../gen/db.js";
import type { Issue } from "../../../gen/proto/tracker/v1/issue_pb.js";
import { DomainError, invalidArgument, notFound } from "../errors.js";
import { assertReader, readingAsReader, withProjectAccess, withReadableProjects } from "../shared/access.js";
import type { Caller } from "../shared/caller.js";
import type { NewRevision } from "../shared/etag.js";
import {
  issueNumberOf,
  labelName,
  lastSegmentOf,
  projectKeyOf,
  resolveUserName,
  userUidOf,
} from "../shared/names.js";
import { PAGE_BYTES, pageBytes, withinPageBytes } from "../shared/pagination.js";
import { type IssueRow, toIssue } from "./issue-mapping.js";
import { issueNumbersIn } from "./issue-rules.js";

/** An issue's label keys, sorted, in the same query as the issue (no N+1). */
const labelKeys = sql<
  string[]
>`coalesce((SELECT array_agg(l.key ORDER BY l.key) FROM issue_labels il JOIN labels l ON l.uid = il.label_uid WHERE il.issue_uid = issues.uid), '{}')`.as(
  "label_keys",
);

/** The parent's number (same project, so its name is known), in the same query as the issue. */
const parentNumber = sql<
  string | null
>`(SELECT parent.number FROM issues parent WHERE parent.uid = issues.parent_uid)`.as("parent_number");

/** `projects/{key}/labels/{key}` at its longest, with room for JSON's quotes. */
const MAX_LABEL_NAME_BYTES = 128;

/** What an issue row weighs in a page: its text, and each label as the longest name one can have. */
const issueBytes = sql<number>`octet_length(issues.title) + octet_length(issues.body) + ${MAX_LABEL_NAME_BYTES} * (SELECT count(*) FROM issue_labels il WHERE il.issue_uid = issues.uid)`;

/**
 * Issues of one project, without their labels. `searching`: the project's
 * own full-text keys (issues_search_keys_idx) find them, so the project is
 * compared as text, a filter the planner cannot take to an index. As an
 * index condition it was ANDed with the search keys, reading every issue
 * of the project (10,000 at 1m issues) to keep the few that match.
 */
export function selectIssueColumns(
  db: Kysely<DB>,
  projectUid: string | Expression<string>,
  { searching = false } = {},
) {
  const issues = db.selectFrom("issues").selectAll("issues");
  return searching
    ? issues.where(sql<SqlBool>`issues.project_uid::text = ${projectUid}::text`)
    : issues.where("issues.project_uid", "=", projectUid);
}

/** Issues of one project with their label keys, in one query. */
export function selectIssues(
  db: Kysely<DB>,
  projectUid: string | Expression<string>,
  options: { searching?: boolean } = {},
) {
  return selectIssueColumns(db, projectUid, options).select([labelKeys, parentNumber]);
}

/**
 * One issue by project key and number, with the caller's role in its
 * project (null for a non-member): GetIssue's access check and read in one
 * round trip.
 */
export function selectIssueWithCallerRole(
  db: Kysely<DB>,
  callerUid: string,
  projectKey: string,
  number: string,
) {
  return db
    .selectFrom("issues")
    .innerJoin("projects", "projects.uid", "issues.project_uid")
    .leftJoin("members", (join) =>
      join.onRef("members.project_uid", "=", "issues.project_uid").on("members.user_uid", "=", callerUid),
    )
    .selectAll("issues")
    .select([labelKeys, parentNumber])
    .select("members.role as caller_role")
    .where("projects.key", "=", projectKey)
    .where("issues.number", "=", number);
}

/**
 * selectIssueWithCallerRole built and compiled by Kysely once: each call
 * binds only its values. GetIssue is the hottest read, and building its query
 * was a tenth of its server time (the bench's ablation table, d2fb982).
 */
export function compiledIssueWithCallerRole(db: Kysely<DB>) {
  const placeholders = ["$CALLER_UID", "$PROJECT_KEY", "$NUMBER"] as const;
  const compiled = selectIssueWithCallerRole(db, ...placeholders).compile();
  const positions = placeholders.map((placeholder) => {
    const at = compiled.parameters.indexOf(placeholder);
    if (at < 0 || compiled.parameters.lastIndexOf(placeholder) !== at) {
      throw new Error(`${placeholder} is not bound exactly once in GetIssue's query`);
    }
    return at;
  });
  return (callerUid: string, projectKey: string, number: string): typeof compiled => {
    const parameters = [...compiled.parameters];
    [callerUid, projectKey, number].forEach((value, i) => {
      parameters[positions[i] as number] = value;
    });
    return { ...compiled, parameters };
  };
}

export type IssueSortField = "number" | "create_time" | "update_time" | "priority" | "sub_issue_order";

/** Issues picked from one project, as `selectIssues` starts them. */
type IssueSelect = SelectQueryBuilder<DB, "issues", IssueRow>;
/** The same without their labels, as `selectIssueColumns` starts them. */
export type IssueColumnsSelect = SelectQueryBuilder<DB, "issues", Selectable<Issues>>;

/**
 * The issues `select` picks of the project `requested` (given its uid), by
 * `order`'s field then number if given, with the access check in the same
 * query: one round trip, as for GetIssue. `select` runs only for a member,
 * so a non-member's request reads the project and its membership and
 * nothing else; a non-member or a missing project is NOT_FOUND (`requested`).
 */
export async function selectIssuesAsReader(
  db: Kysely<DB>,
  caller: Caller,
  requested: string,
  select: (projectUid: Expression<string>) => IssueSelect,
  order?: { field: IssueSortField; descending: boolean },
): Promise<IssueRow[]> {
  const direction = order?.descending ? "desc" : "asc";
  // The order inside serves the index and the limit; the one outside is what
  // SQL promises the rows come back in.
  const keys = (table: "issues" | "issue") =>
    (!order ? [] : order.field === "number" ? ["number"] : [order.field, "number"]).map((column) =>
      sql.ref(`${table}.${column}`),
    );
  let issues = select(sql.ref("access.uid")).where(sql<SqlBool>`access.caller_role IS NOT NULL`);
  for (const key of keys("issues")) issues = issues.orderBy(key, direction);
  // An ordered read is a page (ListIssues): it ends by bytes too. An
  // unordered one is a batch (BatchGetIssues), all or nothing: too large, it
  // fetches one row, to tell. Labels count as the longest name one can have.
  const orderList = sql.join(keys("issues").map((key) => sql`${key} ${sql.raw(direction)}`));
  // Typed as the issues alone: the columns added only bound what is fetched.
  const bounded = (order
    ? issues.select(pageBytes(issueBytes, orderList))
    : issues.select([
        sql<string>`sum(${issueBytes}) OVER ()`.as("batch_bytes"),
        sql<string>`count(*) OVER ()`.as("batch_rows"),
        sql<string>`row_number() OVER ()`.as("batch_place"),
      ])) as unknown as typeof issues;
  let query = withProjectAccess(db, caller, requested)
    .selectFrom("access")
    .leftJoinLateral(bounded.as("issue"), (join) =>
      join.on(
        order
          ? withinPageBytes("issue")
          : sql<SqlBool>`(issue.batch_bytes <= ${PAGE_BYTES} OR issue.batch_place = 1)`,
      ),
    )
    .selectAll("issue")
    .select("access.caller_role");
  for (const key of keys("issue")) query = query.orderBy(key, direction);
  const rows = await query.execute();
  assertReader(rows[0], requested);
  const batch = rows[0] as { batch_bytes?: string | null; batch_rows?: string | null };
  if (Number(batch.batch_bytes ?? 0) > PAGE_BYTES && Number(batch.batch_rows) > 1) {
    throw new DomainError(
      "resource_exhausted",
      "RESPONSE_TOO_LARGE",
      `the ${batch.batch_rows} issues asked for hold ${batch.batch_bytes} bytes of text, more than the ${PAGE_BYTES} one response may; ask for fewer names`,
      { limit: String(PAGE_BYTES) },
    );
  }
  // A member's request with no issue to show is one row of nulls.
  return rows.filter((row): row is typeof row & IssueRow => row.uid !== null);
}

/** An issue read across projects, with the key of its own project. */
export type IssueRowWithProject = IssueRow & { project_key: string };

/**
 * The issues `select` picks in each project the caller can read
 * (withReadableProjects: `projects/-`), merged in `order` with ties broken by
 * project key, then number, and ending by bytes as a page does. `select` is
 * given each project's `uid` and `key` and should leave at most its `limit`
 * rows after the cursor; it runs once per project, along that project's
 * (project_uid, field, number) index, so a caller in few projects costs few
 * short index scans whatever the others hold. Labels are read for the merged
 * rows only.
 */
export async function selectIssuesAcrossProjects(
  db: Kysely<DB>,
  caller: Caller,
  projects: { showDeleted: boolean; keys?: string[] },
  select: (project: { uid: Expression<string>; key: Expression<string> }) => IssueColumnsSelect,
  order: { field: IssueSortField; descending: boolean },
  limit: number,
): Promise<IssueRowWithProject[]> {
  const direction = order.descending ? "desc" : "asc";
  const orderIn = (table: string, projectKey = `${table}.project_key`) =>
    sql.join(
      [`${table}.${order.field}`, projectKey, `${table}.number`].map(
        (column) => sql`${sql.ref(column)} ${sql.raw(direction)}`,
      ),
    );
  let perProject = select({ uid: sql.ref("access.uid"), key: sql.ref("access.key") });
  for (const column of order.field === "number" ? ["number"] : [order.field, "number"]) {
    perProject = perProject.orderBy(sql.ref(`issues.${column}`), direction);
  }
  const merged = withReadableProjects(db, caller, projects)
    .selectFrom("access")
    .innerJoinLateral(perProject.as("issue"), (join) => join.onTrue())
    .selectAll("issue")
    .select("access.key as project_key")
    .orderBy(sql`${orderIn("issue", "access.key")}`)
    .limit(limit);
  // Named `issues`, the merged rows take labelKeys and the byte count as one
  // project's do.
  const windowed = db
    .selectFrom(merged.as("issues"))
    .selectAll("issues")
    .select([labelKeys, parentNumber])
    .select(pageBytes(issueBytes, orderIn("issues")));
  const rows = await db
    .selectFrom(windowed.as("page"))
    .selectAll("page")
    .where(withinPageBytes("page"))
    .orderBy(sql`${orderIn("page")}`)
    .execute();
  return rows as unknown as IssueRowWithProject[];
}

export async function findIssue(db: Kysely<DB>, projectUid: string, name: string): Promise<IssueRow> {
  const row = await selectIssues(db, projectUid).where("number", "=", issueNumberOf(name)).executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/** The issue as stored now, in the API's shape. */
export async function readIssue(
  db: Kysely<DB>,
  project: { uid: string; key: string },
  name: string,
): Promise<Issue> {
  return toIssue(await findIssue(db, project.uid, name), project.key);
}

/**
 * The issues `names` of the project `parent`, in the order asked, all or
 * nothing (AIP-231): a name of another project is INVALID_ARGUMENT, one that
 * does not exist NOT_FOUND.
 */
export async function readIssuesNamed(
  db: Kysely<DB>,
  caller: Caller,
  parent: string,
  names: string[],
): Promise<Issue[]> {
  const key = projectKeyOf(parent);
  const rows = await readingAsReader(db, caller, parent, () => {
    const numbers = issueNumbersIn(key, parent, names);
    return selectIssuesAsReader(db, caller, parent, (projectUid) =>
      selectIssues(db, projectUid).where("number", "in", numbers),
    );
  });
  const byNumber = new Map(rows.map((row) => [row.number, row]));
  return names.map((name) => {
    const row = byNumber.get(issueNumberOf(name));
    if (!row) throw notFound(name);
    return toIssue(row, key);
  });
}

/** Soft-deletes (`deleted`) or restores the locked issue `uid`, as its next revision. */
export async function setIssueDeleted(
  tx: Transaction<DB>,
  uid: string,
  deleted: boolean,
  revision: NewRevision,
): Promise<void> {
  await tx
    .updateTable("issues")
    .set((eb) => ({ delete_time: deleted ? eb.fn("now") : null, ...revision }))
    .where("uid", "=", uid)
    .execute();
}

/** Records a new revision of the locked issue `uid` (its fields were written before). */
export async function bumpIssue(tx: Transaction<DB>, uid: string, revision: NewRevision): Promise<void> {
  await tx.updateTable("issues").set(revision).where("uid", "=", uid).execute();
}

/**
 * The issue locked for a change; its project must be locked first (see
 * lockProjectFor). NO KEY UPDATE, the lock an UPDATE of its columns takes
 * (its uid never changes): it still orders the issue's writers, but lets
 * another project's writer reference the issue meanwhile (a relation to it,
 * whose foreign key share-locks its key). FOR UPDATE would make two
 * projects relating their issues to each other at once a deadlock.
 */
export async function lockIssue(tx: Transaction<DB>, projectUid: string, name: string): Promise<IssueRow> {
  const row = await selectIssues(tx, projectUid)
    .where("number", "=", issueNumberOf(name))
    .forNoKeyUpdate("issues")
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/**
 * The assignee's uid, who must be a member of the project (anyone else is
 * NOT_FOUND, so user ids cannot be probed); null for "" (unassigned).
 */
export async function resolveAssignee(
  tx: Transaction<DB>,
  projectUid: string,
  assignee: string,
  caller: Caller,
): Promise<string | null> {
  if (assignee === "") return null;
  const member = await tx
    .selectFrom("members")
    .select("user_uid")
    .where("project_uid", "=", projectUid)
    .where("user_uid", "=", userUidOf(resolveUserName(assignee, caller)))
    .executeTakeFirst();
  if (!member) throw notFound(assignee);
  return member.user_uid;
}

/** The uids of labels named for an issue of `projectKey`; each must exist in that project. */
export async function resolveLabels(
  tx: Transaction<DB>,
  projectUid: string,
  projectKey: string,
  names: string[],
): Promise<string[]> {
  if (names.length === 0) return [];
  for (const name of names) {
    if (projectKeyOf(name) !== projectKey) {
      throw invalidArgument("issue.labels", `${name} belongs to another project`, "LABEL_OF_OTHER_PROJECT");
    }
  }
  const keys = names.map(lastSegmentOf);
  const rows = await tx
    .selectFrom("labels")
    .select(["uid", "key"])
    .where("project_uid", "=", projectUid)
    .where("key", "in", keys)
    .execute();
  const uidByKey = new Map(rows.map((row) => [row.key, row.uid]));
  return keys.map((key) => {
    const uid = uidByKey.get(key);
    if (!uid) throw notFound(labelName(projectKey, key));
    return uid;
  });
}

/** The project's next issue number, from its locked row: gapless, never reused. */
export async function takeIssueNumber(tx: Transaction<DB>, projectUid: string): Promise<string> {
  const { last_issue_number: number } = await tx
    .updateTable("projects")
    .set((eb) => ({ last_issue_number: eb("last_issue_number", "+", "1") }))
    .where("uid", "=", projectUid)
    .returning("last_issue_number")
    .executeTakeFirstOrThrow();
  return number;
}

/** An issue of its project, as issue_labels rows name it. */
type IssueKey = { project_uid: string; uid: string };

/** Replaces an issue's labels with `labelUids` (labels of its project). */
export async function setIssueLabels(
  tx: Transaction<DB>,
  issue: IssueKey,
  labelUids: string[],
): Promise<void> {
  await tx.deleteFrom("issue_labels").where("issue_uid", "=", issue.uid).execute();
  await addIssueLabels(tx, issue, labelUids);
}

/** Puts labels of its project on an issue that does not carry them yet. */
export async function addIssueLabels(
  tx: Transaction<DB>,
  issue: IssueKey,
  labelUids: string[],
): Promise<void> {
  if (labelUids.length === 0) return;
  await tx
    .insertInto("issue_labels")
    .values(
      labelUids.map((label_uid) => ({ project_uid: issue.project_uid, issue_uid: issue.uid, label_uid })),
    )
    .execute();
}
