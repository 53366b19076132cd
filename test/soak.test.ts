import { describe, expect, it } from "vitest";
import {
  type CheckResult,
  checkDelivery,
  checkLedger,
  type DatabaseState,
  type StoredEvent,
} from "../soak/check.js";
import { type Fields, Ledger, markerOf, type Version } from "../soak/ledger.js";
import { formatReport, runSoak } from "../soak/soak.js";

// The soak (npm run soak) in a bounded form: 25 s of load on all four
// protocols with a PostgreSQL immediate restart and a server SIGKILL, then
// the ledger check. And proof that the checker can fail.

const P = "projects/SOAKA";
const ids = ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"];
const fields = (title: string, labels: string[] = []): Fields => ({
  title,
  body: markerOf(ids[0] as string),
  state: "STATE_OPEN",
  close_reason: null,
  priority: "PRIORITY_NONE",
  assignee: null,
  labels,
});
const version = (f: Fields, deleted = false): Version => ({ fields: f, deleted });

/**
 * Two issues as the server writes them: SOAKA-1 created and then updated
 * (labels), SOAKA-2 created, and a comment on SOAKA-1; the ledger holds
 * every acknowledgement.
 */
function world() {
  const first = fields("one");
  const second = { ...fields("two"), body: markerOf(ids[1] as string) };
  const updated = { ...first, labels: [`${P}/labels/bug`] };
  const created = (f: Fields) =>
    Object.entries(f)
      .filter(([, value]) => value !== null)
      .map(([field, value]) => ({ field, old: null, new: value }));
  const commentUid = "33333333-3333-4333-8333-333333333333";
  const commentId = "44444444-4444-4444-8444-444444444444";
  const events: StoredEvent[] = [
    {
      projectKey: "SOAKA",
      sequence: 1,
      issueUid: "u1",
      issue: `${P}/issues/1`,
      kind: "issue_created",
      changes: created(first),
      comment: "",
    },
    {
      projectKey: "SOAKA",
      sequence: 2,
      issueUid: "u2",
      issue: `${P}/issues/2`,
      kind: "issue_created",
      changes: created(second),
      comment: "",
    },
    {
      projectKey: "SOAKA",
      sequence: 3,
      issueUid: "u1",
      issue: `${P}/issues/1`,
      kind: "issue_updated",
      changes: [{ field: "labels", old: [], new: [`${P}/labels/bug`] }],
      comment: "",
    },
    {
      projectKey: "SOAKA",
      sequence: 4,
      issueUid: "u1",
      issue: `${P}/issues/1`,
      kind: "comment_created",
      changes: [],
      comment: `${P}/issues/1/comments/${commentUid}`,
    },
  ];
  const db: DatabaseState = {
    projects: [{ key: "SOAKA", lastIssueNumber: 2, lastEventSequence: 4 }],
    issues: [
      {
        uid: "u1",
        name: `${P}/issues/1`,
        projectKey: "SOAKA",
        number: 1,
        revision: 2,
        version: version(updated),
      },
      {
        uid: "u2",
        name: `${P}/issues/2`,
        projectKey: "SOAKA",
        number: 2,
        revision: 1,
        version: version(second),
      },
    ],
    events,
    comments: [
      {
        uid: commentUid,
        name: `${P}/issues/1/comments/${commentUid}`,
        issueUid: "u1",
        body: `${markerOf(commentId)} hello`,
      },
    ],
    auditCounts: new Map([
      [ids[0] as string, 1],
      [ids[1] as string, 1],
      ["update-1", 1],
      [commentId, 1],
    ]),
  };
  const ledger = new Ledger();
  ledger.beginCreate("issue", ids[0] as string, "c", P);
  ledger.acknowledgeCreate("issue", ids[0] as string, {
    name: `${P}/issues/1`,
    uid: "u1",
    after: version(first),
  });
  ledger.beginCreate("issue", ids[1] as string, "c", P);
  ledger.acknowledgeCreate("issue", ids[1] as string, {
    name: `${P}/issues/2`,
    uid: "u2",
    after: version(second),
  });
  ledger.record({
    kind: "update",
    mutationId: "update-1",
    issue: `${P}/issues/1`,
    client: "c",
    outcome: "acknowledged",
    etag: 2,
    after: version(updated),
  });
  ledger.beginCreate("comment", commentId, "c", `${P}/issues/1`);
  ledger.acknowledgeCreate("comment", commentId, {
    name: `${P}/issues/1/comments/${commentUid}`,
    uid: commentUid,
    body: `${markerOf(commentId)} hello`,
  });
  return { db, ledger, events };
}

const totals = (result: CheckResult) => ({
  lost: result.lost,
  duplicated: result.duplicated,
  inconsistent: result.inconsistent,
});

