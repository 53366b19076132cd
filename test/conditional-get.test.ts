import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor } from "./support/transports.js";

// Conditional GET on the read-only RPCs served over Connect GET, as a
// browser or curl sends it: 200 with an ETag, then 304 with If-None-Match.

let server: TestServer;
let project: string;
let issue: string;
beforeAll(async () => {
  server = await startTestServer();
  project = await createProject(server, "alice");
  await addMember(server, project, "reader", "reader");
  issue = (
    await clientsFor(server, "alice").issues.createIssue({ parent: project, issue: { title: "Cached" } })
  ).name;
});
afterAll(() => server.close());

/** A Connect GET of `procedure` with `message` as JSON, as `user`. */
async function get(user: string, procedure: string, message: object, headers: Record<string, string> = {}) {
  const query = `connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`;
  return fetch(`${server.baseUrl}/${procedure}?${query}`, {
    headers: { authorization: `Bearer ${await tokenFor(user)}`, ...headers },
  });
}

describe.each([
  ["tracker.v1.ProjectService/GetProject", () => ({ name: project })],
  ["tracker.v1.IssueService/GetIssue", () => ({ name: issue })],
  ["tracker.v1.IssueService/ListIssues", () => ({ parent: "projects/-" })],
  ["tracker.v1.UserService/GetCurrentUser", () => ({})],
])("%s over Connect GET", (procedure, message) => {
  it("answers 200 with an ETag and private, no-cache; then 304 with no body for that ETag", async () => {
    const first = await get("alice", procedure, message());
    expect(first.status).toBe(200);
    const body = await first.text();
    expect(body.length).toBeGreaterThan(0);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(first.headers.get("cache-control")).toBe("private, no-cache");

    const again = await get("alice", procedure, message(), { "if-none-match": etag as string });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(again.headers.get("etag")).toBe(etag);
    expect(again.headers.get("cache-control")).toBe("private, no-cache");
    // The weak form and a list holding it match too (If-None-Match compares weakly).
    for (const ifNoneMatch of [`W/${etag}`, `"other", ${etag}`, "*"]) {
      expect((await get("alice", procedure, message(), { "if-none-match": ifNoneMatch })).status).toBe(304);
    }
    // Another ETag is not a match: the whole answer, the same as the first.
    const other = await get("alice", procedure, message(), { "if-none-match": '"something-else"' });
    expect(other.status).toBe(200);
    expect(await other.text()).toBe(body);
    expect(other.headers.get("etag")).toBe(etag);
  });
});

describe("conditional GET", () => {
  it("a changed resource is 200 again, with a new ETag", async () => {
    const first = await get("alice", "tracker.v1.IssueService/GetIssue", { name: issue });
    const etag = first.headers.get("etag") as string;
    await clientsFor(server, "alice").issues.updateIssue({
      issue: { name: issue, title: "Cached, then changed" },
      updateMask: { paths: ["title"] },
    });
    const changed = await get(
      "alice",
      "tracker.v1.IssueService/GetIssue",
      { name: issue },
      { "if-none-match": etag },
    );
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as { title: string }).title).toBe("Cached, then changed");
    expect(changed.headers.get("etag")).not.toBe(etag);
    expect(changed.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
  });

  it("the ETag depends on what is answered, not on who asks it", async () => {
    const forAlice = await get("alice", "tracker.v1.ProjectService/GetProject", { name: project });
    const forReader = await get("reader", "tracker.v1.ProjectService/GetProject", { name: project });
    expect(forReader.headers.get("etag")).toBe(forAlice.headers.get("etag"));
    const otherProject = await createProject(server, "alice");
    const other = await get("alice", "tracker.v1.ProjectService/GetProject", { name: otherProject });
    expect(other.headers.get("etag")).not.toBe(forAlice.headers.get("etag"));
  });

  it("the gzip and identity forms have their own ETags, and the answer says it varies by Accept-Encoding", async () => {
    // Large enough to be compressed (connect compresses bodies of 1 KiB and more).
    const big = (
      await clientsFor(server, "alice").issues.createIssue({
        parent: project,
        issue: { title: "Large", body: "A description long enough to compress. ".repeat(60) },
      })
    ).name;
    const asked = (acceptEncoding: string) =>
      get("alice", "tracker.v1.IssueService/GetIssue", { name: big }, { "accept-encoding": acceptEncoding });
    const gzipped = await asked("gzip");
    const identity = await asked("identity");
    expect(gzipped.headers.get("content-encoding")).toBe("gzip");
    expect(identity.headers.get("content-encoding")).toBeNull();
    // fetch decodes the gzip: the same resource, two byte forms, two strong ETags.
    expect(await gzipped.text()).toBe(await identity.text());
    expect(gzipped.headers.get("etag")).not.toBe(identity.headers.get("etag"));
    // Without Vary: Accept-Encoding a cache could hand the gzip bytes to a client that cannot read them.
    for (const answer of [gzipped, identity]) {
      const vary = (answer.headers.get("vary") ?? "").toLowerCase().split(/\s*,\s*/);
      expect(vary).toContain("accept-encoding");
    }
  });

  it("a non-member sending a member's ETag gets NOT_FOUND, not 304", async () => {
    const member = await get("alice", "tracker.v1.IssueService/GetIssue", { name: issue });
    const etag = member.headers.get("etag") as string;
    for (const ifNoneMatch of [etag, "*"]) {
      const stranger = await get(
        "stranger",
        "tracker.v1.IssueService/GetIssue",
        { name: issue },
        {
          "if-none-match": ifNoneMatch,
        },
      );
      expect(stranger.status).toBe(404);
      expect(((await stranger.json()) as { code: string }).code).toBe("not_found");
      expect(stranger.headers.get("etag")).toBeNull();
    }
  });

  it("errors never get an ETag or a 304", async () => {
    const invalid = await get(
      "alice",
      "tracker.v1.IssueService/GetIssue",
      { name: "not a name" },
      {
        "if-none-match": "*",
      },
    );
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get("etag")).toBeNull();
    const unauthenticated = await fetch(
      `${server.baseUrl}/tracker.v1.ProjectService/GetProject?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ name: project }))}`,
      { headers: { "if-none-match": "*" } },
    );
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("etag")).toBeNull();
  });

  it("POST and HEAD are left as they were: no ETag, never 304", async () => {
    const headers = {
      authorization: `Bearer ${await tokenFor("alice")}`,
      "content-type": "application/json",
      "if-none-match": "*",
    };
    const post = await fetch(`${server.baseUrl}/tracker.v1.ProjectService/GetProject`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: project }),
    });
    expect(post.status).toBe(200);
    expect(((await post.json()) as { name: string }).name).toBe(project);
    expect(post.headers.get("etag")).toBeNull();
    const query = `connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ name: project }))}`;
    const head = await fetch(`${server.baseUrl}/tracker.v1.ProjectService/GetProject?${query}`, {
      method: "HEAD",
      headers: { authorization: headers.authorization, "if-none-match": "*" },
    });
    // Connect serves GET only: HEAD is refused before any handler runs, as it always was.
    expect(head.status).toBe(405);
    expect(head.headers.get("etag")).toBeNull();
  });
});
