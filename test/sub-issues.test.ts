import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssueEvent_Kind as Kind } from "../gen/proto/tracker/v1/issue_pb.js";
import { MAX_SUB_ISSUE_DEPTH, MAX_SUB_ISSUES } from "../src/domain/issues/sub-issues.js";
import { expectError, violatedFields } from "./support/errors.js";
import { clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { readWatchIssues } from "./support/watch-stream.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const issues = () => clientsFor(server).issues;

async function newIssue(project: string, title: string, parent = "", subIssueOrder?: number) {
  return issues().createIssue({ parent: project, issue: { title, parent, subIssueOrder } });
}

/** The titles of `parent`'s sub-issues, in ListIssues' default order for them. */
async function childrenOf(project: string, parent: string): Promise<string[]> {
  return (await issues().listIssues({ parent: project, filter: { parent } })).issues.map(
    (issue) => issue.title,
  );
}

/**
 * Starts `calls` while another transaction holds the project's row, waits
 * until `waiting` of them queue on that lock, then lets them go.
 */
async function whileProjectLocked<T>(
  key: string,
  waiting: number,
  calls: () => Promise<T>[],
): Promise<Promise<T>[]> {
  const db = server.ctx.db;
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started: Promise<T>[] = [];
  const holder = db.transaction().execute(async (tx) => {
    await sql`SELECT 1 FROM projects WHERE key = ${key} FOR UPDATE`.execute(tx);
    started = calls();
    for (const call of started) call.catch(() => {});
    // Asked outside this transaction, whose statistics snapshot would be stale.
    let queued = 0;
    for (const deadline = Date.now() + 20_000; queued < waiting && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND datname = current_database()`.execute(db);
      queued = rows[0]?.n ?? 0;
    }
    expect(queued, "calls queued on the project lock").toBeGreaterThanOrEqual(waiting);
    release();
  });
  await released;
  await holder;
  return started;
}

const moveUnder = (name: string, parent: string, etag = "") =>
  issues().updateIssue({ issue: { name, parent, etag }, updateMask: { paths: ["parent"] } });

describe("sub-issues", () => {
  it("lists a parent's children in their order, each appended last unless placed", async () => {
    const project = await createProject(server);
    const parent = await newIssue(project, "epic");
    const first = await newIssue(project, "first", parent.name);
    const second = await newIssue(project, "second", parent.name);
    await newIssue(project, "third", parent.name);
    expect(first).toMatchObject({ parent: parent.name, subIssueOrder: 0 });
    expect(second.subIssueOrder).toBe(1);
    expect(await childrenOf(project, parent.name)).toEqual(["first", "second", "third"]);
    expect(parent.parent).toBe("");
    expect(parent.subIssueOrder).toBeUndefined();

    // The has_parent filter splits the tree.
    const top = await issues().listIssues({ parent: project, filter: { hasParent: false } });
    expect(top.issues.map((issue) => issue.title)).toEqual(["epic"]);
    const subs = await issues().listIssues({
      parent: project,
      filter: { hasParent: true },
      orderBy: "number",
    });
    expect(subs.issues.map((issue) => issue.title)).toEqual(["first", "second", "third"]);
  });

  it("reorders children by their sub_issue_order, and pages them in that order", async () => {
    const project = await createProject(server);
    const parent = await newIssue(project, "epic");
    const children = [];
    for (const title of ["a", "b", "c"]) children.push(await newIssue(project, title, parent.name));
    const [a, , c] = children;
    // c to the front (b keeps 1), a to the end.
    await issues().updateIssue({
      issue: { name: c?.name, subIssueOrder: 0, etag: c?.etag },
      updateMask: { paths: ["sub_issue_order"] },
    });
    await issues().updateIssue({
      issue: { name: a?.name, subIssueOrder: 5 },
      updateMask: { paths: ["sub_issue_order"] },
    });
    expect(await childrenOf(project, parent.name)).toEqual(["c", "b", "a"]);
    const descending = await issues().listIssues({
      parent: project,
      filter: { parent: parent.name },
      orderBy: "sub_issue_order desc",
    });
    expect(descending.issues.map((issue) => issue.title)).toEqual(["a", "b", "c"]);

    const paged: string[] = [];
    let pageToken = "";
    do {
      const page = await issues().listIssues({
        parent: project,
        filter: { parent: parent.name },
        pageSize: 1,
        pageToken,
      });
      paged.push(...page.issues.map((issue) => issue.title));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(paged).toEqual(["c", "b", "a"]);
  });

  it("moves an issue to another parent, at the end there, and back to the top level", async () => {
    const project = await createProject(server);
    const [one, two] = [await newIssue(project, "one"), await newIssue(project, "two")];
    await newIssue(project, "two's child", two.name);
    const moving = await newIssue(project, "moving", one.name);
    const moved = await moveUnder(moving.name, two.name, moving.etag);
    expect(moved).toMatchObject({ parent: two.name, subIssueOrder: 1 });
    expect(await childrenOf(project, two.name)).toEqual(["two's child", "moving"]);
    expect(await childrenOf(project, one.name)).toEqual([]);
    // Appending after the largest order the contract allows stays within it; the tie goes by number.
    await issues().updateIssue({
      issue: { name: moving.name, subIssueOrder: 1_000_000_000 },
      updateMask: { paths: ["sub_issue_order"] },
    });
    const last = await newIssue(project, "after the largest", two.name);
    expect(last.subIssueOrder).toBe(1_000_000_000);
    expect(await childrenOf(project, two.name)).toEqual(["two's child", "moving", "after the largest"]);
    const top = await moveUnder(moving.name, "");
    expect(top.parent).toBe("");
    expect(top.subIssueOrder).toBeUndefined();
  });

  it("records parent changes in the history and the watch stream", async () => {
    const project = await createProject(server);
    const watch = readWatchIssues(issues(), project);
    const parent = await newIssue(project, "epic");
    const child = await newIssue(project, "child", parent.name);
    await moveUnder(child.name, "");
    const { events } = await issues().listIssueEvents({ parent: child.name });
    const parentChanges = events.map((event) => [
      event.kind,
      event.changes
        .filter((change) => change.field === "parent")
        .map((change) => [change.oldValue?.kind.value, change.newValue?.kind.value]),
    ]);
    const NULL = 0; // google.protobuf.NullValue
    expect(parentChanges).toEqual([
      [Kind.ISSUE_CREATED, [[NULL, parent.name]]],
      [Kind.ISSUE_UPDATED, [[parent.name, NULL]]],
    ]);
    await watch.waitFor(
      () => watch.messages.filter((message) => message.event).length >= 3,
      () => "the watch ended early",
    );
    const watched = watch.messages.flatMap((message) =>
      message.event?.changes.some((change) => change.field === "parent") ? [message.event.kind] : [],
    );
    expect(watched).toEqual([Kind.ISSUE_CREATED, Kind.ISSUE_UPDATED]);
    await watch.stop();
  });

  it("refuses a cycle: an issue under itself or under one of its own sub-issues", async () => {
    const project = await createProject(server);
    const top = await newIssue(project, "top");
    const middle = await newIssue(project, "middle", top.name);
    const bottom = await newIssue(project, "bottom", middle.name);
    await expectError(moveUnder(top.name, top.name), Code.FailedPrecondition, "SUB_ISSUE_CYCLE");
    await expectError(moveUnder(top.name, bottom.name), Code.FailedPrecondition, "SUB_ISSUE_CYCLE");
    expect((await issues().getIssue({ name: top.name })).parent).toBe("");
  });

  it("refuses two concurrent moves that together would make a cycle (A under B, B under A): one wins", async () => {
    const project = await createProject(server);
    const key = project.split("/")[1] ?? "";
    for (let round = 0; round < 3; round++) {
      const [a, b] = [await newIssue(project, `a${round}`), await newIssue(project, `b${round}`)];
      // Both moves start while the project row is held, so both are in flight
      // together; each checks the tree only once it has the lock.
      const moves = await whileProjectLocked(key, 2, () => [
        moveUnder(a.name, b.name),
        moveUnder(b.name, a.name),
      ]);
      const outcomes = await Promise.allSettled(moves);
      expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(["fulfilled", "rejected"]);
      const refused = outcomes.find((outcome) => outcome.status === "rejected");
      await expectError(Promise.reject(refused?.reason), Code.FailedPrecondition, "SUB_ISSUE_CYCLE");
      const parents = await Promise.all(
        [a, b].map(async (issue) => (await issues().getIssue({ name: issue.name })).parent),
      );
      expect(parents.filter((parent) => parent !== "")).toHaveLength(1);
    }
  });

  it(`bounds the depth at ${MAX_SUB_ISSUE_DEPTH} levels, counting the subtree that moves along`, async () => {
    const project = await createProject(server);
    const chain = [await newIssue(project, "level 1")];
    for (let level = 2; level <= MAX_SUB_ISSUE_DEPTH; level++) {
      chain.push(await newIssue(project, `level ${level}`, chain[chain.length - 1]?.name));
    }
    const deepest = chain[chain.length - 1]?.name ?? "";
    await expectError(newIssue(project, "too deep", deepest), Code.FailedPrecondition, "SUB_ISSUE_TOO_DEEP");
    // A two-level subtree fits under level 6 but not under level 7.
    const subtree = await newIssue(project, "subtree");
    await newIssue(project, "subtree child", subtree.name);
    await expectError(
      moveUnder(subtree.name, chain[MAX_SUB_ISSUE_DEPTH - 2]?.name ?? ""),
      Code.FailedPrecondition,
      "SUB_ISSUE_TOO_DEEP",
    );
    expect((await moveUnder(subtree.name, chain[MAX_SUB_ISSUE_DEPTH - 3]?.name ?? "")).parent).toBe(
      chain[MAX_SUB_ISSUE_DEPTH - 3]?.name,
    );
  });

  it(`bounds the children of an issue at ${MAX_SUB_ISSUES}`, async () => {
    const project = await createProject(server);
    const parent = await newIssue(project, "crowded");
    await Promise.all(
      Array.from({ length: MAX_SUB_ISSUES }, (_, i) => newIssue(project, `child ${i}`, parent.name)),
    );
    await expectError(
      newIssue(project, "one more", parent.name),
      Code.ResourceExhausted,
      "TOO_MANY_SUB_ISSUES",
    );
    const children = await issues().listIssues({
      parent: project,
      filter: { parent: parent.name },
      pageSize: 1000,
    });
    expect(children.issues).toHaveLength(MAX_SUB_ISSUES);
    // The orders appended concurrently are still distinct: the project lock orders the creates.
    expect(new Set(children.issues.map((issue) => issue.subIssueOrder)).size).toBe(MAX_SUB_ISSUES);
  });

  it("keeps sub-issues in their parent's project, and refuses a missing or deleted parent", async () => {
    const project = await createProject(server);
    const elsewhere = await newIssue(await createProject(server), "elsewhere");
    const crossing = await expectError(
      newIssue(project, "crossing", elsewhere.name),
      Code.InvalidArgument,
      "PARENT_OF_OTHER_PROJECT",
    );
    expect(violatedFields(crossing)).toEqual(["issue.parent"]);
    await expectError(
      newIssue(project, "orphan", `${project}/issues/999`),
      Code.NotFound,
      "RESOURCE_NOT_FOUND",
    );
    const gone = await newIssue(project, "gone");
    await issues().deleteIssue({ name: gone.name });
    await expectError(
      newIssue(project, "under a deleted one", gone.name),
      Code.FailedPrecondition,
      "ISSUE_DELETED",
    );
    const unplaced = await expectError(
      newIssue(project, "order without parent", "", 3),
      Code.InvalidArgument,
    );
    expect(violatedFields(unplaced)).toEqual(["issue.sub_issue_order"]);
    await expectError(
      issues().listIssues({ parent: project, orderBy: "sub_issue_order" }),
      Code.InvalidArgument,
      "ORDER_NEEDS_PARENT",
    );
  });

  it("guards a move by the issue's etag, like every update", async () => {
    const project = await createProject(server);
    const parent = await newIssue(project, "epic");
    const child = await newIssue(project, "child");
    const moved = await moveUnder(child.name, parent.name, child.etag);
    expect(moved.etag).not.toBe(child.etag);
    await expectError(moveUnder(child.name, "", child.etag), Code.Aborted, "ETAG_MISMATCH");
    expect((await issues().getIssue({ name: child.name })).parent).toBe(parent.name);
  });
});
