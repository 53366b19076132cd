import { randomUUID } from "node:crypto";
import { MethodOptions_IdempotencyLevel as Idempotency } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditEvent, AuditService } from "../gen/proto/tracker/v1/audit_pb.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { Issue_Priority, IssueEvent_Kind, IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { Member_Role, MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { IssueRelation_Type, IssueRelationService } from "../gen/proto/tracker/v1/relation_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { WebhookService } from "../gen/proto/tracker/v1/webhook_pb.js";
import { API_FILES } from "../src/server/create-server.js";
import { expectError } from "./support/errors.js";
import { uniqueProjectKey, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ instanceAdmins: ["auditor"] });
});
afterAll(() => server.close());

const as = (subject: string) => {
  const transport = transportFor("Connect JSON over HTTP/1.1", server.baseUrl, subject);
  return {
    projects: createClient(ProjectService, transport),
    members: createClient(MemberService, transport),
    labels: createClient(LabelService, transport),
    issues: createClient(IssueService, transport),
    comments: createClient(CommentService, transport),
    relations: createClient(IssueRelationService, transport),
    audit: createClient(AuditService, transport),
    users: createClient(UserService, transport),
    webhooks: createClient(WebhookService, transport),
  };
};

/** Every audit event (as the instance admin), oldest first, following the pages. */
async function allAuditEvents(): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let pageToken = "";
  do {
    const page = await as("auditor").audit.listAuditEvents({ pageSize: 7, pageToken });
    events.push(...page.auditEvents);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return events.reverse();
}

const MUTATIONS = API_FILES.flatMap((file) =>
  file.services.flatMap((service) =>
    service.methods
      .filter((method) => method.idempotency !== Idempotency.NO_SIDE_EFFECTS)
      .map((method) => `/${service.typeName}/${method.name}`),
  ),
);

