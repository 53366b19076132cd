import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { type Protocol, transportFor } from "./support/transports.js";

// Pages are bounded by bytes as well as by count (SECURITY.md): rows of the
// largest size the API accepts never make a List answer larger than the
// 4 MiB a message may be. A page holding fewer rows than asked, with a
// next_page_token, is allowed (AIP-158); walking the pages still yields
// every row exactly once.

const EMOJI = "😀".repeat(65536); // 65536 characters, 256 KiB of UTF-8
const OTHER_EMOJI = "😁".repeat(65536);
const CONTROL = "\u0001".repeat(65536); // 64 KiB of UTF-8, 384 KiB as JSON ("\u0001")
const PROTOCOLS_UNDER_TEST: Protocol[] = ["Connect JSON over HTTP/1.1", "gRPC over HTTP/2"];

let server: TestServer;
let issues: Client<typeof IssueService>;
let comments: Client<typeof CommentService>;

beforeAll(async () => {
  server = await startTestServer();
  const transport = transportFor("Connect binary over HTTP/2", server.baseUrl);
  issues = createClient(IssueService, transport);
  comments = createClient(CommentService, transport);
});

afterAll(async () => {
  await server?.close();
});

/** Every page of a List from its first, asking `pageSize` each time. */
async function walk<T>(
  list: (pageToken: string) => Promise<{ items: T[]; nextPageToken: string }>,
): Promise<{ items: T[]; pages: number[] }> {
  const items: T[] = [];
  const pages: number[] = [];
  let token = "";
  do {
    const page = await list(token);
    items.push(...page.items);
    pages.push(page.items.length);
    token = page.nextPageToken;
  } while (token !== "" && pages.length < 100);
  return { items, pages };
}

async function projectWithIssues(bodies: string[]): Promise<{ project: string; names: string[] }> {
  const project = await createProject(server);
  const names: string[] = [];
  for (const [index, body] of bodies.entries()) {
    names.push((await issues.createIssue({ parent: project, issue: { title: `big ${index}`, body } })).name);
  }
  return { project, names };
}

describe.each(PROTOCOLS_UNDER_TEST)("over %s", (protocol) => {
  const client = <S extends typeof IssueService | typeof CommentService>(service: S) =>
    createClient(service, transportFor(protocol, server.baseUrl));

  it("ListIssues of 17 issues of 256 KiB answers short pages that hold every issue once", async () => {
    const { project, names } = await projectWithIssues(Array(17).fill(EMOJI));
    const reader = client(IssueService);
    // All or nothing (AIP-231): too large to answer is a clear error, and fewer names are answered.
    const error = await reader.batchGetIssues({ parent: project, names }).catch((e) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((error as ConnectError).rawMessage).toMatch(/ask for fewer names/);
    expect((error as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe("RESPONSE_TOO_LARGE");
    for (const count of [1]) {
      const batch = await reader.batchGetIssues({ parent: project, names: names.slice(0, count) });
      expect(batch.issues.map((issue) => issue.name)).toEqual(names.slice(0, count));
    }
    for (const pageSize of [0, 20, 1000]) {
      const first = await reader.listIssues({ parent: project, pageSize });
      expect(first.issues.length).toBeGreaterThan(0);
      expect(first.issues.length).toBeLessThan(17);
      expect(first.nextPageToken).not.toBe("");
      const { items } = await walk(async (pageToken) => {
        const page = await reader.listIssues({ parent: project, pageSize, pageToken });
        return { items: page.issues, nextPageToken: page.nextPageToken };
      });
      expect(items.map((issue) => issue.name).sort()).toEqual([...names].sort());
      expect(items.every((issue) => issue.body === EMOJI)).toBe(true);
    }
  });

  it("ListIssues of issues whose bodies escape sixfold in JSON stays under the message limit", async () => {
    const { project, names } = await projectWithIssues(Array(12).fill(CONTROL));
    const reader = client(IssueService);
    const { items, pages } = await walk(async (pageToken) => {
      const page = await reader.listIssues({ parent: project, pageToken });
      return { items: page.issues, nextPageToken: page.nextPageToken };
    });
    expect(pages.length).toBeGreaterThan(1);
    expect(items.map((issue) => issue.name).sort()).toEqual([...names].sort());
  });

  it("ListIssueEvents of an issue with many large updates pages by bytes", async () => {
    const { project, names } = await projectWithIssues([EMOJI]);
    const issue = names[0] as string;
    for (let i = 0; i < 9; i++) {
      await issues.updateIssue({
        issue: { name: issue, body: i % 2 === 0 ? OTHER_EMOJI : EMOJI },
        updateMask: { paths: ["body"] },
      });
    }
    const reader = client(IssueService);
    for (const parent of [issue, project]) {
      const first = await reader.listIssueEvents({ parent });
      expect(first.nextPageToken).not.toBe("");
      const { items } = await walk(async (pageToken) => {
        const page = await reader.listIssueEvents({ parent, pageToken, pageSize: 1000 });
        return { items: page.events, nextPageToken: page.nextPageToken };
      });
      const sequences = items.map((event) => event.sequence);
      expect(sequences).toHaveLength(10);
      expect(new Set(sequences).size).toBe(10);
      expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
    }
  });

  it("WatchIssues replays large updates in batches bounded by bytes, every event once and in order", async () => {
    const { project, names } = await projectWithIssues([EMOJI]);
    const issue = names[0] as string;
    for (let i = 0; i < 6; i++) {
      await issues.updateIssue({
        issue: { name: issue, body: i % 2 === 0 ? OTHER_EMOJI : EMOJI },
        updateMask: { paths: ["body"] },
      });
    }
    // Each update's changes hold two bodies (512 KiB): one event a batch, the stream reads on.
    const abort = new AbortController();
    const sequences: bigint[] = [];
    for await (const message of client(IssueService).watchIssues(
      { parent: project, after: 0n },
      { signal: abort.signal },
    )) {
      if (message.event) sequences.push(message.event.sequence);
      if (sequences.length === 7) break;
    }
    abort.abort();
    expect(sequences).toHaveLength(7);
    expect(new Set(sequences).size).toBe(7);
    expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
  });

  it("ListComments of 17 comments of 256 KiB answers short pages that hold every comment once", async () => {
    const { names } = await projectWithIssues(["small"]);
    const issue = names[0] as string;
    const written: string[] = [];
    for (let i = 0; i < 17; i++) {
      written.push((await comments.createComment({ parent: issue, comment: { body: EMOJI } })).name);
    }
    const reader = client(CommentService);
    const first = await reader.listComments({ parent: issue });
    expect(first.comments.length).toBeGreaterThan(0);
    expect(first.nextPageToken).not.toBe("");
    const { items } = await walk(async (pageToken) => {
      const page = await reader.listComments({ parent: issue, pageToken });
      return { items: page.comments, nextPageToken: page.nextPageToken };
    });
    expect(items.map((comment) => comment.name)).toEqual(written);
  });
});
