import { type Kysely, sql, type Transaction } from "kysely";
import type { DB } from "../../../gen/db.js";
import { notFound } from "../errors.js";
import type { IssueRow } from "../issues/issue-mapping.js";
import { selectIssues } from "../issues/issue-store.js";
import type { NewRevision } from "../shared/etag.js";
import { diffFields, type FieldChange } from "../shared/issue-events.js";
import { labelName, lastSegmentOf } from "../shared/names.js";
import { pageBytes, pageOf, withinPageBytes } from "../shared/pagination.js";
import type { ProjectRow } from "../shared/projects.js";
import type { LabelRow } from "./label-mapping.js";

/** The label `name` of a project (live or deleted); NOT_FOUND when there is none. */
export async function findLabel(db: Kysely<DB>, project: ProjectRow, name: string): Promise<LabelRow> {
  const row = await db
    .selectFrom("labels")
    .selectAll()
    .where("project_uid", "=", project.uid)
    .where("key", "=", lastSegmentOf(name))
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/** The label `name` of a project the transaction holds locked (lockProjectFor), locked for a change. */
export async function lockLabel(tx: Transaction<DB>, project: ProjectRow, name: string): Promise<LabelRow> {
  const row = await tx
    .selectFrom("labels")
    .selectAll()
    .where("project_uid", "=", project.uid)
    .where("key", "=", lastSegmentOf(name))
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/** A new label of the project. */
export function insertLabel(
  tx: Transaction<DB>,
  projectUid: string,
  fields: Pick<LabelRow, "key" | "display_name" | "description" | "color">,
): Promise<LabelRow> {
  return tx
    .insertInto("labels")
    .values({ project_uid: projectUid, ...fields })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Writes `changes` to the locked label `uid`, as its next revision. */
export function writeLabel(
  tx: Transaction<DB>,
  uid: string,
  changes: Partial<Pick<LabelRow, "display_name" | "description" | "color">>,
  revision: NewRevision,
): Promise<LabelRow> {
  return tx
    .updateTable("labels")
    .set({ ...changes, ...revision })
    .where("uid", "=", uid)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Takes a label off every issue that carries it, as if each issue had been
 * updated: a new revision and update_time, and an `issue_updated` event with
 * the issue's label names before and after. Call it before deleting the
 * label, while the issue_labels rows that the delete cascades to still exist.
 * `event` appends to the history (the unit of work's, which knows the actor).
 */
export async function takeOffIssues(
  tx: Transaction<DB>,
  project: ProjectRow,
  label: LabelRow,
  event: (issue: IssueRow, kind: "issue_updated", detail: { changes: FieldChange[] }) => Promise<unknown>,
): Promise<void> {
  // Soft-deleted issues lose the label too, so their history says so. The
  // issues' own query gives their labels in the order the API shows them.
  const carriers = await selectIssues(tx, project.uid)
    .where("issues.uid", "in", (eb) =>
      eb.selectFrom("issue_labels").select("issue_uid").where("label_uid", "=", label.uid),
    )
    .orderBy("issues.number")
    // As lockIssue: the lock an update takes, which relations from other projects do not wait for.
    .forNoKeyUpdate("issues")
    .execute();
  if (carriers.length === 0) return;

  await tx
    .updateTable("issues")
    .set((eb) => ({ revision: eb("revision", "+", 1), update_time: eb.fn("now") }))
    .where(
      "uid",
      "in",
      carriers.map((issue) => issue.uid),
    )
    .execute();

  const removed = labelName(project.key, label.key);
  for (const issue of carriers) {
    const before = issue.label_keys.map((key) => labelName(project.key, key));
    const after = before.filter((name) => name !== removed);
    await event(issue, "issue_updated", { changes: diffFields({ labels: before }, { labels: after }) });
  }
}

const isKey = (value: unknown): value is string => typeof value === "string";

/** Deletes the locked label `uid`; its issue_labels rows go with it (ON DELETE CASCADE). */
export async function deleteLabelRow(tx: Transaction<DB>, uid: string): Promise<void> {
  await tx.deleteFrom("labels").where("uid", "=", uid).execute();
}

/** A page of a project's labels, by key. */
export function pageOfLabels(
  db: Kysely<DB>,
  projectUid: string,
  request: { parent: string; pageSize: number; pageToken: string },
) {
  const query = { method: "ListLabels", parent: request.parent };
  const keyset = { isCursor: isKey, cursorOf: (row: LabelRow) => row.key };
  return pageOf(request, query, keyset, (limit, after) => {
    let select = db
      .selectFrom("labels")
      .selectAll()
      .select(pageBytes(sql`octet_length(description)`, sql`key`))
      .where("project_uid", "=", projectUid)
      .orderBy("key")
      .limit(limit);
    if (after !== undefined) select = select.where("key", ">", after);
    return db
      .selectFrom(select.as("label"))
      .selectAll()
      .where(withinPageBytes("label"))
      .orderBy("label.page_place")
      .execute();
  });
}
