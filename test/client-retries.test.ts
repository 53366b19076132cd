import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retries } from "../client/index.js";
import { createNodeTransport } from "../client/node.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { actingAs } from "./support/transports.js";

// The client package's retries (client/index.ts) against a real server: a
// safe call is tried again after UNAVAILABLE, a write with the same
// request_id, so the server replays what the first try did.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

/** UNAVAILABLE for the first `failures` tries of each call: after the server answered, when `answered`. */
function flaky(failures: number, answered: boolean) {
  const tries: Array<{ method: string; requestId: unknown }> = [];
  const interceptor: Interceptor = (next) => async (req) => {
    tries.push({ method: req.method.name, requestId: (req.message as { requestId?: unknown }).requestId });
    const failing = tries.filter((tried) => tried.method === req.method.name).length <= failures;
    if (failing && !answered) throw new ConnectError("the server went away", Code.Unavailable);
    const res = await next(req);
    if (failing) throw new ConnectError("the answer was lost", Code.Unavailable);
    return res;
  };
  return { interceptor, tries };
}

const issuesWith = (...interceptors: Interceptor[]) =>
  createClient(
    IssueService,
    createNodeTransport("Connect binary over HTTP/2", server.baseUrl, [
      retries({ baseDelayMs: 10 }),
      actingAs("alice"),
      ...interceptors,
    ]),
  );

describe("the client's retries", () => {
  it("tries a create again with the same request_id when its answer was lost: one issue, not two", async () => {
    const project = await createProject(server);
    const { interceptor, tries } = flaky(1, true);
    const issue = await issuesWith(interceptor).createIssue({ parent: project, issue: { title: "once" } });
    expect(tries).toHaveLength(2);
    expect(tries[0]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(tries[1]?.requestId).toBe(tries[0]?.requestId);
    const listed = await issuesWith().listIssues({ parent: project });
    expect(listed.issues.map((found) => found.name)).toEqual([issue.name]);
  });

  it("gives up on a read after its attempts, with UNAVAILABLE", async () => {
    const project = await createProject(server);
    const { interceptor, tries } = flaky(10, false);
    const error = await issuesWith(interceptor)
      .listIssues({ parent: project })
      .then(
        () => expect.fail("every try failed"),
        (thrown: unknown) => ConnectError.from(thrown),
      );
    expect(error.code).toBe(Code.Unavailable);
    expect(tries).toHaveLength(3);
  });

  it("does not try again a write that takes no request_id (UpdateIssue): it may have been done", async () => {
    const project = await createProject(server);
    const created = await issuesWith().createIssue({ parent: project, issue: { title: "edit me" } });
    const { interceptor, tries } = flaky(1, false);
    const error = await issuesWith(interceptor)
      .updateIssue({ issue: { name: created.name, title: "edited" }, updateMask: { paths: ["title"] } })
      .then(
        () => expect.fail("the only try failed"),
        (thrown: unknown) => ConnectError.from(thrown),
      );
    expect(error.code).toBe(Code.Unavailable);
    expect(tries).toHaveLength(1);
  });
});