describe("the soak's ledger check", () => {
  it("passes a database that holds exactly what was acknowledged", () => {
    const { db, ledger } = world();
    expect(checkLedger(ledger, db)).toMatchObject({ lost: 0, duplicated: 0, inconsistent: 0, problems: [] });
  });

  it("finds an acknowledged issue missing", () => {
    const { db, ledger } = world();
    db.issues = db.issues.filter((issue) => issue.number !== 2);
    expect(totals(checkLedger(ledger, db))).toMatchObject({ lost: 1 });
  });

  it("finds an issue created twice for one request_id", () => {
    const { db, ledger, events } = world();
    const second = db.issues[1] as DatabaseState["issues"][number];
    db.issues.push({ ...second, uid: "u3", name: `${P}/issues/3`, number: 3 });
    db.events.push({ ...(events[1] as StoredEvent), sequence: 5, issueUid: "u3", issue: `${P}/issues/3` });
    db.projects = [{ key: "SOAKA", lastIssueNumber: 3, lastEventSequence: 5 }];
    expect(checkLedger(ledger, db).duplicated).toBeGreaterThanOrEqual(1);
  });

  it("finds an acknowledged update the history does not have", () => {
    const { db, ledger } = world();
    const update = db.events[2] as StoredEvent;
    update.changes = [{ field: "labels", old: [], new: [`${P}/labels/docs`] }];
    const issue = db.issues[0] as DatabaseState["issues"][number];
    issue.version = version({ ...issue.version.fields, labels: [`${P}/labels/docs`] });
    expect(totals(checkLedger(ledger, db))).toMatchObject({ lost: 1 });
  });

  it("finds a change no mutation made, a gap in the sequence, and a comment made twice", () => {
    const { db, ledger } = world();
    const issue = db.issues[0] as DatabaseState["issues"][number];
    db.events.push({
      projectKey: "SOAKA",
      sequence: 6,
      issueUid: "u1",
      issue: issue.name,
      kind: "issue_updated",
      changes: [{ field: "title", old: "one", new: "uno" }],
      comment: "",
    });
    issue.revision = 3;
    issue.version = version({ ...issue.version.fields, title: "uno" });
    db.projects = [{ key: "SOAKA", lastIssueNumber: 2, lastEventSequence: 6 }];
    const comment = db.comments[0] as DatabaseState["comments"][number];
    db.comments.push({ ...comment, uid: "c2", name: `${issue.name}/comments/c2` });
    const result = checkLedger(ledger, db);
    expect(result.problems.join("\n")).toMatch(/revision 3 \(issue_updated\) was made by no mutation/);
    expect(result.problems.join("\n")).toMatch(/event sequences: gaps at 5/);
    expect(result.problems.join("\n")).toMatch(/created .*comments\/c2/);
  });

  it("accepts an in-doubt update whether or not it was applied, but only once", () => {
    const { db, ledger } = world();
    const issue = db.issues[0] as DatabaseState["issues"][number];
    const intended = version({ ...issue.version.fields, title: "maybe" });
    ledger.record({
      kind: "update",
      mutationId: "doubt",
      issue: issue.name,
      client: "c",
      outcome: "in-doubt",
      etagBefore: 2,
      intended,
    });
    expect(checkLedger(ledger, db)).toMatchObject({
      lost: 0,
      duplicated: 0,
      inDoubt: { applied: 0, notApplied: 1 },
    });
    db.events.push({
      projectKey: "SOAKA",
      sequence: 5,
      issueUid: "u1",
      issue: issue.name,
      kind: "issue_updated",
      changes: [{ field: "title", old: "one", new: "maybe" }],
      comment: "",
    });
    db.projects = [{ key: "SOAKA", lastIssueNumber: 2, lastEventSequence: 5 }];
    issue.revision = 3;
    issue.version = intended;
    db.auditCounts.set("doubt", 1);
    expect(checkLedger(ledger, db)).toMatchObject({
      lost: 0,
      duplicated: 0,
      inconsistent: 0,
      inDoubt: { applied: 1 },
    });
    // Applied twice: the second change is nobody's.
    db.events.push({
      projectKey: "SOAKA",
      sequence: 6,
      issueUid: "u1",
      issue: issue.name,
      kind: "issue_updated",
      changes: [{ field: "title", old: "maybe", new: "maybe!" }],
      comment: "",
    });
    db.projects = [{ key: "SOAKA", lastIssueNumber: 2, lastEventSequence: 6 }];
    issue.revision = 4;
    issue.version = version({ ...intended.fields, title: "maybe!" });
    expect(checkLedger(ledger, db).duplicated).toBe(1);
  });

  it("finds a watcher that missed, repeated or reordered events", () => {
    const { events } = world();
    const delivered = events.map(({ sequence, kind, issue, comment }) => ({
      sequence,
      kind,
      issue,
      comment,
    }));
    expect(checkDelivery("w", delivered, events)).toMatchObject({ missing: 0, duplicated: 0, outOfOrder: 0 });
    const [a, b, c, d] = delivered as [
      (typeof delivered)[0],
      (typeof delivered)[0],
      (typeof delivered)[0],
      (typeof delivered)[0],
    ];
    expect(checkDelivery("w", [a, b, b, d], events)).toMatchObject({
      missing: 1,
      duplicated: 1,
      outOfOrder: 1,
    });
    expect(checkDelivery("w", [a, c, b, d], events)).toMatchObject({ missing: 0, outOfOrder: 1 });
  });
});

describe("the soak, bounded", () => {
  it("loses nothing, doubles nothing and answers no INTERNAL through a PostgreSQL crash and a SIGKILL", async () => {
    const lines: string[] = [];
    const report = await runSoak({
      durationMs: 25_000,
      faults: true,
      clients: 6,
      seed: 8,
      log: (line) => lines.push(line),
    });
    const text = `${lines.join("\n")}\n${formatReport(report)}`;
    const kinds = report.faults.faults.map((fault) => fault.kind);
    expect(kinds, text).toContain("pg-immediate");
    expect(kinds).toContain("server-sigkill");
    expect(report.acknowledged.total).toBeGreaterThan(50);
    expect(report.check, text).toMatchObject({ lost: 0, duplicated: 0, inconsistent: 0 });
    expect(report.internal, text).toMatchObject({ serverAnswered: 0, serverLogged: 0, unhandled: 0 });
    for (const watcher of report.watchers) {
      expect(watcher, text).toMatchObject({ missing: 0, duplicated: 0, outOfOrder: 0 });
      expect(watcher.delivered).toBeGreaterThan(0);
    }
    expect(report.violations, text).toEqual([]);
  }, 150_000);
});
