import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import * as hdr from "hdr-histogram-js";
import { bearerToken } from "../client/index.js";
import { createNodeTransport, type Protocol as NodeProtocol } from "../client/node.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { Issue_Priority, Issue_State, IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { openLeanWatchers } from "./lean-watcher.js";
import type { Call } from "./load.js";
import { PROJECTS, projectKey, WORDS } from "./seed.js";

export const PROTOCOLS = ["connect+proto h2", "grpc h2", "connect+json h1.1"] as const;
export type Protocol = (typeof PROTOCOLS)[number];
/** The bench's short names (its reports' keys) for the protocols of client/node.ts. */
const TRANSPORTS: Record<Protocol, NodeProtocol> = {
  "connect+proto h2": "Connect binary over HTTP/2",
  "grpc h2": "gRPC over HTTP/2",
  "connect+json h1.1": "Connect JSON over HTTP/1.1",
};

/** Connections per client: several, so that N cluster workers all get some. */
const CONNECTIONS = 8;
const WATCHERS_PER_CONNECTION = 50;

/** Runs one scenario: `call` in closed-loop streams; `stream` picks the connection. */
export type Scenario = (name: string, protocol: string, call: Call, note?: string) => Promise<void>;

type Clients<S extends typeof IssueService | typeof CommentService> = Array<Client<S>>;

/** CONNECTIONS clients of `service`, one connection each. */
export function clientsOf<S extends typeof IssueService | typeof CommentService>(
  service: S,
  baseUrl: string,
  protocol: Protocol,
  token?: string,
): Clients<S> {
  const interceptors = token ? [bearerToken(token)] : [];
  return Array.from({ length: CONNECTIONS }, () =>
    createClient(service, createNodeTransport(TRANSPORTS[protocol], baseUrl, interceptors)),
  );
}

const randomInt = (n: number) => Math.floor(Math.random() * n);
const randomProject = () => projectKey(randomInt(PROJECTS));
export const randomIssueName = (perProject: number) =>
  `projects/${randomProject()}/issues/${1 + randomInt(perProject)}`;
const at = <T>(list: T[], stream: number) => list[stream % list.length] as T;
const LIST_FILTER = { states: [Issue_State.OPEN, Issue_State.IN_PROGRESS] };
const PRIORITIES = [Issue_Priority.URGENT, Issue_Priority.HIGH, Issue_Priority.MEDIUM, Issue_Priority.LOW];

/** GetIssue on every protocol. */
export async function getIssueScenarios(
  scenario: Scenario,
  baseUrl: string,
  token: string | undefined,
  perProject: number,
  protocols: readonly Protocol[] = PROTOCOLS,
) {
  for (const protocol of protocols) {
    const issues = clientsOf(IssueService, baseUrl, protocol, token);
    await scenario("GetIssue", protocol, async (stream) => {
      await at(issues, stream).getIssue({ name: randomIssueName(perProject) });
    });
  }
}

/** Every scenario of the issue but GetIssue, over Connect binary on HTTP/2. */
export async function trackerScenarios(
  scenario: Scenario,
  baseUrl: string,
  token: string,
  perProject: number,
  wanted: (name: string) => boolean,
) {
  const issues = clientsOf(IssueService, baseUrl, "connect+proto h2", token);
  const comments = clientsOf(CommentService, baseUrl, "connect+proto h2", token);
  await scenario("BatchGetIssues(50)", "connect+proto h2", async (stream) => {
    const project = randomProject();
    const first = 1 + randomInt(Math.max(1, perProject - 50));
    const names = Array.from(
      { length: Math.min(50, perProject) },
      (_, i) => `projects/${project}/issues/${first + i}`,
    );
    await at(issues, stream).batchGetIssues({ parent: `projects/${project}`, names });
  });
  await scenario(
    "ListIssues first page",
    "connect+proto h2",
    async (stream) => {
      await at(issues, stream).listIssues({
        parent: `projects/${randomProject()}`,
        pageSize: 50,
        filter: LIST_FILTER,
        orderBy: "update_time desc",
      });
    },
    "50/page, state OPEN|IN_PROGRESS, update_time desc",
  );
  if (wanted("ListIssues deep page")) {
    // Walk 10 projects to their last page (at most 400 pages) and keep those tokens.
    const client = at(issues, 0);
    const deep: Array<{ parent: string; token: string; depth: number }> = [];
    for (let p = 0; p < 10; p++) {
      const parent = `projects/${projectKey(p)}`;
      let pageToken = "";
      let depth = 1;
      for (; depth < 400; depth++) {
        const page = await client.listIssues({
          parent,
          pageSize: 50,
          filter: LIST_FILTER,
          orderBy: "update_time desc",
          pageToken,
        });
        if (!page.nextPageToken) break;
        pageToken = page.nextPageToken;
      }
      if (pageToken) deep.push({ parent, token: pageToken, depth });
    }
    if (deep.length > 0) {
      await scenario(
        "ListIssues deep page",
        "connect+proto h2",
        async (stream) => {
          const d = deep[randomInt(deep.length)] as (typeof deep)[number];
          await at(issues, stream).listIssues({
            parent: d.parent,
            pageSize: 50,
            filter: LIST_FILTER,
            orderBy: "update_time desc",
            pageToken: d.token,
          });
        },
        `the last page, reached by tokens at depth ${Math.min(...deep.map((d) => d.depth))}+`,
      );
    }
  }
  await scenario(
    "ListIssues search",
    "connect+proto h2",
    async (stream) => {
      await at(issues, stream).listIssues({
        parent: `projects/${randomProject()}`,
        pageSize: 50,
        filter: { query: `${WORDS[randomInt(WORDS.length)]} ${WORDS[randomInt(WORDS.length)]}` },
      });
    },
    "full-text, two words",
  );
  // The two-word search above matches more issues as a project grows (about
  // 2.5% of them), so its cost grows with the matches it must sort. An issue's
  // number is in its title: searching for one matches one issue per project at
  // every size, which isolates what the index lookup itself costs.
  await scenario(
    "ListIssues search (selective)",
    "connect+proto h2",
    async (stream) => {
      const number = 1 + randomInt(perProject);
      const { issues: found } = await at(issues, stream).listIssues({
        parent: `projects/${randomProject()}`,
        pageSize: 50,
        filter: { query: String(number) },
      });
      if (found.length !== 1) throw new Error(`search for ${number} found ${found.length} issues, not 1`);
    },
    "full-text, one issue's number: one match per project",
  );
  await createIssueScenario(scenario, baseUrl, token);
  let aborted = 0;
  await scenario(
    "UpdateIssue",
    "connect+proto h2",
    async (stream) => {
      const client = at(issues, stream);
      const name = randomIssueName(perProject);
      let current = await client.getIssue({ name });
      for (let attempt = 0; ; attempt++) {
        try {
          await client.updateIssue({
            issue: { name, etag: current.etag, priority: PRIORITIES[randomInt(PRIORITIES.length)] },
            updateMask: { paths: ["priority"] },
          });
          return;
        } catch (error) {
          if (!(error instanceof ConnectError) || error.code !== Code.Aborted || attempt >= 5) throw error;
          aborted++;
          current = await client.getIssue({ name });
        }
      }
    },
    "GetIssue + UpdateIssue(mask priority, etag)",
  );
  process.stderr.write(`  UpdateIssue: ${aborted} ABORTED (stale etag) re-reads, warm-up included\n`);
  await scenario("CreateComment", "connect+proto h2", async (stream) => {
    await at(comments, stream).createComment({
      parent: randomIssueName(perProject),
      comment: { body: "Seen again by the benchmark." },
    });
  });
}

