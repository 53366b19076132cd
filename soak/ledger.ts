import type { Issue } from "../gen/proto/tracker/v1/issue_pb.js";
import { snapshotOf } from "../src/domain/issues/issue-mapping.js";

// The client side of the soak's bookkeeping: what every client was told.
// A mutation is acknowledged when its client got the response; it is in
// doubt when every attempt ended without a definite answer (the connection
// dropped, the server or the database went away mid-call), so it may or may
// not have been applied, but at most once. check.ts holds the database to it.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The fields of an issue its history records, in the history's JSON form. */
export const HISTORY_FIELDS = [
  "title",
  "body",
  "state",
  "close_reason",
  "priority",
  "assignee",
  "labels",
] as const;

export type Fields = Record<(typeof HISTORY_FIELDS)[number], Json>;

/** One version of an issue: its fields and whether it is deleted. */
export interface Version {
  fields: Fields;
  deleted: boolean;
}

export type MutationKind = "update" | "delete" | "undelete";

/** An UpdateIssue, DeleteIssue or UndeleteIssue (all guarded by the etag read before). */
export type IssueMutation = {
  kind: MutationKind;
  /** The x-request-id of every attempt, which the audit log records. */
  mutationId: string;
  issue: string;
  client: string;
} & (
  | { outcome: "acknowledged"; etag: number; after: Version }
  | { outcome: "in-doubt"; etagBefore: number; intended: Version }
);

/** A CreateIssue or CreateComment, by its request_id (also its x-request-id). */
export interface CreateRecord {
  requestId: string;
  client: string;
  parent: string;
  acknowledged?: { name: string; uid: string; after?: Version; body?: string };
}

export class Ledger {
  readonly issueCreates = new Map<string, CreateRecord>();
  readonly commentCreates = new Map<string, CreateRecord>();
  readonly mutations: IssueMutation[] = [];

  beginCreate(kind: "issue" | "comment", requestId: string, client: string, parent: string): void {
    const records = kind === "issue" ? this.issueCreates : this.commentCreates;
    records.set(requestId, { requestId, client, parent });
  }

  acknowledgeCreate(
    kind: "issue" | "comment",
    requestId: string,
    acknowledged: NonNullable<CreateRecord["acknowledged"]>,
  ): void {
    const record = (kind === "issue" ? this.issueCreates : this.commentCreates).get(requestId);
    if (!record) throw new Error(`create ${requestId} was never begun`);
    record.acknowledged = acknowledged;
  }

  record(mutation: IssueMutation): void {
    this.mutations.push(mutation);
  }

  get acknowledged() {
    const count = (records: Map<string, CreateRecord>) =>
      [...records.values()].filter((record) => record.acknowledged).length;
    const mutations = this.mutations.filter((m) => m.outcome === "acknowledged");
    return {
      issues: count(this.issueCreates),
      comments: count(this.commentCreates),
      updates: mutations.filter((m) => m.kind === "update").length,
      deletes: mutations.filter((m) => m.kind !== "update").length,
    };
  }
}

/** The marker every created issue and comment carries in its body: its request_id. */
export const markerOf = (requestId: string) => `[rid:${requestId}]`;
const MARKER = /\[rid:([0-9a-f-]{36})\]/;
export const requestIdIn = (body: Json): string | undefined =>
  typeof body === "string" ? MARKER.exec(body)?.[1] : undefined;

/** An API issue as a version, in the history's JSON form. */
export function versionOf(issue: Issue): Version {
  return {
    fields: snapshotOf(issue),
    deleted: issue.deleteTime !== undefined,
  };
}

/** Equal versions; labels compare as sets. */
export function sameVersion(a: Version, b: Version): boolean {
  return a.deleted === b.deleted && canonical(a.fields) === canonical(b.fields);
}

export function canonical(fields: Fields): string {
  const labels = Array.isArray(fields.labels) ? [...fields.labels].map(String).sort() : fields.labels;
  return JSON.stringify(HISTORY_FIELDS.map((field) => (field === "labels" ? labels : fields[field])));
}
