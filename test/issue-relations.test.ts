import { NullValue } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Issue_CloseReason as CloseReason,
  type IssueEvent,
  IssueEvent_Kind as Kind,
  Issue_State as State,
} from "../gen/proto/tracker/v1/issue_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { IssueRelationService, IssueRelation_Type as Type } from "../gen/proto/tracker/v1/relation_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { addMember, clientsFor, createProject, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, type Protocol, tokenFor, transportFor } from "./support/transports.js";
import { readWatchIssues } from "./support/watch-stream.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const relationsAs = (user = "alice", protocol: Protocol = "Connect binary over HTTP/2") =>
  createClient(IssueRelationService, transportFor(protocol, server.baseUrl, user));

async function newIssue(parent: string, title = "an issue", user = "alice"): Promise<string> {
  return (await clientsFor(server, user).issues.createIssue({ parent, issue: { title } })).name;
}

const listed = async (issue: string, user = "alice") =>
  (await relationsAs(user).listIssueRelations({ parent: issue })).issueRelations.map((relation) => [
    relation.type,
    relation.relatedIssue,
  ]);

describe.each(PROTOCOLS)("IssueRelationService over %s", (protocol) => {
  it("relates two issues, shows the relation from both sides, and removes it", async () => {
    const project = await createProject(server);
    const [blocker, blocked] = [await newIssue(project, "blocker"), await newIssue(project, "blocked")];
    const relations = relationsAs("alice", protocol);
    const created = await relations.createIssueRelation({
      parent: blocker,
      issueRelation: { type: Type.BLOCKS, relatedIssue: blocked },
    });
    expect(created).toMatchObject({
      name: `${blocker}/relations/${created.uid}`,
      type: Type.BLOCKS,
      relatedIssue: blocked,
      creator: await userNamed(server, "alice"),
    });
    const fromBlocked = (await relations.listIssueRelations({ parent: blocked })).issueRelations;
    expect(fromBlocked).toEqual([
      {
        ...created,
        name: `${blocked}/relations/${created.uid}`,
        type: Type.BLOCKED_BY,
        relatedIssue: blocker,
      },
    ]);
    // Either side's name removes it.
    await relations.deleteIssueRelation({ name: fromBlocked[0]?.name ?? "" });
    expect(await listed(blocker)).toEqual([]);
    expect(await listed(blocked)).toEqual([]);
  });

  it("names a related issue in the history and watch events only to members of its project", async () => {
    const core = await createProject(server, "alice");
    const secret = await createProject(server, "alice");
    await addMember(server, core, "bob", "reader", "alice");
    const [mine, sibling] = [await newIssue(core, "mine"), await newIssue(core, "sibling")];
    const hidden = await newIssue(secret, "the secret plan");
    const relations = relationsAs("alice", protocol);
    const toHidden = await relations.createIssueRelation({
      parent: mine,
      issueRelation: { type: Type.BLOCKS, relatedIssue: hidden },
    });
    await relations.createIssueRelation({
      parent: mine,
      issueRelation: { type: Type.RELATES_TO, relatedIssue: sibling },
    });
    await relations.deleteIssueRelation({ name: toHidden.name });

    const watchOf = (user: string) => readWatchIssues(clientsFor(server, user, protocol).issues, core);
    const watches = { alice: watchOf("alice"), bob: watchOf("bob") };
    const relatedIn = (events: IssueEvent[]) =>
      events
        .filter((event) => event.kind === Kind.RELATION_CREATED || event.kind === Kind.RELATION_DELETED)
        .map((event) => {
          const change = event.changes.find((each) => each.field === "related_issue");
          return [change?.oldValue?.kind.value, change?.newValue?.kind.value];
        });
    const historyOf = async (user: string, parent: string) =>
      relatedIn((await clientsFor(server, user, protocol).issues.listIssueEvents({ parent })).events);
    const nothing = NullValue.NULL_VALUE;
    const named = [
      [nothing, hidden],
      [nothing, sibling],
      [hidden, nothing],
    ];
    // Bob, who is no member of the other project, learns of no issue there (nor of the project).
    const unnamed = [
      [nothing, ""],
      [nothing, sibling],
      ["", nothing],
    ];
    expect(await historyOf("alice", mine)).toEqual(named);
    expect(await historyOf("bob", mine)).toEqual(unnamed);
    expect(await historyOf("bob", core)).toEqual(unnamed);
    expect(await listed(mine, "bob")).toEqual([[Type.RELATES_TO, sibling]]);
    for (const [user, expected] of [
      ["alice", named],
      ["bob", unnamed],
    ] as const) {
      const watch = watches[user];
      await watch.waitFor(
        () => watch.messages.some((message) => message.event?.kind === Kind.RELATION_DELETED),
        () => `${user}'s watch ended before the relation's removal`,
      );
      expect(relatedIn(watch.messages.flatMap((message) => message.event ?? []))).toEqual(expected);
      await watch.stop();
    }
  });
});

