import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Issue_CloseReason as CloseReason,
  IssueEvent_Kind as Kind,
  Issue_Priority as Priority,
  Issue_State as State,
} from "../gen/proto/tracker/v1/issue_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import {
  addMember,
  clientsFor,
  codePoint,
  createProject,
  JOINED,
  REFUSED_IN_ONE_LINE,
  userNamed,
} from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS } from "./support/transports.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });

describe.each(PROTOCOLS)("IssueService over %s", (protocol) => {
  it("files issues numbered 1, 2, 3 in their project, with the caller as reporter", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server, "alice", protocol);
    const first = await issues.createIssue({ parent, issue: { title: "First", body: "It *breaks*." } });
    const second = await issues.createIssue({ parent, issue: { title: "Second", priority: Priority.HIGH } });
    expect(first).toMatchObject({
      name: `${parent}/issues/1`,
      number: 1n,
      key: `${parent.split("/")[1]}-1`,
      title: "First",
      body: "It *breaks*.",
      state: State.OPEN,
      closeReason: CloseReason.UNSPECIFIED,
      priority: Priority.NONE,
      assignee: "",
      labels: [],
      reporter: await userNamed(server, "alice"),
    });
    expect(first.closeTime).toBeUndefined();
    expect(second).toMatchObject({ name: `${parent}/issues/2`, priority: Priority.HIGH });
    expect(await issues.getIssue({ name: first.name })).toEqual(first);
  });

  it("updates only the masked fields, with a new etag and update time", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server, "alice", protocol);
    const issue = await issues.createIssue({ parent, issue: { title: "Old", body: "Keep me" } });
    const updated = await issues.updateIssue({
      issue: { name: issue.name, title: "New", body: "ignored: not in the mask", etag: issue.etag },
      updateMask: mask("title"),
    });
    expect(updated).toMatchObject({ title: "New", body: "Keep me" });
    expect(updated.etag).not.toBe(issue.etag);
    expect(updated.updateTime?.seconds ?? 0n).toBeGreaterThanOrEqual(issue.updateTime?.seconds ?? 0n);
    expect(updated.updateTime).not.toEqual(issue.updateTime);
  });

  it("refuses line breaks, bidirectional controls and invisible characters in a title, naming issue.title, and keeps joiners and bodies as written", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server, "alice", protocol);
    for (const character of REFUSED_IN_ONE_LINE) {
      const error = await expectError(
        issues.createIssue({ parent, issue: { title: `Invoice ${character}gnp.exe` } }),
        Code.InvalidArgument,
        "INVALID_ARGUMENT",
      );
      expect(violatedFields(error), codePoint(character)).toEqual(["issue.title"]);
    }
    // Markdown renders each paragraph on its own: a body may quote right-to-left text as written.
    const title = `\u05E9\u05DC\u05D5\u05DD ${JOINED} (1)`;
    const body = "Quoted: \u2067\u05E9\u05DC\u05D5\u05DD\u2069, and \u202Egnp.exe";
    const issue = await issues.createIssue({ parent, issue: { title, body } });
    expect(issue).toMatchObject({ title, body });
    const error = await expectError(
      issues.updateIssue({
        issue: { name: issue.name, title: "CORE-1 \u202Egnp.exe", etag: issue.etag },
        updateMask: mask("title"),
      }),
      Code.InvalidArgument,
      "INVALID_ARGUMENT",
    );
    expect(violatedFields(error)).toEqual(["issue.title"]);
    expect((await issues.getIssue({ name: issue.name })).title).toBe(title);
  });
});