describe("the audit log", () => {
  it("holds exactly one event for every change, describing it, and none for failed or replayed calls", async () => {
    const alice = as("alice");
    // Each call carries its own request id, which the event must name.
    const calls = new Map<string, string>(); // request id -> method
    const call = <T>(method: string, run: (options: { headers: Record<string, string> }) => Promise<T>) => {
      const requestId = randomUUID();
      calls.set(requestId, method);
      return run({ headers: { "x-request-id": requestId } });
    };
    const key = uniqueProjectKey("A");
    const project = await call("/tracker.v1.ProjectService/CreateProject", (o) =>
      alice.projects.createProject({ projectId: key, project: { displayName: "Audited" } }, o),
    );
    await call("/tracker.v1.ProjectService/UpdateProject", (o) =>
      alice.projects.updateProject(
        { project: { name: project.name, description: "new" }, updateMask: { paths: ["description"] } },
        o,
      ),
    );
    const bob = await userNamed(server, "bob");
    const member = await call("/tracker.v1.MemberService/CreateMember", (o) =>
      alice.members.createMember(
        { parent: project.name, member: { user: bob, role: Member_Role.READER } },
        o,
      ),
    );
    await call("/tracker.v1.MemberService/UpdateMember", (o) =>
      alice.members.updateMember(
        { member: { name: member.name, role: Member_Role.WRITER }, updateMask: { paths: ["role"] } },
        o,
      ),
    );
    const label = await call("/tracker.v1.LabelService/CreateLabel", (o) =>
      alice.labels.createLabel({ parent: project.name, labelId: "bug", label: { displayName: "Bug" } }, o),
    );
    await call("/tracker.v1.LabelService/UpdateLabel", (o) =>
      alice.labels.updateLabel(
        { label: { name: label.name, color: "#ff0000" }, updateMask: { paths: ["color"] } },
        o,
      ),
    );
    const issue = await call("/tracker.v1.IssueService/CreateIssue", (o) =>
      alice.issues.createIssue(
        { parent: project.name, issue: { title: "Audited issue", labels: [label.name] } },
        o,
      ),
    );
    await call("/tracker.v1.IssueService/UpdateIssue", (o) =>
      alice.issues.updateIssue(
        { issue: { name: issue.name, priority: Issue_Priority.HIGH }, updateMask: { paths: ["priority"] } },
        o,
      ),
    );
    const comment = await call("/tracker.v1.CommentService/CreateComment", (o) =>
      alice.comments.createComment({ parent: issue.name, comment: { body: "first" } }, o),
    );
    await call("/tracker.v1.CommentService/UpdateComment", (o) =>
      alice.comments.updateComment(
        { comment: { name: comment.name, body: "second" }, updateMask: { paths: ["body"] } },
        o,
      ),
    );
    await call("/tracker.v1.CommentService/DeleteComment", (o) =>
      alice.comments.deleteComment({ name: comment.name }, o),
    );
    const other = await call("/tracker.v1.IssueService/CreateIssue", (o) =>
      alice.issues.createIssue({ parent: project.name, issue: { title: "Related issue" } }, o),
    );
    const relation = await call("/tracker.v1.IssueRelationService/CreateIssueRelation", (o) =>
      alice.relations.createIssueRelation(
        { parent: issue.name, issueRelation: { type: IssueRelation_Type.BLOCKS, relatedIssue: other.name } },
        o,
      ),
    );
    await call("/tracker.v1.IssueRelationService/DeleteIssueRelation", (o) =>
      alice.relations.deleteIssueRelation({ name: relation.name }, o),
    );
    await call("/tracker.v1.LabelService/DeleteLabel", (o) =>
      alice.labels.deleteLabel({ name: label.name }, o),
    );
    // A webhook hears the deletion and the undeletion (its host is never resolved here: nothing is sent).
    const webhook = await call("/tracker.v1.WebhookService/CreateWebhook", (o) =>
      alice.webhooks.createWebhook(
        {
          parent: project.name,
          webhook: {
            url: "https://hooks.example.com/tracker",
            secret: randomUUID().repeat(2),
            eventTypes: [IssueEvent_Kind.ISSUE_DELETED, IssueEvent_Kind.ISSUE_UNDELETED],
          },
        },
        o,
      ),
    );
    await call("/tracker.v1.IssueService/DeleteIssue", (o) =>
      alice.issues.deleteIssue({ name: issue.name }, o),
    );
    await call("/tracker.v1.IssueService/UndeleteIssue", (o) =>
      alice.issues.undeleteIssue({ name: issue.name }, o),
    );
    const [delivery] = (await alice.webhooks.listWebhookDeliveries({ parent: webhook.name })).deliveries;
    await call("/tracker.v1.WebhookService/RedeliverWebhookDelivery", (o) =>
      alice.webhooks.redeliverWebhookDelivery({ name: delivery?.name ?? "" }, o),
    );
    await call("/tracker.v1.WebhookService/UpdateWebhook", (o) =>
      alice.webhooks.updateWebhook(
        { webhook: { name: webhook.name, active: false }, updateMask: { paths: ["active"] } },
        o,
      ),
    );
    await call("/tracker.v1.WebhookService/DeleteWebhook", (o) =>
      alice.webhooks.deleteWebhook({ name: webhook.name }, o),
    );
    await call("/tracker.v1.MemberService/DeleteMember", (o) =>
      alice.members.deleteMember({ name: member.name }, o),
    );
    await call("/tracker.v1.ProjectService/DeleteProject", (o) =>
      alice.projects.deleteProject({ name: project.name }, o),
    );
    await call("/tracker.v1.ProjectService/UndeleteProject", (o) =>
      alice.projects.undeleteProject({ name: project.name }, o),
    );
    const handle = `alice-${randomUUID().slice(0, 8)}`;
    const handleBefore = (await alice.users.getCurrentUser({})).handle;
    await call("/tracker.v1.UserService/UpdateUser", (o) =>
      alice.users.updateUser({ user: { name: "users/me", handle }, updateMask: { paths: ["handle"] } }, o),
    );

    // Calls that change nothing leave no event: a failure, a no-op update, a replayed create.
    await expectError(
      alice.projects.createProject(
        { projectId: key, project: { displayName: "again" } },
        { headers: { "x-request-id": "dup" } },
      ),
      Code.AlreadyExists,
    );
    await alice.issues.updateIssue(
      { issue: { name: issue.name, title: "Audited issue" }, updateMask: { paths: ["title"] } },
      { headers: { "x-request-id": "noop" } },
    );
    const requestId = randomUUID();
    const once = { parent: project.name, issue: { title: "once" }, requestId };
    await call("/tracker.v1.IssueService/CreateIssue", (o) => alice.issues.createIssue(once, o));
    await alice.issues.createIssue(once, { headers: { "x-request-id": "replay" } });

    // The scenario covers every mutating RPC of the API.
    expect([...new Set(calls.values())].sort()).toEqual([...MUTATIONS].sort());

    const events = await allAuditEvents();
    expect(events.filter((event) => ["dup", "noop", "replay"].includes(event.requestId))).toEqual([]);
    const aliceName = await userNamed(server, "alice");
    for (const [id, method] of calls) {
      const matching = events.filter((event) => event.requestId === id);
      expect(matching, `${method} ${id}`).toHaveLength(1);
      expect(matching[0]).toMatchObject({
        method,
        actor: aliceName,
        clientAddress: expect.stringMatching(/127\.0\.0\.1/),
      });
      expect(matching[0]?.name).toMatch(/^auditEvents\/\d+$/);
    }

    const byMethod = (method: string) => events.filter((event) => event.method === method);
    const change = (event: AuditEvent | undefined, field: string) => {
      const found = event?.changes.find((c) => c.field === field);
      return [found?.oldValue?.kind.value ?? null, found?.newValue?.kind.value ?? null];
    };
    expect(change(byMethod("/tracker.v1.ProjectService/UpdateProject")[0], "description")).toEqual([
      "",
      "new",
    ]);
    expect(change(byMethod("/tracker.v1.MemberService/UpdateMember")[0], "role")).toEqual([
      "ROLE_READER",
      "ROLE_WRITER",
    ]);
    expect(change(byMethod("/tracker.v1.IssueService/UpdateIssue")[0], "priority")).toEqual([
      "PRIORITY_NONE",
      "PRIORITY_HIGH",
    ]);
    expect(change(byMethod("/tracker.v1.CommentService/UpdateComment")[0], "body")).toEqual([
      "first",
      "second",
    ]);
    const handleChange = byMethod("/tracker.v1.UserService/UpdateUser").at(-1);
    expect(handleChange?.resource).toBe(aliceName);
    expect(handleChange?.changes.map((c) => c.field)).toEqual(["handle"]);
    expect(change(handleChange, "handle")).toEqual([handleBefore, handle]);
    expect(byMethod("/tracker.v1.CommentService/DeleteComment")[0]?.resource).toBe(comment.name);
    expect(byMethod("/tracker.v1.IssueService/CreateIssue")[0]?.resource).toBe(issue.name);
    // Server-set fields are not changes the caller made.
    for (const event of events) {
      expect(event.changes.map((c) => c.field)).not.toContain("etag");
      expect(event.changes.map((c) => c.field)).not.toContain("updateTime");
    }
  });

  it("filters by actor, resource (and everything below it), method and time", async () => {
    const carol = as("carol");
    const project = await carol.projects.createProject({
      projectId: uniqueProjectKey("F"),
      project: { displayName: "F" },
    });
    const issue = await carol.issues.createIssue({ parent: project.name, issue: { title: "filtered" } });
    const auditor = as("auditor").audit;
    const carolName = await userNamed(server, "carol");
    const byActor = await auditor.listAuditEvents({ filter: { actor: carolName } });
    expect(byActor.auditEvents.map((event) => event.resource).sort()).toEqual(
      [issue.name, project.name].sort(),
    );
    const below = await auditor.listAuditEvents({ filter: { resource: project.name } });
    expect(below.auditEvents.map((event) => event.resource).sort()).toEqual(
      [issue.name, project.name].sort(),
    );
    const byMethod = await auditor.listAuditEvents({
      filter: { actor: carolName, method: "/tracker.v1.IssueService/CreateIssue" },
    });
    expect(byMethod.auditEvents.map((event) => event.resource)).toEqual([issue.name]);
    const future = { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: 0 };
    const none = await auditor.listAuditEvents({
      filter: { actor: carolName, createTime: { startTime: future } },
    });
    expect(none.auditEvents).toEqual([]);
  });

  it("takes users/me as the actor: the instance admin's own changes", async () => {
    const auditor = as("auditor");
    const me = await auditor.users.updateUser({
      user: { name: "users/me", handle: `auditor-${randomUUID().slice(0, 8)}` },
      updateMask: { paths: ["handle"] },
    });
    const mine = await auditor.audit.listAuditEvents({ filter: { actor: "users/me" } });
    expect(mine.auditEvents.length).toBeGreaterThan(0);
    expect(new Set(mine.auditEvents.map((event) => event.actor))).toEqual(new Set([me.name]));
    expect(mine.auditEvents[0]?.resource).toBe(me.name);
  });

  it("is for instance admins only", async () => {
    await expectError(as("alice").audit.listAuditEvents({}), Code.PermissionDenied, "NOT_INSTANCE_ADMIN");
  });
});
