import {
  canonical,
  type Fields,
  HISTORY_FIELDS,
  type IssueMutation,
  type Json,
  type Ledger,
  requestIdIn,
  sameVersion,
  type Version,
} from "./ledger.js";

// Holds the database to the ledger. Pure: it gets the database as plain rows
// (database-state.ts reads them), so a unit test can plant a lost or doubled row.

export interface DatabaseState {
  projects: Array<{ key: string; lastIssueNumber: number; lastEventSequence: number }>;
  issues: Array<{
    uid: string;
    /** `projects/KEY/issues/N` */
    name: string;
    projectKey: string;
    number: number;
    revision: number;
    version: Version;
  }>;
  /** Every event of every project. */
  events: StoredEvent[];
  comments: Array<{ uid: string; name: string; issueUid: string; body: string }>;
  /** How many audit events each request id has. */
  auditCounts: Map<string, number>;
}

export interface StoredEvent {
  projectKey: string;
  sequence: number;
  issueUid: string;
  /** `projects/KEY/issues/N` */
  issue: string;
  kind: string;
  changes: Array<{ field: string; old: Json; new: Json }>;
  /** The comment's name, or "". */
  comment: string;
}

export type Category = "lost" | "duplicated" | "inconsistent";

export interface CheckResult {
  lost: number;
  duplicated: number;
  inconsistent: number;
  /** The first problems of each kind, for people. */
  problems: string[];
  /** In-doubt mutations (all attempts ended without an answer) the history shows applied / not applied. */
  inDoubt: { applied: number; notApplied: number };
  /** Creates never acknowledged that nevertheless exist (at most once each). */
  unacknowledgedCreatesApplied: number;
}

const KIND_OF: Record<IssueMutation["kind"], string> = {
  update: "issue_updated",
  delete: "issue_deleted",
  undelete: "issue_undeleted",
};

class Findings {
  readonly counts: Record<Category, number> = { lost: 0, duplicated: 0, inconsistent: 0 };
  readonly problems: string[] = [];
  add(category: Category, message: string, count = 1) {
    this.counts[category] += count;
    if (this.problems.length < 50) this.problems.push(`${category}: ${message}`);
  }
}

const EMPTY_FIELDS = Object.fromEntries(HISTORY_FIELDS.map((field) => [field, null])) as Fields;

/** An issue's history replayed: its version after each revision (index = revision). */
interface Replay {
  versions: Array<Version | undefined>;
  kinds: Array<string | undefined>;
}

function replay(issue: DatabaseState["issues"][number], events: StoredEvent[], findings: Findings): Replay {
  const versions: Array<Version | undefined> = [];
  const kinds: Array<string | undefined> = [];
  let current: Version = { fields: { ...EMPTY_FIELDS }, deleted: false };
  let revision = 0;
  const created = events.filter((event) => event.kind === "issue_created").length;
  if (created !== 1) {
    findings.add(
      created === 0 ? "inconsistent" : "duplicated",
      `${issue.name} has ${created} issue_created events`,
    );
  }
  for (const event of events) {
    if (event.kind.startsWith("comment_")) continue;
    const fields = { ...current.fields };
    let deleted = current.deleted;
    if (event.kind === "issue_created" || event.kind === "issue_updated") {
      if ((event.kind === "issue_created") !== (revision === 0)) {
        findings.add("inconsistent", `${issue.name}: ${event.kind} at revision ${revision + 1}`);
      }
      for (const change of event.changes) {
        const field = change.field as keyof Fields;
        if (!HISTORY_FIELDS.includes(field)) continue;
        if (JSON.stringify(change.old) !== JSON.stringify(fields[field])) {
          findings.add(
            "inconsistent",
            `${issue.name} event ${event.sequence}: ${field} was ${JSON.stringify(fields[field])}, the event says ${JSON.stringify(change.old)}`,
          );
        }
        fields[field] = change.new;
      }
    } else if (event.kind === "issue_deleted" || event.kind === "issue_undeleted") {
      if (current.deleted === (event.kind === "issue_deleted")) {
        findings.add("inconsistent", `${issue.name} event ${event.sequence}: ${event.kind} twice in a row`);
      }
      deleted = event.kind === "issue_deleted";
    } else {
      findings.add("inconsistent", `${issue.name} event ${event.sequence}: unknown kind ${event.kind}`);
      continue;
    }
    revision += 1;
    current = { fields, deleted };
    versions[revision] = current;
    kinds[revision] = event.kind;
  }
  if (revision !== issue.revision) {
    findings.add(
      "inconsistent",
      `${issue.name}: revision ${issue.revision}, history has ${revision} versions`,
    );
  }
  if (!sameVersion(current, issue.version)) {
    findings.add(
      "inconsistent",
      `${issue.name}: stored ${describe(issue.version)}, history ends at ${describe(current)}`,
    );
  }
  return { versions, kinds };
}

