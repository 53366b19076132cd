import type { Transaction } from "kysely";
import type { DB } from "../../../gen/db.js";
import { type Issue, Issue_Priority as Priority } from "../../../gen/proto/tracker/v1/issue_pb.js";
import { required } from "../errors.js";
import type { Caller } from "../shared/caller.js";
import { issueName } from "../shared/names.js";
import { dbPriority, type IssueRow } from "./issue-mapping.js";
import { nextStateOf } from "./issue-rules.js";
import {
  addIssueLabels,
  resolveAssignee,
  resolveLabels,
  setIssueLabels,
  takeIssueNumber,
} from "./issue-store.js";
import { placeUnder } from "./sub-issues.js";

// The writes of CreateIssue and UpdateIssue, with the contract's rules. The
// project row is locked by the caller (the unit of work), so numbers are gapless.

type Draft = Partial<
  Pick<
    Issue,
    | "title"
    | "body"
    | "state"
    | "closeReason"
    | "priority"
    | "assignee"
    | "labels"
    | "parent"
    | "subIssueOrder"
  >
>;
type Project = { uid: string; key: string };

/** Inserts a new issue reported by the caller, with its labels. */
export async function insertIssue(
  tx: Transaction<DB>,
  project: Project,
  caller: Caller,
  draft: Draft | undefined,
): Promise<{ uid: string; number: string }> {
  const state = nextStateOf(
    { state: "open", close_reason: null, close_time: null },
    { state: draft?.state, closeReason: draft?.closeReason },
  );
  const assigneeUid = await resolveAssignee(tx, project.uid, draft?.assignee ?? "", caller);
  const labelUids = await resolveLabels(tx, project.uid, project.key, draft?.labels ?? []);
  const placement = await placeUnder(tx, project, draft?.parent ?? "", draft?.subIssueOrder);
  const number = await takeIssueNumber(tx, project.uid);
  const { uid } = await tx
    .insertInto("issues")
    .values((eb) => ({
      project_uid: project.uid,
      number,
      title: required(draft?.title, "issue.title"),
      body: draft?.body ?? "",
      state: state.state,
      close_reason: state.close_reason,
      close_time: state.state === "closed" ? eb.fn("now") : null,
      priority: dbPriority(draft?.priority ?? Priority.UNSPECIFIED) ?? "none",
      reporter_uid: caller.userUid,
      assignee_uid: assigneeUid,
      ...placement,
    }))
    .returning("uid")
    .executeTakeFirstOrThrow();
  await addIssueLabels(tx, { project_uid: project.uid, uid }, labelUids);
  return { uid, number };
}

/** The fields UpdateIssue may change, by their names in the contract. */
export const WRITABLE_ISSUE_FIELDS = [
  "title",
  "body",
  "state",
  "close_reason",
  "priority",
  "assignee",
  "labels",
  "parent",
  "sub_issue_order",
] as const;
type WritableField = (typeof WRITABLE_ISSUE_FIELDS)[number];

/** Writes the `fields` of `draft` to the locked issue `row` (its revision is the caller's to bump). */
export async function updateIssueFields(
  tx: Transaction<DB>,
  project: Project,
  row: IssueRow,
  draft: Draft | undefined,
  fields: Set<WritableField>,
  caller: Caller,
): Promise<void> {
  const state = nextStateOf(row, {
    state: fields.has("state") ? draft?.state : undefined,
    closeReason: fields.has("close_reason") ? draft?.closeReason : undefined,
  });
  const priority =
    fields.has("priority") && draft?.priority !== Priority.UNSPECIFIED
      ? dbPriority(draft?.priority ?? 0)
      : undefined;
  const assigneeUid = fields.has("assignee")
    ? await resolveAssignee(tx, project.uid, draft?.assignee ?? "", caller)
    : row.assignee_uid;
  const labelUids = fields.has("labels")
    ? await resolveLabels(tx, project.uid, project.key, draft?.labels ?? [])
    : undefined;
  const placement = await placementAfter(tx, project, row, draft, fields);
  await tx
    .updateTable("issues")
    .set((eb) => ({
      title: fields.has("title") ? required(draft?.title, "issue.title") : row.title,
      body: fields.has("body") ? (draft?.body ?? "") : row.body,
      state: state.state,
      close_reason: state.close_reason,
      close_time: state.state !== "closed" ? null : state.closing ? eb.fn("now") : row.close_time,
      priority: priority ?? row.priority,
      assignee_uid: assigneeUid,
      ...placement,
    }))
    .where("uid", "=", row.uid)
    .execute();
  if (labelUids) await setIssueLabels(tx, row, labelUids);
}

/**
 * Where the update puts the issue: unchanged unless `parent` or
 * `sub_issue_order` is in the mask. A new parent without an order puts it
 * last among that parent's sub-issues; the same parent keeps its place.
 */
async function placementAfter(
  tx: Transaction<DB>,
  project: Project,
  row: IssueRow,
  draft: Draft | undefined,
  fields: Set<WritableField>,
) {
  if (!fields.has("parent") && !fields.has("sub_issue_order")) return undefined;
  const currentParent = row.parent_number === null ? "" : issueName(project.key, row.parent_number);
  const parent = fields.has("parent") ? (draft?.parent ?? "") : currentParent;
  const order = fields.has("sub_issue_order")
    ? draft?.subIssueOrder
    : parent === currentParent
      ? (row.sub_issue_order ?? undefined)
      : undefined;
  // Staying put checks nothing: the issue may stay under a parent since deleted.
  if (parent === currentParent && order === (row.sub_issue_order ?? undefined)) return undefined;
  return placeUnder(tx, project, parent, order, row);
}