describe("CreateIssue", () => {
  it.each([
    ["an empty title", { title: "" }, ["issue.title"]],
    ["a title over 256 characters", { title: "t".repeat(257) }, ["issue.title"]],
    ["a line break in the title", { title: "two\nlines" }, ["issue.title"]],
    ["a body over 64 KiB", { title: "t", body: "b".repeat(65_537) }, ["issue.body"]],
    ["an unknown state number", { title: "t", state: 9 }, ["issue.state"]],
    ["an assignee that is no user name", { title: "t", assignee: "bob" }, ["issue.assignee"]],
    ["a label that is no label name", { title: "t", labels: ["bug"] }, ["issue.labels[0]"]],
    [
      "a repeated label",
      { title: "t", labels: ["projects/A1/labels/x", "projects/A1/labels/x"] },
      ["issue.labels"],
    ],
  ])("rejects %s with INVALID_ARGUMENT", async (_, issue, fields) => {
    const parent = await createProject(server);
    const error = await expectError(
      clientsFor(server).issues.createIssue({ parent, issue }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual(fields);
  });

  it("needs a close reason to file a closed issue, and allows one only then", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    await expectError(
      issues.createIssue({ parent, issue: { title: "t", state: State.CLOSED } }),
      Code.InvalidArgument,
      "CLOSE_REASON_REQUIRED",
    );
    await expectError(
      issues.createIssue({ parent, issue: { title: "t", closeReason: CloseReason.COMPLETED } }),
      Code.InvalidArgument,
      "CLOSE_REASON_NOT_ALLOWED",
    );
    const closed = await issues.createIssue({
      parent,
      issue: { title: "t", state: State.CLOSED, closeReason: CloseReason.DUPLICATE },
    });
    expect(closed.closeTime).toBeDefined();
    // Failed creates used no number.
    expect(closed.number).toBe(1n);
  });

  it("answers NOT_FOUND for a missing project, assignee or label", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    await expectError(issues.createIssue({ parent: "projects/NOPE", issue: { title: "t" } }), Code.NotFound);
    const ghost = `users/${randomUUID()}`;
    const error = await expectError(
      issues.createIssue({ parent, issue: { title: "t", assignee: ghost } }),
      Code.NotFound,
    );
    expect(error.rawMessage).toBe(`${ghost} does not exist`);
    await expectError(
      issues.createIssue({ parent, issue: { title: "t", labels: [`${parent}/labels/nope`] } }),
      Code.NotFound,
    );
  });

  it("refuses issues in a deleted project: FAILED_PRECONDITION", async () => {
    const parent = await createProject(server);
    const { issues, projects } = clientsFor(server);
    await projects.deleteProject({ name: parent });
    await expectError(
      issues.createIssue({ parent, issue: { title: "t" } }),
      Code.FailedPrecondition,
      "PROJECT_DELETED",
    );
  });

  it("numbers 50 concurrent creates 1..50 with no gap or duplicate", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server, "alice", "gRPC over HTTP/2");
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        issues.createIssue({ parent, issue: { title: `Concurrent ${i}` } }),
      ),
    );
    const numbers = created.map((issue) => Number(issue.number)).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it("files once per request_id, for sequential and concurrent retries", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    const request = { parent, issue: { title: "Once" }, requestId: randomUUID() };
    const first = await issues.createIssue(request);
    expect(await issues.createIssue(request)).toEqual(first);
    const racing = { parent, issue: { title: "Racing" }, requestId: randomUUID() };
    const results = await Promise.all(Array.from({ length: 10 }, () => issues.createIssue(racing)));
    expect(new Set(results.map((issue) => issue.name)).size).toBe(1);
    const { issues: listed } = await issues.listIssues({ parent });
    expect(listed.map((issue) => issue.title).sort()).toEqual(["Once", "Racing"]);
  });
});

