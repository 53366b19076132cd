import type { Transaction } from "kysely";
import type { DB } from "../../../gen/db.js";
import { type Issue, Issue_Priority as Priority } from "../../../gen/proto/tracker/v1/issue_pb.js";
import { required } from "../errors.js";
import type { Caller } from "../shared/caller.js";
import { dbPriority, type IssueRow } from "./issue-mapping.js";
import { nextStateOf } from "./issue-rules.js";
import {
  addIssueLabels,
  resolveAssignee,
  resolveLabels,
  setIssueLabels,
  takeIssueNumber,
} from "./issue-store.js";

// The writes of CreateIssue and UpdateIssue, with the contract's rules. The
// project row is locked by the caller (the unit of work), so numbers are gapless.

type Draft = Partial<
  Pick<Issue, "title" | "body" | "state" | "closeReason" | "priority" | "assignee" | "labels">
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
    }))
    .returning("uid")
    .executeTakeFirstOrThrow();
  await addIssueLabels(tx, uid, labelUids);
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
    }))
    .where("uid", "=", row.uid)
    .execute();
  if (labelUids) await setIssueLabels(tx, row.uid, labelUids);
}
