import { type Client, Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

let server: TestServer;
let client: Client<typeof ProjectService>;
beforeAll(async () => {
  server = await startTestServer();
  client = createClient(ProjectService, transportFor("Connect binary over HTTP/2", server.baseUrl));
});
afterAll(() => server.close());

const keyOf = (n: number) => `L${n.toString().padStart(4, "0")}`;

async function listAll(pageSize: number, onPage?: (page: number) => Promise<void>): Promise<string[]> {
  const names: string[] = [];
  let pageToken = "";
  for (let page = 0; ; page++) {
    const response = await client.listProjects({ pageSize, pageToken });
    expect(response.projects.length).toBeLessThanOrEqual(pageSize);
    names.push(...response.projects.map((project) => project.name));
    if (response.nextPageToken === "") return names;
    pageToken = response.nextPageToken;
    await onPage?.(page);
  }
}

describe("ListProjects", () => {
  beforeAll(async () => {
    for (let n = 0; n < 25; n++)
      await client.createProject({ projectId: keyOf(n), project: { displayName: `P${n}` } });
  });

  it("pages through every project once, oldest first, ending with an empty token", async () => {
    const names = await listAll(7);
    expect(names).toEqual(Array.from({ length: 25 }, (_, n) => `projects/${keyOf(n)}`));
  });

  it("uses 50 as the default page size", async () => {
    for (let n = 25; n < 60; n++)
      await client.createProject({ projectId: keyOf(n), project: { displayName: "x" } });
    const first = await client.listProjects({});
    expect(first.projects).toHaveLength(50);
    expect(first.nextPageToken).not.toBe("");
  });

  it("clamps page sizes above 1000 instead of failing", async () => {
    const response = await client.listProjects({ pageSize: 100_000 });
    expect(response.projects.length).toBeGreaterThan(0);
    expect(response.nextPageToken).toBe("");
  });

  it("rejects a negative page size", async () => {
    const error = await expectError(client.listProjects({ pageSize: -1 }), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual(["page_size"]);
  });

  it("neither repeats nor skips a row while rows are inserted between pages", async () => {
    const before = new Set(await listAll(1000));
    let inserted = 0;
    const seen = await listAll(4, async () => {
      await client.createProject({
        projectId: `N${(inserted++).toString().padStart(4, "0")}`,
        project: { displayName: "new" },
      });
    });
    expect(new Set(seen).size).toBe(seen.length);
    for (const name of before) expect(seen).toContain(name);
    // Rows created after the listing started sort last, so the pager reaches them too.
    expect(seen.length).toBe(before.size + inserted);
  });

  it.each([
    ["garbage", "not-a-token", "INVALID_PAGE_TOKEN"],
    [
      "a token of another query",
      Buffer.from('{"q":"other","c":["2026-01-01 00:00:00+00","A"]}').toString("base64url"),
      "PAGE_TOKEN_MISMATCH",
    ],
  ])("rejects %s as page_token with INVALID_ARGUMENT", async (_, pageToken, reason) => {
    const error = await expectError(client.listProjects({ pageToken }), Code.InvalidArgument, reason);
    expect(violatedFields(error)).toEqual(["page_token"]);
  });

  it("rejects a token of this query with a cursor of the wrong shape with INVALID_ARGUMENT", async () => {
    const { nextPageToken } = await client.listProjects({ pageSize: 1 });
    const token = JSON.parse(Buffer.from(nextPageToken, "base64url").toString()) as { q: string; c: unknown };
    const pageToken = Buffer.from(JSON.stringify({ ...token, c: 42 })).toString("base64url");
    const error = await expectError(
      client.listProjects({ pageToken }),
      Code.InvalidArgument,
      "INVALID_PAGE_TOKEN",
    );
    expect(violatedFields(error)).toEqual(["page_token"]);
  });
});
