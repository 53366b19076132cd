import type { Transaction } from "kysely";
import { sql } from "kysely";
import type { DB, IssueEventKind, Json } from "../../../gen/db.js";

/** A field's old and new value in the API's JSON form. */
export interface FieldChange {
  field: string;
  old: Json;
  new: Json;
}

/** The channel every committed issue event is announced on (payload: project uid). */
export const ISSUE_EVENTS_CHANNEL = "tracker_issue_events";

/**
 * Appends an event to the project's history in the caller's transaction and
 * announces it on commit (NOTIFY is transactional), so watchers in every
 * server process learn of it exactly when it becomes visible. The sequence
 * comes from the project row, which the transaction holds locked.
 */
export async function appendIssueEvent(
  tx: Transaction<DB>,
  event: {
    projectUid: string;
    issueUid: string;
    issueNumber: string;
    actorUid: string;
    kind: IssueEventKind;
    changes?: FieldChange[];
    commentUid?: string;
    relationUid?: string;
  },
): Promise<string> {
  const { last_event_sequence: sequence } = await tx
    .updateTable("projects")
    .set((eb) => ({ last_event_sequence: eb("last_event_sequence", "+", "1") }))
    .where("uid", "=", event.projectUid)
    .returning("last_event_sequence")
    .executeTakeFirstOrThrow();
  const changes = JSON.stringify(event.changes ?? []);
  await tx
    .insertInto("issue_events")
    .values({
      project_uid: event.projectUid,
      sequence,
      issue_uid: event.issueUid,
      issue_number: event.issueNumber,
      actor_uid: event.actorUid,
      kind: event.kind,
      changes,
      changes_bytes: Buffer.byteLength(changes),
      comment_uid: event.commentUid ?? null,
      relation_uid: event.relationUid ?? null,
    })
    .execute();
  await sql`SELECT pg_notify(${ISSUE_EVENTS_CHANNEL}, ${event.projectUid})`.execute(tx);
  return sequence;
}

/** The changes between two snapshots of the same fields (only those that differ). */
export function diffFields(before: Record<string, Json>, after: Record<string, Json>): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of Object.keys(after)) {
    const old = before[field] ?? null;
    const next = after[field] ?? null;
    if (JSON.stringify(old) !== JSON.stringify(next)) changes.push({ field, old, new: next });
  }
  return changes;
}