describe("IssueRelationService", () => {
  it("stores BLOCKED_BY as its inverse: the same relation made from the other side already exists", async () => {
    const project = await createProject(server);
    const [a, b] = [await newIssue(project), await newIssue(project)];
    await relationsAs().createIssueRelation({
      parent: b,
      issueRelation: { type: Type.BLOCKED_BY, relatedIssue: a },
    });
    expect(await listed(a)).toEqual([[Type.BLOCKS, b]]);
    await expectError(
      relationsAs().createIssueRelation({ parent: a, issueRelation: { type: Type.BLOCKS, relatedIssue: b } }),
      Code.AlreadyExists,
      "RELATION_EXISTS",
    );
    // RELATES_TO has no direction: once per pair.
    await relationsAs().createIssueRelation({
      parent: a,
      issueRelation: { type: Type.RELATES_TO, relatedIssue: b },
    });
    await expectError(
      relationsAs().createIssueRelation({
        parent: b,
        issueRelation: { type: Type.RELATES_TO, relatedIssue: a },
      }),
      Code.AlreadyExists,
      "RELATION_EXISTS",
    );
    expect(await listed(b)).toEqual([
      [Type.RELATES_TO, a],
      [Type.BLOCKED_BY, a],
    ]);
  });

  it("refuses an issue related to itself, an unspecified type, and a deleted issue", async () => {
    const project = await createProject(server);
    const [a, b] = [await newIssue(project), await newIssue(project)];
    const self = await expectError(
      relationsAs().createIssueRelation({
        parent: a,
        issueRelation: { type: Type.RELATES_TO, relatedIssue: a },
      }),
      Code.InvalidArgument,
      "RELATED_TO_SELF",
    );
    expect(violatedFields(self)).toEqual(["issue_relation.related_issue"]);
    const unspecified = await expectError(
      relationsAs().createIssueRelation({ parent: a, issueRelation: { relatedIssue: b } }),
      Code.InvalidArgument,
    );
    expect(violatedFields(unspecified)).toEqual(["issue_relation.type"]);
    await clientsFor(server).issues.deleteIssue({ name: b });
    await expectError(
      relationsAs().createIssueRelation({ parent: a, issueRelation: { type: Type.BLOCKS, relatedIssue: b } }),
      Code.FailedPrecondition,
      "ISSUE_DELETED",
    );
  });

  it("relates issues of two projects the caller can read, with WRITER needed only where it is made", async () => {
    const core = await createProject(server, "alice");
    const ops = await createProject(server, "olga");
    await addMember(server, ops, "alice", "reader", "olga");
    const [mine, theirs] = [await newIssue(core, "mine"), await newIssue(ops, "theirs", "olga")];
    const relation = await relationsAs("alice").createIssueRelation({
      parent: mine,
      issueRelation: { type: Type.BLOCKED_BY, relatedIssue: theirs },
    });
    expect(await listed(mine, "alice")).toEqual([[Type.BLOCKED_BY, theirs]]);
    // Olga cannot read CORE: from her side there is nothing, until she can.
    expect(await listed(theirs, "olga")).toEqual([]);
    await addMember(server, core, "olga", "reader", "alice");
    expect(await listed(theirs, "olga")).toEqual([[Type.BLOCKS, mine]]);
    // Alice only reads OPS: she may not change its issue, not even by this relation.
    await expectError(
      relationsAs("alice").deleteIssueRelation({ name: `${theirs}/relations/${relation.uid}` }),
      Code.PermissionDenied,
      "ROLE_TOO_LOW",
    );
    await expectError(
      relationsAs("alice").createIssueRelation({
        parent: theirs,
        issueRelation: { type: Type.RELATES_TO, relatedIssue: mine },
      }),
      Code.PermissionDenied,
    );
  });

  it("relates nothing to an issue of a deleted project: FAILED_PRECONDITION, as every change there", async () => {
    const core = await createProject(server, "alice");
    const ops = await createProject(server, "olga");
    await addMember(server, ops, "alice", "writer", "olga");
    const [mine, theirs] = [await newIssue(core, "mine"), await newIssue(ops, "theirs", "olga")];
    await createClient(
      ProjectService,
      transportFor("Connect binary over HTTP/2", server.baseUrl, "olga"),
    ).deleteProject({
      name: ops,
    });
    await expectError(
      relationsAs("alice").createIssueRelation({
        parent: mine,
        issueRelation: { type: Type.BLOCKS, relatedIssue: theirs },
      }),
      Code.FailedPrecondition,
      "PROJECT_DELETED",
    );
    expect(await listed(mine, "alice")).toEqual([]);
  });

  it("answers a related issue the caller cannot read exactly as a missing one, and lists no relation to it", async () => {
    const mine = await newIssue(await createProject(server, "alice"), "mine");
    const privateProject = await createProject(server, "mallory");
    const hidden = await newIssue(privateProject, "private", "mallory");
    const missing = `${privateProject}/issues/999`;
    const attempts = await Promise.all(
      [hidden, missing].map((relatedIssue) =>
        expectError(
          relationsAs("alice").createIssueRelation({
            parent: mine,
            issueRelation: { type: Type.BLOCKS, relatedIssue },
          }),
          Code.NotFound,
          "RESOURCE_NOT_FOUND",
        ),
      ),
    );
    // Same code, reason and message shape: only the name asked for differs.
    expect(attempts.map((error) => error.rawMessage.replace(/issues\/\d+/, "issues/N"))).toEqual([
      `${privateProject}/issues/N does not exist`,
      `${privateProject}/issues/N does not exist`,
    ]);

    // Mallory, who reads both, relates them; Alice does not see it on her issue.
    await addMember(server, mine.split("/issues/")[0] ?? "", "mallory", "writer", "alice");
    const relation = await relationsAs("mallory").createIssueRelation({
      parent: mine,
      issueRelation: { type: Type.BLOCKED_BY, relatedIssue: hidden },
    });
    expect(await listed(mine, "mallory")).toEqual([[Type.BLOCKED_BY, hidden]]);
    expect(await listed(mine, "alice")).toEqual([]);
    await expectError(
      relationsAs("alice").deleteIssueRelation({ name: relation.name }),
      Code.NotFound,
      "RESOURCE_NOT_FOUND",
    );
    // Nor does it make her issue count as blocked for her.
    const issues = clientsFor(server, "alice").issues;
    const parent = mine.split("/issues/")[0] ?? "";
    const blocked = await issues.listIssues({ parent, filter: { blocked: true } });
    expect(blocked.issues).toEqual([]);
    const forMallory = await clientsFor(server, "mallory").issues.listIssues({
      parent,
      filter: { blocked: true },
    });
    expect(forMallory.issues.map((issue) => issue.name)).toEqual([mine]);
  });

  it("filters issues blocked by an open blocker, until the blocker is closed", async () => {
    const project = await createProject(server);
    const [blocker, blocked, free] = [
      await newIssue(project),
      await newIssue(project),
      await newIssue(project),
    ];
    await relationsAs().createIssueRelation({
      parent: blocker,
      issueRelation: { type: Type.BLOCKS, relatedIssue: blocked },
    });
    const issues = clientsFor(server).issues;
    const names = async (blockedFilter: boolean) =>
      (await issues.listIssues({ parent: project, filter: { blocked: blockedFilter } })).issues.map(
        (i) => i.name,
      );
    expect(await names(true)).toEqual([blocked]);
    expect(await names(false)).toEqual([free, blocker]);
    await issues.updateIssue({
      issue: { name: blocker, state: State.CLOSED, closeReason: CloseReason.COMPLETED },
      updateMask: { paths: ["state", "close_reason"] },
    });
    expect(await names(true)).toEqual([]);
  });

  it("closes an issue as a duplicate of another and makes the DUPLICATE_OF relation in the same change", async () => {
    const project = await createProject(server);
    const other = await createProject(server);
    const [duplicate, original] = [await newIssue(project, "again"), await newIssue(other, "first")];
    const issues = clientsFor(server).issues;
    const before = await issues.getIssue({ name: duplicate });
    const closed = await issues.updateIssue({
      issue: { name: duplicate, state: State.CLOSED, closeReason: CloseReason.DUPLICATE, etag: before.etag },
      updateMask: { paths: ["state", "close_reason"] },
      duplicateOf: original,
    });
    expect(closed.state).toBe(State.CLOSED);
    expect(await listed(duplicate)).toEqual([[Type.DUPLICATE_OF, original]]);
    expect(await listed(original)).toEqual([[Type.DUPLICATED_BY, duplicate]]);
    const { events } = await issues.listIssueEvents({ parent: duplicate });
    expect(events.map((event) => event.kind)).toEqual([
      Kind.ISSUE_CREATED,
      Kind.ISSUE_UPDATED,
      Kind.RELATION_CREATED,
    ]);
    // Naming it again changes nothing.
    const again = await issues.updateIssue({ issue: { name: duplicate }, duplicateOf: original });
    expect(again.etag).toBe(closed.etag);
  });

  it("refuses duplicate_of unless the issue ends closed as a duplicate, and changes nothing then", async () => {
    const project = await createProject(server);
    const [issue, original] = [await newIssue(project), await newIssue(project)];
    const issues = clientsFor(server).issues;
    const error = await expectError(
      issues.updateIssue({
        issue: { name: issue, state: State.CLOSED, closeReason: CloseReason.COMPLETED },
        updateMask: { paths: ["state", "close_reason"] },
        duplicateOf: original,
      }),
      Code.InvalidArgument,
      "NOT_CLOSED_AS_DUPLICATE",
    );
    expect(violatedFields(error)).toEqual(["duplicate_of"]);
    expect((await issues.getIssue({ name: issue })).state).toBe(State.OPEN);
    // An original the caller cannot read is NOT_FOUND, and the close rolls back with it.
    const hidden = await newIssue(await createProject(server, "mallory"), "private", "mallory");
    await expectError(
      issues.updateIssue({
        issue: { name: issue, state: State.CLOSED, closeReason: CloseReason.DUPLICATE },
        updateMask: { paths: ["state", "close_reason"] },
        duplicateOf: hidden,
      }),
      Code.NotFound,
    );
    expect((await issues.getIssue({ name: issue })).state).toBe(State.OPEN);
  });

  it("refuses an unknown duplicateOf inside the issue in JSON rather than dropping it", async () => {
    const project = await createProject(server);
    const [issue, original] = [await newIssue(project), await newIssue(project)];
    const token = await tokenFor("alice");
    const response = await fetch(`${server.baseUrl}/tracker.v1.IssueService/UpdateIssue`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        issue: {
          name: issue,
          state: "STATE_CLOSED",
          closeReason: "CLOSE_REASON_DUPLICATE",
          duplicateOf: original,
        },
        updateMask: "state,closeReason",
      }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain("duplicateOf");
    expect((await clientsFor(server).issues.getIssue({ name: issue })).state).toBe(State.OPEN);
  });

  it("bumps the issue's etag, guards removal by it, records history, watch events and audit", async () => {
    const project = await createProject(server);
    const [a, b] = [await newIssue(project), await newIssue(project)];
    const issues = clientsFor(server).issues;
    const watch = readWatchIssues(issues, project);
    const read = await issues.getIssue({ name: a });
    const relation = await relationsAs().createIssueRelation({
      parent: a,
      issueRelation: { type: Type.RELATES_TO, relatedIssue: b },
    });
    const after = await issues.getIssue({ name: a });
    expect(after.etag).not.toBe(read.etag);
    // The other issue is only read.
    expect((await issues.listIssueEvents({ parent: b })).events.map((e) => e.kind)).toEqual([
      Kind.ISSUE_CREATED,
    ]);
    await expectError(
      issues.updateIssue({
        issue: { name: a, title: "stale", etag: read.etag },
        updateMask: { paths: ["title"] },
      }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    await expectError(
      relationsAs().deleteIssueRelation({ name: relation.name, etag: read.etag }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    await relationsAs().deleteIssueRelation({ name: relation.name, etag: after.etag });

    const { events } = await issues.listIssueEvents({ parent: a });
    const relationEvents = events.slice(1).map((event) => ({
      kind: event.kind,
      relation: event.relation,
      changes: event.changes.map((change) => [
        change.field,
        change.oldValue?.kind.value,
        change.newValue?.kind.value,
      ]),
    }));
    // Unset is JSON null (NullValue.NULL_VALUE, 0).
    const nothing = NullValue.NULL_VALUE;
    expect(relationEvents).toEqual([
      {
        kind: Kind.RELATION_CREATED,
        relation: relation.name,
        changes: [
          ["type", nothing, "TYPE_RELATES_TO"],
          ["related_issue", nothing, b],
        ],
      },
      {
        kind: Kind.RELATION_DELETED,
        relation: relation.name,
        changes: [
          ["type", "TYPE_RELATES_TO", nothing],
          ["related_issue", b, nothing],
        ],
      },
    ]);
    await watch.waitFor(
      () => watch.messages.some((message) => message.event?.kind === Kind.RELATION_DELETED),
      () => "the watch ended before the relation's removal",
    );
    expect(
      watch.messages.flatMap((message) =>
        message.event?.relation ? [[message.event.kind, message.event.relation]] : [],
      ),
    ).toEqual([
      [Kind.RELATION_CREATED, relation.name],
      [Kind.RELATION_DELETED, relation.name],
    ]);
    await watch.stop();

    const audited = await server.ctx.db
      .selectFrom("audit_events")
      .select(["method", "resource"])
      .where("resource", "=", relation.name)
      .orderBy("id")
      .execute();
    expect(audited).toEqual([
      { method: "/tracker.v1.IssueRelationService/CreateIssueRelation", resource: relation.name },
      { method: "/tracker.v1.IssueRelationService/DeleteIssueRelation", resource: relation.name },
    ]);
  });

  it("relates two projects' issues to each other from both sides at once without a deadlock", async () => {
    const [core, ops] = [await createProject(server), await createProject(server)];
    for (let round = 0; round < 10; round++) {
      const [mine, theirs] = [await newIssue(core), await newIssue(ops)];
      // Each call locks its own issue, then reads (and, by the foreign key, key-share locks) the other.
      const both = await Promise.allSettled([
        relationsAs().createIssueRelation({
          parent: mine,
          issueRelation: { type: Type.BLOCKS, relatedIssue: theirs },
        }),
        relationsAs().createIssueRelation({
          parent: theirs,
          issueRelation: { type: Type.DUPLICATE_OF, relatedIssue: mine },
        }),
      ]);
      expect(both.map((outcome) => (outcome.status === "rejected" ? String(outcome.reason) : "ok"))).toEqual([
        "ok",
        "ok",
      ]);
    }
  });

  it("replays a retried create with the same request_id instead of relating twice", async () => {
    const project = await createProject(server);
    const [a, b] = [await newIssue(project), await newIssue(project)];
    const request = {
      parent: a,
      issueRelation: { type: Type.BLOCKS, relatedIssue: b },
      requestId: "4b8e8a52-0f5a-4d55-9a51-4f1d0d1b1e01",
    };
    const first = await relationsAs().createIssueRelation(request);
    expect(await relationsAs().createIssueRelation(request)).toEqual(first);
    expect(await listed(a)).toEqual([[Type.BLOCKS, b]]);
  });

  it("pages an issue's relations newest first, without repeats", async () => {
    const project = await createProject(server);
    const hub = await newIssue(project, "hub");
    const others: string[] = [];
    for (let i = 0; i < 5; i++) {
      const other = await newIssue(project, `spoke ${i}`);
      others.push(other);
      await relationsAs().createIssueRelation({
        parent: hub,
        issueRelation: { type: Type.RELATES_TO, relatedIssue: other },
      });
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await relationsAs().listIssueRelations({ parent: hub, pageSize: 2, pageToken });
      seen.push(...page.issueRelations.map((relation) => relation.relatedIssue));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(others.reverse());
  });
});