describe("UpdateIssue", () => {
  it("replaces every writable field with the * mask", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    await addMember(server, parent, "bob", "writer");
    const bob = (await clientsFor(server, "bob").issues.createIssue({ parent, issue: { title: "by bob" } }))
      .reporter;
    const issue = await issues.createIssue({
      parent,
      issue: { title: "Old", body: "old", priority: Priority.LOW },
    });
    const updated = await issues.updateIssue({
      issue: {
        name: issue.name,
        title: "New",
        body: "",
        priority: Priority.URGENT,
        assignee: bob,
        state: State.IN_PROGRESS,
      },
      updateMask: mask("*"),
    });
    expect(updated).toMatchObject({
      title: "New",
      body: "",
      priority: Priority.URGENT,
      assignee: bob,
      state: State.IN_PROGRESS,
    });
  });

  it("changes nothing (same etag, no history) for an empty mask or unchanged values", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    const issue = await issues.createIssue({ parent, issue: { title: "Same" } });
    expect(await issues.updateIssue({ issue: { name: issue.name, title: "Other" } })).toEqual(issue);
    expect(
      await issues.updateIssue({ issue: { name: issue.name, title: "Same" }, updateMask: mask("title") }),
    ).toEqual(issue);
    const { events } = await issues.listIssueEvents({ parent: issue.name });
    expect(events.map((event) => event.kind)).toEqual([Kind.ISSUE_CREATED]);
  });

  it.each([["uid"], ["reporter"], ["create_time"], ["etag"], ["no_such_field"]])(
    "rejects the mask path %s with INVALID_ARGUMENT",
    async (path) => {
      const parent = await createProject(server);
      const { issues } = clientsFor(server);
      const issue = await issues.createIssue({ parent, issue: { title: "t" } });
      const error = await expectError(
        issues.updateIssue({ issue: { name: issue.name }, updateMask: mask(path) }),
        Code.InvalidArgument,
      );
      expect(violatedFields(error)).toEqual(["update_mask"]);
    },
  );

  it("refuses a stale etag with ABORTED and changes nothing", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    const issue = await issues.createIssue({ parent, issue: { title: "v1" } });
    await issues.updateIssue({
      issue: { name: issue.name, title: "v2", etag: issue.etag },
      updateMask: mask("title"),
    });
    await expectError(
      issues.updateIssue({
        issue: { name: issue.name, title: "v3", etag: issue.etag },
        updateMask: mask("title"),
      }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    expect((await issues.getIssue({ name: issue.name })).title).toBe("v2");
  });

  it("lets exactly one of 20 concurrent updates with the same etag win; 19 are ABORTED", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server, "alice", "gRPC over HTTP/2");
    const issue = await issues.createIssue({ parent, issue: { title: "contended" } });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        issues.updateIssue({
          issue: { name: issue.name, title: `writer ${i}`, etag: issue.etag },
          updateMask: mask("title"),
        }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const rejected = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(rejected).toHaveLength(19);
    for (const outcome of rejected) await expectError(Promise.reject(outcome.reason), Code.Aborted);
  });

  it("closes with a reason and a close time, and clears both on reopen", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    const issue = await issues.createIssue({ parent, issue: { title: "to close" } });
    await expectError(
      issues.updateIssue({ issue: { name: issue.name, state: State.CLOSED }, updateMask: mask("state") }),
      Code.InvalidArgument,
      "CLOSE_REASON_REQUIRED",
    );
    const closed = await issues.updateIssue({
      issue: { name: issue.name, state: State.CLOSED, closeReason: CloseReason.NOT_PLANNED },
      updateMask: mask("state", "close_reason"),
    });
    expect(closed).toMatchObject({ state: State.CLOSED, closeReason: CloseReason.NOT_PLANNED });
    expect(closed.closeTime).toBeDefined();
    // Changing the reason of a closed issue keeps its close time.
    const reasoned = await issues.updateIssue({
      issue: { name: issue.name, closeReason: CloseReason.COMPLETED },
      updateMask: mask("close_reason"),
    });
    expect(reasoned.closeTime).toEqual(closed.closeTime);
    const reopened = await issues.updateIssue({
      issue: { name: issue.name, state: State.OPEN },
      updateMask: mask("state"),
    });
    expect(reopened).toMatchObject({ state: State.OPEN, closeReason: CloseReason.UNSPECIFIED });
    expect(reopened.closeTime).toBeUndefined();
    await expectError(
      issues.updateIssue({
        issue: { name: issue.name, closeReason: CloseReason.COMPLETED },
        updateMask: mask("close_reason"),
      }),
      Code.InvalidArgument,
      "CLOSE_REASON_NOT_ALLOWED",
    );
  });

  it("unassigns with an empty assignee", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    const alice = await userNamed(server, "alice");
    const issue = await issues.createIssue({ parent, issue: { title: "t", assignee: alice } });
    expect(issue.assignee).toBe(alice);
    const unassigned = await issues.updateIssue({
      issue: { name: issue.name, assignee: "" },
      updateMask: mask("assignee"),
    });
    expect(unassigned.assignee).toBe("");
  });

  it("assigns users/me to the caller, on create and on update, and answers with the caller's name", async () => {
    const parent = await createProject(server);
    await addMember(server, parent, "bob", "writer");
    const alice = await userNamed(server, "alice");
    const bob = await userNamed(server, "bob");
    const created = await clientsFor(server).issues.createIssue({
      parent,
      issue: { title: "t", assignee: "users/me" },
    });
    expect(created.assignee).toBe(alice);
    const taken = await clientsFor(server, "bob").issues.updateIssue({
      issue: { name: created.name, assignee: "users/me", etag: created.etag },
      updateMask: mask("assignee"),
    });
    expect(taken.assignee).toBe(bob);
    expect((await clientsFor(server).issues.getIssue({ name: created.name })).assignee).toBe(bob);
  });
});

