import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { type Kysely, type Selectable, sql, type Transaction } from "kysely";
import type {
  DB,
  CloseReason as DbCloseReason,
  IssuePriority,
  IssueState,
  Issues,
  Json,
} from "../../../gen/db.js";
import {
  Issue_CloseReason as CloseReason,
  type Issue,
  IssueSchema,
  Issue_Priority as Priority,
  Issue_State as State,
} from "../../../gen/proto/tracker/v1/issue_pb.js";
import { apiError, invalidArgument, notFound } from "../../shared/errors.js";
import { etagOf } from "../../shared/etag.js";
import {
  issueName,
  issueNumberOf,
  labelName,
  lastSegmentOf,
  projectKeyOf,
  userName,
  userUidOf,
} from "../../shared/names.js";
import { timestampFromPg } from "../../shared/timestamps.js";

/** An issue row with the keys of its labels, sorted. */
export type IssueRow = Selectable<Issues> & { label_keys: string[] };

// The API's enums and the database's, both ways. The database names are the
// API names without their prefix, in lower case.
const STATES: Record<IssueState, State> = {
  open: State.OPEN,
  in_progress: State.IN_PROGRESS,
  closed: State.CLOSED,
};
const REASONS: Record<DbCloseReason, CloseReason> = {
  completed: CloseReason.COMPLETED,
  not_planned: CloseReason.NOT_PLANNED,
  duplicate: CloseReason.DUPLICATE,
};
const PRIORITIES: Record<IssuePriority, Priority> = {
  none: Priority.NONE,
  urgent: Priority.URGENT,
  high: Priority.HIGH,
  medium: Priority.MEDIUM,
  low: Priority.LOW,
};
const invert = <K extends string, V extends number>(map: Record<K, V>) =>
  new Map(Object.entries(map).map(([key, value]) => [value as V, key as K]));
const STATE_OF = invert(STATES);
const REASON_OF = invert(REASONS);
const PRIORITY_OF = invert(PRIORITIES);

export const dbState = (state: State) => STATE_OF.get(state);
export const dbCloseReason = (reason: CloseReason) => REASON_OF.get(reason) ?? null;
export const dbPriority = (priority: Priority) => PRIORITY_OF.get(priority);

/** An issue's label keys, sorted, in the same query as the issue (no N+1). */
const labelKeys = sql<
  string[]
>`coalesce((SELECT array_agg(l.key ORDER BY l.key) FROM issue_labels il JOIN labels l ON l.uid = il.label_uid WHERE il.issue_uid = issues.uid), '{}')`.as(
  "label_keys",
);

/** Issues of one project with their label keys, in one query. */
export function selectIssues(db: Kysely<DB>, projectUid: string) {
  return db
    .selectFrom("issues")
    .selectAll("issues")
    .select(labelKeys)
    .where("issues.project_uid", "=", projectUid);
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
    .select(labelKeys)
    .select("members.role as caller_role")
    .where("projects.key", "=", projectKey)
    .where("issues.number", "=", number);
}

export async function findIssue(db: Kysely<DB>, projectUid: string, name: string): Promise<IssueRow> {
  const row = await selectIssues(db, projectUid).where("number", "=", issueNumberOf(name)).executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/** The issue locked for a change; its project must be locked first (see lockProjectFor). */
export async function lockIssue(tx: Transaction<DB>, projectUid: string, name: string): Promise<IssueRow> {
  const row = await selectIssues(tx, projectUid)
    .where("number", "=", issueNumberOf(name))
    .forUpdate("issues")
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

export function toIssue(row: IssueRow, projectKey: string): Issue {
  return create(IssueSchema, {
    name: issueName(projectKey, row.number),
    uid: row.uid,
    number: BigInt(row.number),
    key: `${projectKey}-${row.number}`,
    title: row.title,
    body: row.body,
    state: STATES[row.state],
    closeReason: row.close_reason === null ? CloseReason.UNSPECIFIED : REASONS[row.close_reason],
    closeTime: row.close_time === null ? undefined : timestampFromPg(row.close_time),
    priority: PRIORITIES[row.priority],
    reporter: userName(row.reporter_uid),
    assignee: row.assignee_uid === null ? "" : userName(row.assignee_uid),
    labels: row.label_keys.map((key) => labelName(projectKey, key)),
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    deleteTime: row.delete_time === null ? undefined : timestampFromPg(row.delete_time),
    etag: etagOf(row.revision),
  });
}

/** The fields the history records, in the API's JSON form (enum names, resource names). */
export interface IssueSnapshot extends Record<string, Json> {
  title: string;
  body: string;
  state: string;
  close_reason: string | null;
  priority: string;
  assignee: string | null;
  labels: string[];
}

export function snapshotOf(issue: Issue): IssueSnapshot {
  return {
    title: issue.title,
    body: issue.body,
    state: `STATE_${State[issue.state]}`,
    close_reason:
      issue.closeReason === CloseReason.UNSPECIFIED ? null : `CLOSE_REASON_${CloseReason[issue.closeReason]}`,
    priority: `PRIORITY_${Priority[issue.priority]}`,
    assignee: issue.assignee === "" ? null : issue.assignee,
    labels: issue.labels,
  };
}

/**
 * The assignee's uid, who must be a member of the project (anyone else is
 * NOT_FOUND, so user ids cannot be probed); null for "" (unassigned).
 */
export async function resolveAssignee(
  tx: Transaction<DB>,
  projectUid: string,
  assignee: string,
): Promise<string | null> {
  if (assignee === "") return null;
  const member = await tx
    .selectFrom("members")
    .select("user_uid")
    .where("project_uid", "=", projectUid)
    .where("user_uid", "=", userUidOf(assignee))
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

/**
 * The state an issue ends up in, with the rules of the contract: CLOSED needs
 * a close reason and keeps (or sets) its close time; any other state carries
 * neither.
 */
export function nextStateOf(
  current: { state: IssueState; close_reason: DbCloseReason | null; close_time: string | null },
  requested: { state?: State; closeReason?: CloseReason },
): { state: IssueState; close_reason: DbCloseReason | null; closing: boolean } {
  const state =
    requested.state === undefined || requested.state === State.UNSPECIFIED
      ? current.state
      : dbState(requested.state);
  if (state === undefined) throw invalidArgument("issue.state", "is not a known state");
  const reason =
    requested.closeReason === undefined ? current.close_reason : dbCloseReason(requested.closeReason);
  if (state === "closed") {
    if (reason === null) {
      throw invalidArgument(
        "issue.close_reason",
        "is required when the state is STATE_CLOSED",
        "CLOSE_REASON_REQUIRED",
      );
    }
    return { state, close_reason: reason, closing: current.state !== "closed" };
  }
  if (requested.closeReason !== undefined && requested.closeReason !== CloseReason.UNSPECIFIED) {
    throw invalidArgument(
      "issue.close_reason",
      "is only allowed when the state is STATE_CLOSED",
      "CLOSE_REASON_NOT_ALLOWED",
    );
  }
  return { state, close_reason: null, closing: false };
}

export const issueDeleted = (name: string, deleted: boolean) =>
  apiError(
    Code.FailedPrecondition,
    deleted ? "ISSUE_DELETED" : "ISSUE_NOT_DELETED",
    deleted ? `${name} is deleted; undelete it first` : `${name} is not deleted`,
    { metadata: { resource: name } },
  );