const describe = (version: Version) =>
  `${canonical(version.fields)}${version.deleted ? " (deleted)" : ""}`.slice(0, 300);

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Finds what is missing, doubled or inconsistent between the ledger and the database. */
export function checkLedger(ledger: Ledger, db: DatabaseState): CheckResult {
  const findings = new Findings();

  // Per project: issue numbers and event sequences 1..last, no gaps, no repeats.
  for (const project of db.projects) {
    const numbers = db.issues.filter((i) => i.projectKey === project.key).map((i) => i.number);
    checkGapless(`projects/${project.key} issue numbers`, numbers, project.lastIssueNumber, findings);
    const sequences = db.events.filter((e) => e.projectKey === project.key).map((e) => e.sequence);
    checkGapless(`projects/${project.key} event sequences`, sequences, project.lastEventSequence, findings);
  }

  // Every issue's history replays to what is stored.
  const eventsByIssue = new Map<string, StoredEvent[]>();
  for (const event of [...db.events].sort((a, b) => a.sequence - b.sequence)) {
    const list = eventsByIssue.get(event.issueUid) ?? [];
    list.push(event);
    eventsByIssue.set(event.issueUid, list);
  }
  const issueByName = new Map(db.issues.map((issue) => [issue.name, issue]));
  const replays = new Map<string, Replay>();
  for (const issue of db.issues)
    replays.set(issue.name, replay(issue, eventsByIssue.get(issue.uid) ?? [], findings));

  // Creates: one issue per request_id, the one acknowledged.
  const issuesByRequest = new Map<string, string[]>();
  for (const issue of db.issues) {
    const created = eventsByIssue.get(issue.uid)?.find((event) => event.kind === "issue_created");
    const requestId = requestIdIn(created?.changes.find((change) => change.field === "body")?.new ?? null);
    if (!requestId || !ledger.issueCreates.has(requestId)) {
      findings.add("inconsistent", `${issue.name} was created by no request of the ledger`);
      continue;
    }
    issuesByRequest.set(requestId, [...(issuesByRequest.get(requestId) ?? []), issue.name]);
  }
  let unacknowledgedCreatesApplied = 0;
  for (const [requestId, record] of ledger.issueCreates) {
    const names = issuesByRequest.get(requestId) ?? [];
    if (names.length > 1)
      findings.add("duplicated", `request ${requestId} created ${names.join(", ")}`, names.length - 1);
    checkAudit(db, requestId, names.length > 0 ? 1 : 0, `CreateIssue ${requestId}`, findings);
    const acknowledged = record.acknowledged;
    if (!acknowledged) {
      if (names.length > 0) unacknowledgedCreatesApplied += 1;
      continue;
    }
    const issue = issueByName.get(acknowledged.name);
    if (!issue || issue.uid !== acknowledged.uid) {
      findings.add(
        "lost",
        `acknowledged ${acknowledged.name} (uid ${acknowledged.uid}, request ${requestId}) is missing`,
      );
      continue;
    }
    const first = replays.get(issue.name)?.versions[1];
    if (acknowledged.after && (!first || !sameVersion(first, acknowledged.after))) {
      findings.add("lost", `${issue.name} was acknowledged as created with ${describe(acknowledged.after)}`);
    }
  }

  // Updates, deletes and undeletes: every acknowledged one is in the history at
  // its etag, and every revision is explained by exactly one mutation.
  const mutationsByIssue = new Map<string, IssueMutation[]>();
  for (const mutation of ledger.mutations) {
    mutationsByIssue.set(mutation.issue, [...(mutationsByIssue.get(mutation.issue) ?? []), mutation]);
  }
  const inDoubt = { applied: 0, notApplied: 0 };
  for (const issue of db.issues) {
    const history = replays.get(issue.name) as Replay;
    const mutations = mutationsByIssue.get(issue.name) ?? [];
    mutationsByIssue.delete(issue.name);
    const acknowledgedAt = new Map<number, IssueMutation>();
    for (const mutation of mutations) {
      if (mutation.outcome !== "acknowledged") continue;
      const version = history.versions[mutation.etag];
      if (acknowledgedAt.has(mutation.etag)) {
        findings.add("lost", `${issue.name}: two acknowledged mutations got etag ${mutation.etag}`);
      } else if (!version || history.kinds[mutation.etag] !== KIND_OF[mutation.kind]) {
        findings.add(
          "lost",
          `${issue.name}: acknowledged ${mutation.kind} (etag ${mutation.etag}) is not in the history`,
        );
      } else if (!sameVersion(version, mutation.after)) {
        findings.add(
          "lost",
          `${issue.name}: acknowledged ${mutation.kind} at etag ${mutation.etag} said ${describe(mutation.after)}, the history ${describe(version)}`,
        );
      }
      acknowledgedAt.set(mutation.etag, mutation);
      checkAudit(db, mutation.mutationId, 1, `${mutation.kind} of ${issue.name}`, findings);
    }
    const doubtful = mutations.filter((m) => m.outcome === "in-doubt");
    const used = new Set<IssueMutation>();
    for (let revision = 2; revision <= issue.revision; revision++) {
      const version = history.versions[revision];
      if (!version || acknowledgedAt.has(revision)) continue;
      const explanation = doubtful.find(
        (m) =>
          m.outcome === "in-doubt" &&
          !used.has(m) &&
          m.etagBefore === revision - 1 &&
          KIND_OF[m.kind] === history.kinds[revision] &&
          sameVersion(m.intended, version),
      );
      if (explanation) used.add(explanation);
      else {
        findings.add(
          "duplicated",
          `${issue.name}: revision ${revision} (${history.kinds[revision]}) was made by no mutation of the ledger`,
        );
      }
    }
    for (const mutation of doubtful) {
      if (used.has(mutation)) inDoubt.applied += 1;
      else inDoubt.notApplied += 1;
      checkAudit(
        db,
        mutation.mutationId,
        used.has(mutation) ? 1 : 0,
        `${mutation.kind} of ${issue.name}`,
        findings,
      );
    }
  }
  for (const [name, mutations] of mutationsByIssue) {
    const acknowledged = mutations.filter((m) => m.outcome === "acknowledged").length;
    if (acknowledged > 0)
      findings.add("lost", `${name} had ${acknowledged} acknowledged mutations and is missing`, acknowledged);
  }

  // Comments: one per request_id, the one acknowledged, each with one creation event.
  const commentsByRequest = new Map<string, Array<DatabaseState["comments"][number]>>();
  for (const comment of db.comments) {
    const requestId = requestIdIn(comment.body);
    if (!requestId || !ledger.commentCreates.has(requestId)) {
      findings.add("inconsistent", `${comment.name} was created by no request of the ledger`);
      continue;
    }
    commentsByRequest.set(requestId, [...(commentsByRequest.get(requestId) ?? []), comment]);
  }
  const createdEvents = new Map<string, number>();
  for (const event of db.events) {
    if (event.kind === "comment_created")
      createdEvents.set(event.comment, (createdEvents.get(event.comment) ?? 0) + 1);
  }
  for (const comment of db.comments) {
    const events = createdEvents.get(comment.name) ?? 0;
    if (events !== 1) {
      findings.add(
        events === 0 ? "inconsistent" : "duplicated",
        `${comment.name} has ${events} comment_created events`,
      );
    }
  }
  for (const [requestId, record] of ledger.commentCreates) {
    const comments = commentsByRequest.get(requestId) ?? [];
    if (comments.length > 1) {
      findings.add(
        "duplicated",
        `request ${requestId} created ${comments.map((c) => c.name).join(", ")}`,
        comments.length - 1,
      );
    }
    checkAudit(db, requestId, comments.length > 0 ? 1 : 0, `CreateComment ${requestId}`, findings);
    const acknowledged = record.acknowledged;
    if (!acknowledged) {
      if (comments.length > 0) unacknowledgedCreatesApplied += 1;
      continue;
    }
    const comment = comments.find((c) => c.name === acknowledged.name && c.uid === acknowledged.uid);
    if (!comment || comment.body !== acknowledged.body) {
      findings.add("lost", `acknowledged comment ${acknowledged.name} (request ${requestId}) is missing`);
    }
  }

  return { ...findings.counts, problems: findings.problems, inDoubt, unacknowledgedCreatesApplied };
}

