import { randomUUID } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditService } from "../gen/proto/tracker/v1/audit_pb.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import {
  Issue_CloseReason,
  Issue_State,
  IssueEvent_Kind,
  IssueService,
} from "../gen/proto/tracker/v1/issue_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { Member_Role, MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { IssueRelation_Type, IssueRelationService } from "../gen/proto/tracker/v1/relation_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { WebhookService } from "../gen/proto/tracker/v1/webhook_pb.js";
import { API_FILES } from "../src/server/create-server.js";
import { addMember, uniqueProjectKey, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

// Every RPC of the API, called as every kind of caller, with the exact code
// each must get. The RPC list comes from the service descriptors, so a new
// RPC without a row here fails the suite.

const ROLES = ["anonymous", "outsider", "reader", "writer", "admin", "otherProjectAdmin"] as const;
type Role = (typeof ROLES)[number];
const SUBJECT: Record<Role, string> = {
  anonymous: "",
  outsider: "matrix-outsider",
  reader: "matrix-reader",
  writer: "matrix-writer",
  admin: "matrix-admin",
  otherProjectAdmin: "matrix-other-admin",
};

/** What an RPC needs: "global" anyone signed in; the others a role in the project it touches. */
type Access = "global" | "instanceAdmin" | "reader" | "writer" | "admin" | "author";

const OK = "OK";
type Outcome = typeof OK | Code;

function expected(access: Access, role: Role): Outcome {
  if (role === "anonymous") return Code.Unauthenticated;
  if (access === "global") return OK;
  if (access === "instanceAdmin") return Code.PermissionDenied;
  // Outside the project: it does not exist for them.
  if (role === "outsider" || role === "otherProjectAdmin") return Code.NotFound;
  const rank = { reader: 1, writer: 2, admin: 3 } as const;
  // Comments are changed by their author (the admin, below) or an admin.
  const needed = access === "author" ? "admin" : access;
  return rank[role] >= rank[needed] ? OK : Code.PermissionDenied;
}

let server: TestServer;
let project: string;
beforeAll(async () => {
  server = await startTestServer();
  project = await newProject();
  await createClient(
    ProjectService,
    transportFor("Connect binary over HTTP/2", server.baseUrl, SUBJECT.otherProjectAdmin),
  ).createProject({ projectId: uniqueProjectKey("Q"), project: { displayName: "elsewhere" } });
  await userNamed(server, SUBJECT.outsider);
});
afterAll(() => server.close());

const clients = (subject: string) => {
  const transport = transportFor("Connect binary over HTTP/2", server.baseUrl, subject);
  return {
    projects: createClient(ProjectService, transport),
    members: createClient(MemberService, transport),
    labels: createClient(LabelService, transport),
    issues: createClient(IssueService, transport),
    comments: createClient(CommentService, transport),
    relations: createClient(IssueRelationService, transport),
    users: createClient(UserService, transport),
    audit: createClient(AuditService, transport),
    webhooks: createClient(WebhookService, transport),
  };
};
const admin = () => clients(SUBJECT.admin);

/** A project of the admin where the reader and the writer have their roles. */
async function newProject(): Promise<string> {
  const name = (
    await admin().projects.createProject({
      projectId: uniqueProjectKey("P"),
      project: { displayName: "matrix" },
    })
  ).name;
  await addMember(server, name, SUBJECT.reader, "reader", SUBJECT.admin);
  await addMember(server, name, SUBJECT.writer, "writer", SUBJECT.admin);
  return name;
}

/** Fresh things for one call, made by the admin only when the call needs them. */
const fixtures = {
  issue: async () =>
    (await admin().issues.createIssue({ parent: project, issue: { title: "matrix issue" } })).name,
  deletedIssue: async () => {
    const name = await fixtures.issue();
    await admin().issues.deleteIssue({ name });
    return name;
  },
  comment: async () =>
    (
      await admin().comments.createComment({
        parent: await fixtures.issue(),
        comment: { body: "by the admin" },
      })
    ).name,
  relation: async () =>
    (
      await admin().relations.createIssueRelation({
        parent: await fixtures.issue(),
        issueRelation: { type: IssueRelation_Type.RELATES_TO, relatedIssue: await fixtures.issue() },
      })
    ).name,
  label: async () =>
    (
      await admin().labels.createLabel({
        parent: project,
        labelId: `l-${randomUUID().slice(0, 8)}`,
        label: { displayName: "L" },
      })
    ).name,
  newUser: () => userNamed(server, `matrix-new-${randomUUID().slice(0, 8)}`),
  member: async () => {
    const user = await fixtures.newUser();
    return (
      await admin().members.createMember({ parent: project, member: { user, role: Member_Role.READER } })
    ).name;
  },
  /** In a project of its own: a project may have only 20 webhooks. */
  webhook: async (parent?: string) =>
    (
      await admin().webhooks.createWebhook({
        parent: parent ?? (await newProject()),
        // A name that never resolves (RFC 6761): deliveries fail without leaving the machine.
        webhook: {
          url: "https://hooks.invalid/matrix",
          secret: "matrix-secret-0123456789abcdef",
          eventTypes: [IssueEvent_Kind.ISSUE_CREATED],
        },
      })
    ).name,
  /** A delivery of a fresh webhook (queued by an issue the admin files after creating it). */
  delivery: async () => {
    const parent = await newProject();
    const webhook = await fixtures.webhook(parent);
    await admin().issues.createIssue({ parent, issue: { title: "delivered" } });
    const { deliveries } = await admin().webhooks.listWebhookDeliveries({ parent: webhook });
    return deliveries[0]?.name ?? "";
  },
  deletedProject: async () => {
    const name = await newProject();
    await admin().projects.deleteProject({ name });
    return name;
  },
};

type Clients = ReturnType<typeof clients>;
interface Row {
  access: Access;
  call: (as: Clients) => Promise<unknown>;
}

const MATRIX: Record<string, Row> = {
  // ProjectService
  "tracker.v1.ProjectService.CreateProject": {
    access: "global",
    call: (as) =>
      as.projects.createProject({ projectId: uniqueProjectKey("N"), project: { displayName: "new" } }),
  },
  "tracker.v1.ProjectService.GetProject": {
    access: "reader",
    call: (as) => as.projects.getProject({ name: project }),
  },
  "tracker.v1.ProjectService.ListProjects": { access: "global", call: (as) => as.projects.listProjects({}) },
  "tracker.v1.ProjectService.UpdateProject": {
    access: "admin",
    call: (as) =>
      as.projects.updateProject({
        project: { name: project, description: randomUUID() },
        updateMask: { paths: ["description"] },
      }),
  },
  "tracker.v1.ProjectService.DeleteProject": {
    access: "admin",
    call: async (as) => as.projects.deleteProject({ name: await newProject() }),
  },
  "tracker.v1.ProjectService.UndeleteProject": {
    access: "admin",
    call: async (as) => as.projects.undeleteProject({ name: await fixtures.deletedProject() }),
  },
  // MemberService
  "tracker.v1.MemberService.ListMembers": {
    access: "reader",
    call: (as) => as.members.listMembers({ parent: project }),
  },
  "tracker.v1.MemberService.CreateMember": {
    access: "admin",
    call: async (as) =>
      as.members.createMember({
        parent: project,
        member: { user: await fixtures.newUser(), role: Member_Role.READER },
      }),
  },
  "tracker.v1.MemberService.UpdateMember": {
    access: "admin",
    call: async (as) =>
      as.members.updateMember({
        member: { name: await fixtures.member(), role: Member_Role.WRITER },
        updateMask: { paths: ["role"] },
      }),
  },
  "tracker.v1.MemberService.DeleteMember": {
    access: "admin",
    call: async (as) => as.members.deleteMember({ name: await fixtures.member() }),
  },
  // LabelService
  "tracker.v1.LabelService.GetLabel": {
    access: "reader",
    call: async (as) => as.labels.getLabel({ name: await fixtures.label() }),
  },
  "tracker.v1.LabelService.ListLabels": {
    access: "reader",
    call: (as) => as.labels.listLabels({ parent: project }),
  },
  "tracker.v1.LabelService.CreateLabel": {
    access: "writer",
    call: (as) =>
      as.labels.createLabel({
        parent: project,
        labelId: `c-${randomUUID().slice(0, 8)}`,
        label: { displayName: "C" },
      }),
  },
  "tracker.v1.LabelService.UpdateLabel": {
    access: "writer",
    call: async (as) =>
      as.labels.updateLabel({
        label: { name: await fixtures.label(), color: "#123456" },
        updateMask: { paths: ["color"] },
      }),
  },
  "tracker.v1.LabelService.DeleteLabel": {
    access: "writer",
    call: async (as) => as.labels.deleteLabel({ name: await fixtures.label() }),
  },
  // IssueService
  "tracker.v1.IssueService.GetIssue": {
    access: "reader",
    call: async (as) => as.issues.getIssue({ name: await fixtures.issue() }),
  },
  "tracker.v1.IssueService.BatchGetIssues": {
    access: "reader",
    call: async (as) => as.issues.batchGetIssues({ parent: project, names: [await fixtures.issue()] }),
  },
  "tracker.v1.IssueService.ListIssues": {
    access: "reader",
    call: (as) => as.issues.listIssues({ parent: project }),
  },
  "tracker.v1.IssueService.CreateIssue": {
    access: "writer",
    call: (as) => as.issues.createIssue({ parent: project, issue: { title: "by the caller" } }),
  },
  "tracker.v1.IssueService.UpdateIssue": {
    access: "writer",
    call: async (as) =>
      as.issues.updateIssue({
        issue: {
          name: await fixtures.issue(),
          state: Issue_State.CLOSED,
          closeReason: Issue_CloseReason.COMPLETED,
        },
        updateMask: { paths: ["state", "close_reason"] },
      }),
  },
  "tracker.v1.IssueService.DeleteIssue": {
    access: "writer",
    call: async (as) => as.issues.deleteIssue({ name: await fixtures.issue() }),
  },
  "tracker.v1.IssueService.UndeleteIssue": {
    access: "writer",
    call: async (as) => as.issues.undeleteIssue({ name: await fixtures.deletedIssue() }),
  },
  "tracker.v1.IssueService.ListIssueEvents": {
    access: "reader",
    call: async (as) => as.issues.listIssueEvents({ parent: await fixtures.issue() }),
  },
  "tracker.v1.IssueService.WatchIssues": {
    access: "reader",
    // The first message (the start position) proves the stream was let through.
    call: async (as) => {
      const abort = new AbortController();
      try {
        for await (const _ of as.issues.watchIssues({ parent: project, after: 0n }, { signal: abort.signal }))
          break;
      } finally {
        abort.abort();
      }
    },
  },
  // CommentService
  "tracker.v1.CommentService.ListComments": {
    access: "reader",
    call: async (as) => as.comments.listComments({ parent: await fixtures.issue() }),
  },
  "tracker.v1.CommentService.CreateComment": {
    access: "writer",
    call: async (as) =>
      as.comments.createComment({ parent: await fixtures.issue(), comment: { body: "hi" } }),
  },
  "tracker.v1.CommentService.UpdateComment": {
    access: "author",
    call: async (as) =>
      as.comments.updateComment({
        comment: { name: await fixtures.comment(), body: "edited" },
        updateMask: { paths: ["body"] },
      }),
  },
  "tracker.v1.CommentService.DeleteComment": {
    access: "author",
    call: async (as) => as.comments.deleteComment({ name: await fixtures.comment() }),
  },
  // IssueRelationService
  "tracker.v1.IssueRelationService.ListIssueRelations": {
    access: "reader",
    call: async (as) => as.relations.listIssueRelations({ parent: await fixtures.issue() }),
  },
  "tracker.v1.IssueRelationService.CreateIssueRelation": {
    access: "writer",
    call: async (as) =>
      as.relations.createIssueRelation({
        parent: await fixtures.issue(),
        issueRelation: { type: IssueRelation_Type.BLOCKS, relatedIssue: await fixtures.issue() },
      }),
  },
  "tracker.v1.IssueRelationService.DeleteIssueRelation": {
    access: "writer",
    call: async (as) => as.relations.deleteIssueRelation({ name: await fixtures.relation() }),
  },
  // UserService
  "tracker.v1.UserService.GetCurrentUser": { access: "global", call: (as) => as.users.getCurrentUser({}) },
  "tracker.v1.UserService.GetUser": {
    // A member of the project: visible to those who share it.
    access: "reader",
    call: async (as) => as.users.getUser({ name: await userNamed(server, SUBJECT.writer) }),
  },
  "tracker.v1.UserService.SearchUsers": {
    // Anyone signed in may search; who is found depends on the projects shared (user-service.test.ts).
    access: "global",
    call: (as) => as.users.searchUsers({ query: "matrix" }),
  },
  "tracker.v1.UserService.UpdateUser": {
    // Everyone changes their own profile only (another user's is PERMISSION_DENIED: user-service.test.ts).
    access: "global",
    call: (as) =>
      as.users.updateUser({
        user: { name: "users/me", handle: `matrix-${randomUUID().slice(0, 8)}` },
        updateMask: { paths: ["handle"] },
      }),
  },
  // AuditService
  "tracker.v1.AuditService.ListAuditEvents": {
    access: "instanceAdmin",
    call: (as) => as.audit.listAuditEvents({}),
  },
  // WebhookService: admins only, reads too (a URL may carry the receiver's credentials).
  "tracker.v1.WebhookService.GetWebhook": {
    access: "admin",
    call: async (as) => as.webhooks.getWebhook({ name: await fixtures.webhook() }),
  },
  "tracker.v1.WebhookService.ListWebhooks": {
    access: "admin",
    call: (as) => as.webhooks.listWebhooks({ parent: project }),
  },
  "tracker.v1.WebhookService.CreateWebhook": {
    access: "admin",
    call: (as) =>
      as.webhooks.createWebhook({
        parent: project,
        webhook: {
          url: "https://hooks.invalid/created",
          secret: "matrix-secret-0123456789abcdef",
          eventTypes: [IssueEvent_Kind.ISSUE_DELETED],
        },
      }),
  },
  "tracker.v1.WebhookService.UpdateWebhook": {
    access: "admin",
    call: async (as) =>
      as.webhooks.updateWebhook({
        webhook: { name: await fixtures.webhook(), active: false },
        updateMask: { paths: ["active"] },
      }),
  },
  "tracker.v1.WebhookService.DeleteWebhook": {
    access: "admin",
    call: async (as) => as.webhooks.deleteWebhook({ name: await fixtures.webhook() }),
  },
  "tracker.v1.WebhookService.ListWebhookDeliveries": {
    access: "admin",
    call: async (as) => as.webhooks.listWebhookDeliveries({ parent: await fixtures.webhook() }),
  },
  "tracker.v1.WebhookService.RedeliverWebhookDelivery": {
    access: "admin",
    call: async (as) => as.webhooks.redeliverWebhookDelivery({ name: await fixtures.delivery() }),
  },
};

const ALL_METHODS = API_FILES.flatMap((file) =>
  file.services.flatMap((service: DescService) =>
    service.methods.map((method) => `${service.typeName}.${method.name}`),
  ),
);

describe("the authorisation matrix", () => {
  it("has a row for every RPC of the API, and no row for an RPC that does not exist", () => {
    expect(Object.keys(MATRIX).sort()).toEqual([...ALL_METHODS].sort());
  });

  describe.each(Object.entries(MATRIX))("%s", (_, row) => {
    it.each(ROLES)("as %s", async (role) => {
      const outcome: Outcome = await row.call(clients(SUBJECT[role])).then(
        () => OK,
        (error: unknown) => ConnectError.from(error).code,
      );
      const want = expected(row.access, role);
      expect(outcome === OK ? "OK" : Code[outcome]).toBe(want === OK ? "OK" : Code[want]);
    });
  });

  it("lets instance admins read the audit log", async () => {
    const { auditEvents } = await clients("auditor").audit.listAuditEvents({ pageSize: 5 });
    expect(auditEvents.length).toBeGreaterThan(0);
  });

  it("shows outsiders no trace of the project in lists, nor of its issues across projects", async () => {
    const { projects } = await clients(SUBJECT.outsider).projects.listProjects({
      showDeleted: true,
      pageSize: 1000,
    });
    expect(projects.map((p) => p.name)).not.toContain(project);
    await fixtures.issue();
    for (const subject of [SUBJECT.outsider, SUBJECT.otherProjectAdmin]) {
      const { issues } = await clients(subject).issues.listIssues({
        parent: "projects/-",
        showDeleted: true,
        pageSize: 1000,
      });
      expect(issues.filter((issue) => issue.name.startsWith(`${project}/`))).toEqual([]);
    }
    // A reader sees them, so the check above can fail.
    const { issues } = await clients(SUBJECT.reader).issues.listIssues({
      parent: "projects/-",
      pageSize: 1000,
    });
    expect(issues.some((issue) => issue.name.startsWith(`${project}/`))).toBe(true);
  });
});
