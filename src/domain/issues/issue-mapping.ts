import { create, toJson } from "@bufbuild/protobuf";
import type { Selectable } from "kysely";
import type {
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
import { etagOf } from "../shared/etag.js";
import type { FieldChange } from "../shared/issue-events.js";
import { issueName, labelName, userName } from "../shared/names.js";
import { timestampFromPg } from "../shared/timestamps.js";

/** An issue row with the keys of its labels, sorted, and its parent's number. */
export type IssueRow = Selectable<Issues> & { label_keys: string[]; parent_number: string | null };

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
    parent: row.parent_number === null ? "" : issueName(projectKey, row.parent_number),
    subIssueOrder: row.sub_issue_order ?? undefined,
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
  parent: string | null;
  sub_issue_order: number | null;
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
    parent: issue.parent === "" ? null : issue.parent,
    sub_issue_order: issue.subIssueOrder ?? null,
  };
}

/** The history holds the field's JSON value: an RFC 3339 time, or null. */
const deleteTimeOf = (issue: Issue) =>
  (toJson(IssueSchema, issue) as { deleteTime?: string }).deleteTime ?? null;

/** What DeleteIssue and UndeleteIssue change, as the history records it. */
export const deletionChanges = (before: Issue, after: Issue): FieldChange[] => [
  { field: "delete_time", old: deleteTimeOf(before), new: deleteTimeOf(after) },
];