describe("DeleteIssue and UndeleteIssue", () => {
  it("soft-deletes: hidden from lists unless show_deleted, still readable, restorable", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    const issue = await issues.createIssue({ parent, issue: { title: "doomed" } });
    await expectError(issues.deleteIssue({ name: issue.name, etag: "stale" }), Code.Aborted);
    const deleted = await issues.deleteIssue({ name: issue.name, etag: issue.etag });
    expect(deleted.deleteTime).toBeDefined();
    expect((await issues.listIssues({ parent })).issues).toEqual([]);
    expect((await issues.listIssues({ parent, showDeleted: true })).issues.map((i) => i.name)).toEqual([
      issue.name,
    ]);
    expect(await issues.getIssue({ name: issue.name })).toEqual(deleted);
    await expectError(issues.deleteIssue({ name: issue.name }), Code.FailedPrecondition, "ISSUE_DELETED");
    await expectError(
      issues.updateIssue({ issue: { name: issue.name, title: "x" }, updateMask: mask("title") }),
      Code.FailedPrecondition,
      "ISSUE_DELETED",
    );
    const restored = await issues.undeleteIssue({ name: issue.name });
    expect(restored.deleteTime).toBeUndefined();
    expect((await issues.listIssues({ parent })).issues.map((i) => i.name)).toEqual([issue.name]);
    await expectError(
      issues.undeleteIssue({ name: issue.name }),
      Code.FailedPrecondition,
      "ISSUE_NOT_DELETED",
    );
  });
});

describe("GetIssue and BatchGetIssues", () => {
  it("answers NOT_FOUND for a missing issue, and INVALID_ARGUMENT for a malformed name", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    await expectError(issues.getIssue({ name: `${parent}/issues/99` }), Code.NotFound);
    const error = await expectError(issues.getIssue({ name: `${parent}/issues/0` }), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual(["name"]);
  });

  it("returns issues in the order asked, or NOT_FOUND when any is missing", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    const a = await issues.createIssue({ parent, issue: { title: "a" } });
    const b = await issues.createIssue({ parent, issue: { title: "b" } });
    const { issues: got } = await issues.batchGetIssues({ parent, names: [b.name, a.name, b.name] });
    expect(got.map((issue) => issue.title)).toEqual(["b", "a", "b"]);
    await expectError(
      issues.batchGetIssues({ parent, names: [a.name, `${parent}/issues/404`] }),
      Code.NotFound,
    );
    await expectError(
      issues.batchGetIssues({ parent, names: ["projects/OTHER/issues/1"] }),
      Code.InvalidArgument,
      "ISSUE_OF_OTHER_PROJECT",
    );
    await expectError(issues.batchGetIssues({ parent, names: [] }), Code.InvalidArgument);
  });
});

describe("ListIssueEvents", () => {
  it("records who changed what, with old and new values, in order", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    await addMember(server, parent, "bob", "writer");
    const bob = clientsFor(server, "bob").issues;
    const issue = await issues.createIssue({ parent, issue: { title: "history", priority: Priority.LOW } });
    await bob.updateIssue({
      issue: {
        name: issue.name,
        priority: Priority.HIGH,
        state: State.CLOSED,
        closeReason: CloseReason.COMPLETED,
      },
      updateMask: mask("priority", "state", "close_reason"),
    });
    await issues.deleteIssue({ name: issue.name });
    await issues.undeleteIssue({ name: issue.name });
    const { events } = await issues.listIssueEvents({ parent: issue.name });
    expect(events.map((event) => event.kind)).toEqual([
      Kind.ISSUE_CREATED,
      Kind.ISSUE_UPDATED,
      Kind.ISSUE_DELETED,
      Kind.ISSUE_UNDELETED,
    ]);
    expect(events.map((event) => event.sequence)).toEqual([1n, 2n, 3n, 4n]);
    const [created, updated] = events;
    expect(created?.actor).toBe(await userNamed(server, "alice"));
    expect(created?.changes.find((change) => change.field === "title")?.newValue?.kind).toEqual({
      case: "stringValue",
      value: "history",
    });
    expect(updated?.actor).toBe(await userNamed(server, "bob"));
    const changed = Object.fromEntries(
      (updated?.changes ?? []).map((change) => [
        change.field,
        [change.oldValue?.kind.value, change.newValue?.kind.value],
      ]),
    );
    expect(changed).toEqual({
      state: ["STATE_OPEN", "STATE_CLOSED"],
      close_reason: [0, "CLOSE_REASON_COMPLETED"],
      priority: ["PRIORITY_LOW", "PRIORITY_HIGH"],
    });
  });

  it("pages through a project's history", async () => {
    const parent = await createProject(server);
    const { issues } = clientsFor(server);
    for (let i = 0; i < 5; i++) await issues.createIssue({ parent, issue: { title: `e${i}` } });
    const first = await issues.listIssueEvents({ parent, pageSize: 3 });
    const second = await issues.listIssueEvents({ parent, pageSize: 3, pageToken: first.nextPageToken });
    expect([...first.events, ...second.events].map((event) => event.sequence)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(second.nextPageToken).toBe("");
  });
});