function checkGapless(what: string, values: number[], last: number, findings: Findings) {
  const seen = new Set<number>();
  for (const value of values) {
    if (seen.has(value)) findings.add("duplicated", `${what}: ${value} twice`);
    seen.add(value);
  }
  const missing = range(last).filter((n) => !seen.has(n));
  if (missing.length > 0) findings.add("inconsistent", `${what}: gaps at ${missing.slice(0, 10).join(", ")}`);
  const beyond = values.filter((n) => n < 1 || n > last);
  if (beyond.length > 0)
    findings.add("inconsistent", `${what}: ${beyond.slice(0, 10).join(", ")} outside 1..${last}`);
}

/** A change writes one audit event in its own transaction: none if it never happened, never two. */
function checkAudit(
  db: DatabaseState,
  requestId: string,
  expected: number,
  what: string,
  findings: Findings,
) {
  const count = db.auditCounts.get(requestId) ?? 0;
  if (count === expected) return;
  findings.add(
    count > expected ? "duplicated" : "inconsistent",
    `${what}: ${count} audit events for request id ${requestId}, expected ${expected}`,
  );
}

/** An event as a watcher or ListIssueEvents delivered it. */
export interface DeliveredEvent {
  sequence: number;
  kind: string;
  issue: string;
  comment: string;
}

