import { randomUUID } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { Member_Role, MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { API_FILES } from "../src/server/create-server.js";
import { addMember, uniqueProjectKey, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";
import { readWatchIssues } from "./support/watch-stream.js";

// The authorisation matrix for what stays open: every server-streaming RPC
// (from the descriptors), opened by every role, through every change of that
// caller's membership while it is open. After the change the stream must
// behave exactly as a new call would: end with the new call's error (code,
// reason, message) and deliver nothing written after the change, or go on and
// deliver it. Judged by order, never by time.

const OWNER = "stream-owner";
const ROLES = ["reader", "writer", "admin"] as const;
type Role = (typeof ROLES)[number];
const CHANGES = ["removed", "leaves", "to reader", "to writer", "to admin", "project deleted"] as const;
type Change = (typeof CHANGES)[number];

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const clients = (subject: string) => {
  const transport = transportFor("gRPC over HTTP/2", server.baseUrl, subject);
  return {
    projects: createClient(ProjectService, transport),
    members: createClient(MemberService, transport),
    issues: createClient(IssueService, transport),
  };
};

interface OpenStream {
  /** Titles of the issues created on the stream, in order. */
  titles: string[];
  /** Resolves when the stream ends: undefined for OK, else its error. */
  ended: Promise<ConnectError | undefined>;
  /** Resolves once `title` has been delivered (rejects if the stream ends first). */
  delivered(title: string): Promise<void>;
  stop(): void;
}

interface StreamRow {
  /** Opens the stream on `project` as `subject`; resolves once it is open. */
  open(subject: string, project: string): Promise<OpenStream>;
  /** A new call of the same RPC by `subject`: undefined when let through, else its error. */
  fresh(subject: string, project: string): Promise<ConnectError | undefined>;
}

const STREAMS: Record<string, StreamRow> = {
  "tracker.v1.IssueService.WatchIssues": {
    async open(subject, project) {
      const stream = readWatchIssues(clients(subject).issues, project);
      await stream.opened;
      return {
        titles: stream.titles,
        ended: stream.ended,
        delivered: (title) =>
          stream.waitFor(
            () => stream.titles.includes(title),
            () => `the stream ended before "${title}" arrived`,
          ),
        stop: () => void stream.stop(),
      };
    },
    async fresh(subject, project) {
      try {
        for await (const _ of clients(subject).issues.watchIssues({ parent: project, after: 0n })) break;
        return undefined;
      } catch (error) {
        return ConnectError.from(error);
      }
    },
  },
};

const STREAMING_METHODS = API_FILES.flatMap((file) =>
  file.services.flatMap((service) =>
    service.methods
      .filter((method: DescMethod) => method.methodKind === "server_streaming")
      .map((method) => `${service.typeName}.${method.name}`),
  ),
);

const ROLE_OF = { reader: Member_Role.READER, writer: Member_Role.WRITER, admin: Member_Role.ADMIN };

/** Applies `change` to `subject`'s membership of `project`, as the change is made in real life. */
async function apply(change: Change, subject: string, project: string): Promise<void> {
  const member = `${project}/members/${(await userNamed(server, subject)).split("/")[1]}`;
  if (change === "removed") await clients(OWNER).members.deleteMember({ name: member });
  else if (change === "leaves") await clients(subject).members.deleteMember({ name: member });
  else if (change === "project deleted") await clients(OWNER).projects.deleteProject({ name: project });
  else {
    const role = ROLE_OF[change.slice("to ".length) as Role];
    await clients(OWNER).members.updateMember({
      member: { name: member, role },
      updateMask: { paths: ["role"] },
    });
  }
}

/** An issue written after the change; a deleted project is undeleted for it, as a writer would. */
async function writeMarker(project: string, change: Change): Promise<string> {
  const title = `marker ${randomUUID()}`;
  if (change === "project deleted") await clients(OWNER).projects.undeleteProject({ name: project });
  await clients(OWNER).issues.createIssue({ parent: project, issue: { title } });
  return title;
}

const reasons = (error: ConnectError | undefined) =>
  error?.findDetails(ErrorInfoSchema).map((info) => info.reason) ?? [];

describe("open streams through membership changes", () => {
  it("has a row for every server-streaming RPC", () => {
    expect(Object.keys(STREAMS).sort()).toEqual([...STREAMING_METHODS].sort());
  });

  describe.each(Object.entries(STREAMS))("%s", (_, row) => {
    const cases = ROLES.flatMap((role) =>
      CHANGES.filter((change) => change !== `to ${role}`).map((change) => [role, change] as const),
    );
    it.each(cases)("opened by a %s who is then %s, behaves as a new call", async (role, change) => {
      const project = (
        await clients(OWNER).projects.createProject({
          projectId: uniqueProjectKey("W"),
          project: { displayName: "streams" },
        })
      ).name;
      const subject = `stream-${role}-${randomUUID().slice(0, 8)}`;
      await addMember(server, project, subject, role, OWNER);
      const stream = await row.open(subject, project);
      try {
        await apply(change, subject, project);
        const fresh = await row.fresh(subject, project);
        const marker = await writeMarker(project, change);
        if (fresh) {
          const ended = await stream.ended;
          expect(ended?.code, `the stream ended with ${ended?.message}`).toBe(fresh.code);
          expect(ended?.rawMessage).toBe(fresh.rawMessage);
          expect(reasons(ended)).toEqual(reasons(fresh));
          expect(stream.titles).not.toContain(marker);
        } else {
          await stream.delivered(marker);
          stream.stop();
          expect((await stream.ended)?.code).toBe(Code.Canceled);
        }
      } finally {
        stream.stop();
      }
    });
  });
});