export async function createIssueScenario(scenario: Scenario, baseUrl: string, token: string) {
  const issues = clientsOf(IssueService, baseUrl, "connect+proto h2", token);
  await scenario("CreateIssue", "connect+proto h2", async (stream) => {
    await at(issues, stream).createIssue({
      parent: `projects/${randomProject()}`,
      issue: {
        title: `Bench issue ${WORDS[randomInt(WORDS.length)]}`,
        body: "Created by the benchmark.",
        priority: Issue_Priority.MEDIUM,
      },
    });
  });
}

export interface WatchResult {
  watchers: number;
  commits: number;
  expected: number;
  delivered: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Highest RSS of any one server process sampled while the streams were open, in MiB. */
  serverPeakRssMiB?: number;
}

/**
 * WatchIssues fan-out: `watchers` streams on one project, held as separate
 * clients would hold them (bench/lean-watcher.ts), then commits one at a
 * time; each delivery's time from the commit's request is recorded.
 */
export async function watchFanOut(baseUrl: string, token: string, watchers: number): Promise<WatchResult> {
  const parent = `projects/${projectKey(0)}`;
  const writer = at(clientsOf(IssueService, baseUrl, "connect+proto h2", token), 0);
  const arrivals = new Map<string, number[]>();
  let failures = 0;
  const streams = openLeanWatchers({
    baseUrl,
    token,
    parent,
    count: watchers,
    // Well under the server's MAX_CONCURRENT_STREAMS (100): streams past it would wait, never open.
    perConnection: WATCHERS_PER_CONNECTION,
    arrived: (issue) => {
      const list = arrivals.get(issue) ?? [];
      list.push(performance.now());
      arrivals.set(issue, list);
    },
    failed: (error) => {
      if (failures++ < 5) process.stderr.write(`  watcher ended: ${String(error)}\n`);
    },
  });
  await Promise.race([streams.opened, new Promise((resolve) => setTimeout(resolve, 60_000))]);
  const commits = 20;
  const committed = new Map<string, number>();
  // The first few commits warm the delivery path up (V8 optimises it) and are not counted.
  const warmupCommits = 3;
  for (let i = -warmupCommits; i < commits; i++) {
    // Timed from the write's request: its answer can reach this busy process
    // after the streams' events do.
    const sent = performance.now();
    const issue = await writer.createIssue({ parent, issue: { title: `Watched issue ${i}` } });
    if (i >= 0) committed.set(issue.name, sent);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  streams.close();
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000 });
  let delivered = 0;
  for (const [name, committedAt] of committed) {
    for (const arrival of arrivals.get(name) ?? []) {
      delivered++;
      histogram.recordValue(Math.max(1, Math.round((arrival - committedAt) * 1000)));
    }
  }
  const result = {
    watchers,
    commits,
    expected: watchers * commits,
    delivered,
    p50Ms: histogram.getValueAtPercentile(50) / 1000,
    p90Ms: histogram.getValueAtPercentile(90) / 1000,
    p99Ms: histogram.getValueAtPercentile(99) / 1000,
    maxMs: histogram.maxValue / 1000,
  };
  histogram.destroy();
  return result;
}
