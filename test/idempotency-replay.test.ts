import { randomUUID } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { Member_Role, MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { IssueRelation_Type, IssueRelationService } from "../gen/proto/tracker/v1/relation_pb.js";
import { expireRequestIds } from "../src/domain/shared/idempotency.js";
import { API_FILES } from "../src/server/create-server.js";
import { addMember, uniqueProjectKey, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

// A request_id belongs to the caller who sent it, and a replay is authorised
// like a first call. For every RPC that takes a request_id (found from the
// descriptors, so a new one cannot be forgotten), the owner's request is
// replayed, byte for byte, by every other kind of caller: each must get
// exactly what the same request with a fresh id would get, and never the
// owner's response.

const ACTORS = ["anonymous", "outsider", "reader", "writer", "otherProjectAdmin"] as const;
type Actor = (typeof ACTORS)[number];
const SUBJECT: Record<Actor | "owner", string> = {
  owner: "replay-owner",
  anonymous: "",
  outsider: "replay-outsider",
  reader: "replay-reader",
  writer: "replay-writer",
  otherProjectAdmin: "replay-other-admin",
};

let server: TestServer;
let project: string;
let otherProject: string;
beforeAll(async () => {
  server = await startTestServer();
  project = (
    await as("owner").projects.createProject({
      projectId: uniqueProjectKey("R"),
      project: { displayName: "replays" },
    })
  ).name;
  await addMember(server, project, SUBJECT.reader, "reader", SUBJECT.owner);
  await addMember(server, project, SUBJECT.writer, "writer", SUBJECT.owner);
  otherProject = (
    await as("otherProjectAdmin").projects.createProject({
      projectId: uniqueProjectKey("S"),
      project: { displayName: "elsewhere" },
    })
  ).name;
  await userNamed(server, SUBJECT.outsider);
});
afterAll(() => server.close());

function as(actor: Actor | "owner" | (string & {})) {
  const transport = transportFor(
    "Connect binary over HTTP/2",
    server.baseUrl,
    SUBJECT[actor as Actor] ?? actor,
  );
  return {
    projects: createClient(ProjectService, transport),
    members: createClient(MemberService, transport),
    labels: createClient(LabelService, transport),
    issues: createClient(IssueService, transport),
    comments: createClient(CommentService, transport),
    relations: createClient(IssueRelationService, transport),
  };
}
type Clients = ReturnType<typeof as>;

/** What a Create needs in the project, and whether its body names a unique key. */
interface Row {
  role: "authenticated" | "writer" | "admin";
  /** A fresh body for `parent`, whose fixtures (an issue to comment on) `admin` makes. */
  body: (parent: string, admin?: Actor | "owner") => Promise<Record<string, unknown>>;
  /** The body names something only one caller can create (a project key, a label id, a member). */
  uniqueKey: boolean;
  call: (as: Clients, request: Record<string, unknown>) => Promise<{ name: string }>;
}

const ROWS: Record<string, Row> = {
  "tracker.v1.ProjectService.CreateProject": {
    role: "authenticated",
    uniqueKey: true,
    body: async () => ({ projectId: uniqueProjectKey("N"), project: { displayName: "new" } }),
    call: (as, request) => as.projects.createProject(request),
  },
  "tracker.v1.MemberService.CreateMember": {
    role: "admin",
    uniqueKey: true,
    body: async (parent) => ({
      parent,
      member: {
        user: await userNamed(server, `replay-new-${randomUUID().slice(0, 8)}`),
        role: Member_Role.READER,
      },
    }),
    call: (as, request) => as.members.createMember(request),
  },
  "tracker.v1.LabelService.CreateLabel": {
    role: "writer",
    uniqueKey: true,
    body: async (parent) => ({
      parent,
      labelId: `l-${randomUUID().slice(0, 8)}`,
      label: { displayName: "L" },
    }),
    call: (as, request) => as.labels.createLabel(request),
  },
  "tracker.v1.IssueService.CreateIssue": {
    role: "writer",
    uniqueKey: false,
    body: async (parent) => ({ parent, issue: { title: `private ${randomUUID()}` } }),
    call: (as, request) => as.issues.createIssue(request),
  },
  "tracker.v1.CommentService.CreateComment": {
    role: "writer",
    uniqueKey: false,
    body: async (parent, admin = "owner") => {
      const issue = await as(admin).issues.createIssue({ parent, issue: { title: "commented" } });
      return { parent: issue.name, comment: { body: `private ${randomUUID()}` } };
    },
    call: (as, request) => as.comments.createComment(request),
  },
  "tracker.v1.IssueRelationService.CreateIssueRelation": {
    role: "writer",
    // The same relation, from either side, exists once.
    uniqueKey: true,
    body: async (parent, admin = "owner") => {
      const [blocker, blocked] = await Promise.all(
        ["blocker", "blocked"].map((title) => as(admin).issues.createIssue({ parent, issue: { title } })),
      );
      return {
        parent: blocker?.name,
        issueRelation: { type: IssueRelation_Type.BLOCKS, relatedIssue: blocked?.name },
      };
    },
    call: (as, request) => as.relations.createIssueRelation(request),
  },
};

const METHODS_WITH_REQUEST_ID = API_FILES.flatMap((file) =>
  file.services.flatMap((service) =>
    service.methods
      .filter((method: DescMethod) => method.input.fields.some((field) => field.name === "request_id"))
      .map((method) => `${service.typeName}.${method.name}`),
  ),
);

/** The code a caller gets for a fresh request in the project, by the rules of the README. */
function codeFor(row: Row, actor: Actor): Code | "OK" {
  if (actor === "anonymous") return Code.Unauthenticated;
  if (row.role !== "authenticated") {
    if (actor === "outsider" || actor === "otherProjectAdmin") return Code.NotFound;
    const rank = { reader: 1, writer: 2, admin: 3 } as const;
    if (rank[actor] < rank[row.role]) return Code.PermissionDenied;
  }
  // Allowed: the owner's request already took any unique key it names.
  return row.uniqueKey ? Code.AlreadyExists : "OK";
}

const outcomeOf = (call: Promise<{ name: string }>) =>
  call.then(
    (created) => ({ code: "OK" as const, name: created.name }),
    (error: unknown) => ({ code: ConnectError.from(error).code, name: "" }),
  );
const codeName = (code: Code | "OK") => (code === "OK" ? "OK" : Code[code]);

describe("a replayed request_id", () => {
  it("has a row for every RPC that takes a request_id", () => {
    expect(Object.keys(ROWS).sort()).toEqual([...METHODS_WITH_REQUEST_ID].sort());
  });

  describe.each(Object.entries(ROWS))("%s", (_, row) => {
    it.each(ACTORS)("by %s gets what a fresh id would get, never the owner's response", async (actor) => {
      const requestId = randomUUID();
      const request = { ...(await row.body(project)), requestId };
      const original = await row.call(as("owner"), request);
      // The owner's own retry replays.
      expect((await row.call(as("owner"), request)).name).toBe(original.name);

      const replayed = await outcomeOf(row.call(as(actor), request));
      expect(codeName(replayed.code)).toBe(codeName(codeFor(row, actor)));
      if (replayed.code === "OK") expect(replayed.name).not.toBe(original.name);

      // The same request with a fresh id: indistinguishable.
      const fresh = await outcomeOf(row.call(as(actor), { ...request, requestId: randomUUID() }));
      expect(codeName(fresh.code)).toBe(codeName(replayed.code));
    });

    it("works for another caller in their own project: a request_id is not global", async () => {
      const requestId = randomUUID();
      await row.call(as("owner"), { ...(await row.body(project)), requestId });
      const own = await outcomeOf(
        row.call(as("otherProjectAdmin"), {
          ...(await row.body(otherProject, "otherProjectAdmin")),
          requestId,
        }),
      );
      expect(codeName(own.code)).toBe("OK");
    });

    const { role } = row;
    if (role !== "authenticated") {
      it("is authorised again: the owner's own retry after losing the role is refused", async () => {
        const subject = `replay-leaver-${randomUUID().slice(0, 8)}`;
        await addMember(server, project, subject, role, SUBJECT.owner);
        const request = { ...(await row.body(project)), requestId: randomUUID() };
        const first = await row.call(as(subject), request);
        expect((await row.call(as(subject), request)).name).toBe(first.name);

        const members = as("owner").members;
        const memberName = `${project}/members/${(await userNamed(server, subject)).split("/")[1]}`;
        await members.updateMember({
          member: { name: memberName, role: Member_Role.READER },
          updateMask: { paths: ["role"] },
        });
        expect(codeName((await outcomeOf(row.call(as(subject), request))).code)).toBe("PermissionDenied");
        await members.deleteMember({ name: memberName });
        expect(codeName((await outcomeOf(row.call(as(subject), request))).code)).toBe("NotFound");
      });
    }
  });
});

describe("request ids", () => {
  it("are forgotten after REQUEST_ID_RETENTION, so a late retry creates anew and the table stays bounded", async () => {
    const request = { parent: project, issue: { title: "kept a day" }, requestId: randomUUID() };
    const first = await as("owner").issues.createIssue(request);
    const db = server.ctx.db;
    await db
      .updateTable("idempotent_requests")
      .set({ create_time: sql<string>`now() - interval '25 hours'` })
      .where("request_id", "=", request.requestId)
      .execute();
    expect(await expireRequestIds(db)).toBeGreaterThanOrEqual(1n);
    const kept = await db
      .selectFrom("idempotent_requests")
      .select("request_id")
      .where("request_id", "=", request.requestId)
      .execute();
    expect(kept).toEqual([]);
    expect((await as("owner").issues.createIssue(request)).name).not.toBe(first.name);
  });
});

describe("a replayed CreateProject", () => {
  it("by its creator, removed from the project since, gets what a fresh call gets: the key is taken", async () => {
    const request = {
      projectId: uniqueProjectKey("G"),
      project: { displayName: "given away" },
      requestId: randomUUID(),
    };
    const created = await as("owner").projects.createProject(request);
    await addMember(server, created.name, SUBJECT.writer, "admin", SUBJECT.owner);
    const owner = `${created.name}/members/${(await userNamed(server, SUBJECT.owner)).split("/")[1]}`;
    await as("writer").members.deleteMember({ name: owner });
    const replay = await outcomeOf(as("owner").projects.createProject(request));
    const fresh = await outcomeOf(
      as("owner").projects.createProject({ ...request, requestId: randomUUID() }),
    );
    expect(codeName(replay.code)).toBe("AlreadyExists");
    expect(codeName(fresh.code)).toBe("AlreadyExists");
  });
});