/**
 * A watcher (or a full ListIssueEvents) of a project must have every event of
 * its history exactly once, in order: the same list.
 */
export function checkDelivery(
  who: string,
  delivered: DeliveredEvent[],
  history: StoredEvent[],
): { missing: number; duplicated: number; outOfOrder: number; mismatched: number; problems: string[] } {
  const problems: string[] = [];
  const expected = [...history].sort((a, b) => a.sequence - b.sequence);
  const counts = new Map<number, number>();
  for (const event of delivered) counts.set(event.sequence, (counts.get(event.sequence) ?? 0) + 1);
  const duplicated = [...counts.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  const missing = expected.filter((event) => !counts.has(event.sequence)).length;
  let outOfOrder = 0;
  for (let i = 1; i < delivered.length; i++) {
    if ((delivered[i]?.sequence ?? 0) <= (delivered[i - 1]?.sequence ?? 0)) outOfOrder += 1;
  }
  const bySequence = new Map(expected.map((event) => [event.sequence, event]));
  let mismatched = 0;
  for (const event of delivered) {
    const stored = bySequence.get(event.sequence);
    if (
      !stored ||
      stored.kind !== event.kind ||
      stored.issue !== event.issue ||
      stored.comment !== event.comment
    ) {
      mismatched += 1;
      if (problems.length < 5)
        problems.push(`${who}: event ${event.sequence} ${JSON.stringify(event)} is not in the history`);
    }
  }
  if (missing > 0) problems.push(`${who}: ${missing} of ${expected.length} events never delivered`);
  if (duplicated > 0) problems.push(`${who}: ${duplicated} events delivered more than once`);
  if (outOfOrder > 0) problems.push(`${who}: ${outOfOrder} events out of order`);
  return { missing, duplicated, outOfOrder, mismatched, problems };
}
