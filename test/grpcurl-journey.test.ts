import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor } from "./support/transports.js";

// The README's grpcurl tour, step by step, with the real grpcurl through
// server reflection (no .proto files), so the README cannot lie.

const run = promisify(execFile);
const GRPCURL = ".tools/bin/grpcurl";

let server: TestServer;
let address: string;
let token: string;
beforeAll(async () => {
  server = await startTestServer();
  address = `127.0.0.1:${server.port}`;
  token = await tokenFor("journey");
});
afterAll(() => server.close());

async function grpcurl(args: string[], options: { data?: string; maxTime?: number } = {}) {
  const flags = ["-plaintext", "-H", `authorization: Bearer ${token}`];
  if (options.maxTime) flags.push("-max-time", String(options.maxTime));
  if (options.data !== undefined) flags.push("-d", options.data);
  const { stdout } = await run(GRPCURL, [...flags, address, ...args]);
  return stdout;
}
const call = async (method: string, data: object) =>
  JSON.parse(await grpcurl([method], { data: JSON.stringify(data) }));

describe.runIf(existsSync(GRPCURL))("the grpcurl tour from the README", () => {
  it("lists, describes, files and changes an issue, filters, watches and checks health", async () => {
    // list and describe, with nothing but reflection
    const services = (await grpcurl(["list"])).trim().split("\n");
    expect(services).toEqual(expect.arrayContaining(["tracker.v1.IssueService", "grpc.health.v1.Health"]));
    expect(await grpcurl(["describe", "tracker.v1.Issue"])).toContain("string title = 5");

    // create a project and an issue
    const project = await call("tracker.v1.ProjectService/CreateProject", {
      projectId: "TOUR",
      project: { displayName: "The tour" },
    });
    expect(project.name).toBe("projects/TOUR");
    const issue = await call("tracker.v1.IssueService/CreateIssue", {
      parent: "projects/TOUR",
      issue: { title: "Login fails on Safari", priority: "PRIORITY_HIGH" },
    });
    expect(issue).toMatchObject({ name: "projects/TOUR/issues/1", key: "TOUR-1", state: "STATE_OPEN" });

    // update with a mask and the etag just read
    const closed = await call("tracker.v1.IssueService/UpdateIssue", {
      issue: {
        name: issue.name,
        state: "STATE_CLOSED",
        closeReason: "CLOSE_REASON_COMPLETED",
        etag: issue.etag,
      },
      // grpcurl takes a FieldMask as an object, not the JSON string form.
      updateMask: { paths: ["state", "close_reason"] },
    });
    expect(closed).toMatchObject({ state: "STATE_CLOSED", closeReason: "CLOSE_REASON_COMPLETED" });
    expect(closed.closeTime).toBeDefined();
    // the same etag again is stale now
    const stale = await grpcurl(["tracker.v1.IssueService/UpdateIssue"], {
      data: JSON.stringify({
        issue: { name: issue.name, title: "x", etag: issue.etag },
        updateMask: { paths: ["title"] },
      }),
    }).then(
      () => "",
      (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
    );
    expect(stale).toContain("Code: Aborted");

    // list with a filter
    await call("tracker.v1.IssueService/CreateIssue", {
      parent: "projects/TOUR",
      issue: { title: "Dark mode" },
    });
    const open = await call("tracker.v1.IssueService/ListIssues", {
      parent: "projects/TOUR",
      filter: { states: ["STATE_OPEN"], query: "dark" },
    });
    expect(open.issues.map((found: { title: string }) => found.title)).toEqual(["Dark mode"]);

    // users/me in a filter, and a new handle
    const mine = await call("tracker.v1.IssueService/ListIssues", {
      parent: "projects/TOUR",
      filter: { reporter: "users/me" },
    });
    expect(mine.issues).toHaveLength(2);
    const me = await call("tracker.v1.UserService/UpdateUser", {
      user: { name: "users/me", handle: "journey-l" },
      updateMask: { paths: ["handle"] },
    });
    expect(me).toMatchObject({ name: mine.issues[0].reporter, handle: "journey-l" });

    // my open issues across projects
    const elsewhere = await call("tracker.v1.ProjectService/CreateProject", {
      projectId: "TOUR2",
      project: { displayName: "Another tour" },
    });
    const assigned = await call("tracker.v1.IssueService/CreateIssue", {
      parent: elsewhere.name,
      issue: { title: "Mine", assignee: me.name },
    });
    const across = await call("tracker.v1.IssueService/ListIssues", {
      parent: "projects/-",
      filter: { assignees: ["users/me"], states: ["STATE_OPEN"] },
    });
    expect(across.issues.map((found: { name: string }) => found.name)).toEqual([assigned.name]);

    // watch: the history from the start (a few events), bounded by -max-time
    const watched = await grpcurl(["tracker.v1.IssueService/WatchIssues"], {
      data: JSON.stringify({ parent: "projects/TOUR", after: "0" }),
      maxTime: 2,
    }).catch((error: { stdout: string }) => error.stdout);
    const kinds = [...watched.matchAll(/"kind": "(KIND_[A-Z_]+)"/g)].map((match) => match[1]);
    expect(kinds).toEqual(["KIND_ISSUE_CREATED", "KIND_ISSUE_UPDATED", "KIND_ISSUE_CREATED"]);

    // a sub-issue of TOUR-2, blocked by TOUR-1, which it shows as BLOCKED_BY
    const child = await call("tracker.v1.IssueService/CreateIssue", {
      parent: "projects/TOUR",
      issue: { title: "Dark mode: the editor", parent: "projects/TOUR/issues/2" },
    });
    expect(child).toMatchObject({ name: "projects/TOUR/issues/3", parent: "projects/TOUR/issues/2" });
    const relation = await call("tracker.v1.IssueRelationService/CreateIssueRelation", {
      parent: "projects/TOUR/issues/1",
      issueRelation: { type: "TYPE_BLOCKS", relatedIssue: child.name },
    });
    const { issueRelations } = await call("tracker.v1.IssueRelationService/ListIssueRelations", {
      parent: child.name,
    });
    expect(issueRelations).toEqual([
      expect.objectContaining({
        uid: relation.uid,
        type: "TYPE_BLOCKED_BY",
        relatedIssue: "projects/TOUR/issues/1",
      }),
    ]);

    // health, no token needed
    const { stdout } = await run(GRPCURL, ["-plaintext", address, "grpc.health.v1.Health/Check"]);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });
});
