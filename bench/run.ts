import { setMaxListeners } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as hdr from "hdr-histogram-js";
import pg from "pg";
import { pino } from "pino";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { Issue_Priority, Issue_State, IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { createDevAuthenticator, mintDevToken } from "../src/auth/dev-issuer.js";
import type { AppContext } from "../src/context.js";
import { applyMigrations } from "../src/db/atlas.js";
import { connectDatabase } from "../src/db/database.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../src/db/embedded-postgres.js";
import { IssueEventBus } from "../src/db/issue-event-bus.js";
import { createMetrics } from "../src/observability/metrics.js";
import { createTracing } from "../src/observability/tracing.js";
import { createServer } from "../src/server.js";
import { selectIssues } from "../src/services/issues/issue-rows.js";
import { startBareConnectServer } from "./baseline.js";
import { runScenario, type ScenarioResult } from "./load.js";
import { type BenchReport, compare, toMarkdown, type WatchResult } from "./report.js";
import { BENCH_SUBJECT, PROJECTS, projectKey, seed, WORDS } from "./seed.js";

// Many concurrent calls share signals (deadlines, shutdown) inside connect-node: not a leak.
setMaxListeners(0);

const SIZES: Record<string, number> = { "10k": 10_000, "100k": 100_000, "1m": 1_000_000 };
const POOL_MAX = 20;

const { values: args } = parseArgs({
  options: {
    size: { type: "string", default: "10k" },
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "64" },
    watchers: { type: "string", default: "200" },
    compare: { type: "string" },
    only: { type: "string" },
  },
});
const issueCount = SIZES[args.size ?? "10k"];
if (!issueCount) throw new Error(`--size must be one of ${Object.keys(SIZES).join(", ")}`);
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const watchers = Number(args.watchers);
const log = (line: string) => process.stderr.write(`${line}\n`);
const wanted = (name: string) => !args.only || name.toLowerCase().includes(args.only.toLowerCase());

const startedAt = new Date();
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "results");
const scratch = mkdtempSync(join(tmpdir(), "tracker-bench-"));
// As root, the embedded PostgreSQL runs as "postgres", which must enter this directory.
chmodSync(scratch, 0o711);
const cleanups: Array<() => Promise<void>> = [];

try {
  // 1. Database: DATABASE_URL (migrated and seeded in place) or an embedded PostgreSQL in a temp dir.
  let databaseUrl = process.env.DATABASE_URL;
  let embedded: EmbeddedDatabase | undefined;
  if (!databaseUrl) {
    log(`starting embedded PostgreSQL in ${scratch}`);
    embedded = await startEmbeddedPostgres(join(scratch, "postgres"), { persistent: false });
    const stop = embedded.stop;
    cleanups.push(() => stop());
    await embedded.createDatabase("tracker");
    databaseUrl = embedded.urlFor("tracker");
  }
  log("applying migrations with Atlas");
  await applyMigrations(databaseUrl);
  log(`seeding ${issueCount} issues across ${PROJECTS} projects`);
  const seeded = await seed(databaseUrl, issueCount, log);
  log(`seeded ${seeded.issues} issues in ${seeded.seconds.toFixed(1)}s`);
  const perProject = seeded.issuesPerProject;

  // 2. The tracker, in this process, as main.ts composes it (dev authentication, generous limits).
  const logger = pino({ level: "silent" });
  const database = connectDatabase(databaseUrl, { poolMax: POOL_MAX });
  const issueEvents = new IssueEventBus(databaseUrl, logger);
  await issueEvents.start();
  const shutdown = new AbortController();
  // Every request in flight listens for shutdown: no listener limit applies.
  setMaxListeners(0, shutdown.signal);
  const ctx: AppContext = {
    db: database.db,
    database,
    logger,
    issueEvents,
    shutdown: shutdown.signal,
    authenticator: await createDevAuthenticator(scratch),
    instanceAdmins: new Set(),
    metrics: createMetrics(database),
    tracing: createTracing({ serviceName: "tracker-bench" }),
    limits: {
      ratePerSecond: 10_000_000,
      burst: 10_000_000,
      maxWatchStreamsPerUser: watchers + concurrency + 10,
      maxDeadlineMs: 60_000,
    },
  };
  const server = createServer(ctx);
  const address = await server.listen(0, "127.0.0.1");
  const baseUrl = `http://127.0.0.1:${address.port}`;
  cleanups.unshift(async () => {
    shutdown.abort();
    await server.close(1_000);
    await issueEvents.close();
    await database.close();
  });
  log(`tracker on ${baseUrl}`);

  const token = await mintDevToken(scratch, {
    sub: BENCH_SUBJECT,
    email: "bench@example.com",
    name: "bench",
  });
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transports: Record<string, Transport> = {
    "connect+proto h2": createConnectTransport({
      baseUrl,
      httpVersion: "2",
      useBinaryFormat: true,
      interceptors: [auth],
    }),
    "grpc h2": createGrpcTransport({ baseUrl, interceptors: [auth] }),
    "connect+json h1.1": createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors: [auth],
    }),
  };
  const issues = (protocol: string) => createClient(IssueService, transports[protocol] as Transport);
  const h2 = issues("connect+proto h2");
  const comments = createClient(CommentService, transports["connect+proto h2"] as Transport);

  const randomInt = (n: number) => Math.floor(Math.random() * n);
  const randomProject = () => projectKey(randomInt(PROJECTS));
  const randomIssueName = () => `projects/${randomProject()}/issues/${1 + randomInt(perProject)}`;
  const opts = { seconds, concurrency };
  const results: ScenarioResult[] = [];
  const scenario = async (
    name: string,
    protocol: string,
    call: (stream: number, iteration: number) => Promise<void>,
    note?: string,
  ) => {
    if (!wanted(name)) return;
    log(`running ${name} [${protocol}] for ${seconds}s at concurrency ${concurrency}`);
    const result = await runScenario(name, protocol, { ...opts, ...(note && { note }) }, call);
    log(
      `  ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, errors ${result.errors}`,
    );
    results.push(result);
  };

  // 3a. The database's limit: the SQL GetIssue runs (access check, then the issue with its labels), straight through pg.
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: POOL_MAX,
    options: "-c TimeZone=UTC -c statement_timeout=15000",
  });
  cleanups.unshift(() => pool.end());
  const accessQuery = database.db
    .selectFrom("projects")
    .leftJoin("members", (join) =>
      join.onRef("members.project_uid", "=", "projects.uid").on("members.user_uid", "=", "$USER"),
    )
    .selectAll("projects")
    .select("members.role as caller_role")
    .where("projects.key", "=", "$KEY")
    .compile();
  const issueQuery = selectIssues(database.db, "$PROJECT").where("number", "=", "$NUMBER").compile();
  const bind = (params: readonly unknown[], values: Record<string, unknown>) =>
    params.map((p) => (typeof p === "string" && p in values ? values[p] : p));
  await scenario("GetIssue", "database limit (pg)", async () => {
    const access = await pool.query(
      accessQuery.sql,
      bind(accessQuery.parameters, { $USER: seeded.benchUserUid, $KEY: randomProject() }),
    );
    const project = access.rows[0] as { uid: string; caller_role: string | null } | undefined;
    if (!project?.caller_role) throw new Error("no access");
    const issue = await pool.query(
      issueQuery.sql,
      bind(issueQuery.parameters, { $PROJECT: project.uid, $NUMBER: String(1 + randomInt(perProject)) }),
    );
    if (issue.rowCount !== 1) throw new Error("issue not found");
  });

  // 3b. The framework's limit: a bare Connect handler, same clients.
  const bare = await startBareConnectServer();
  cleanups.unshift(() => bare.close());
  const bareClients = {
    "connect+proto h2": createClient(
      IssueService,
      createConnectTransport({ baseUrl: bare.baseUrl, httpVersion: "2", useBinaryFormat: true }),
    ),
    "grpc h2": createClient(IssueService, createGrpcTransport({ baseUrl: bare.baseUrl })),
  };
  for (const [protocol, client] of Object.entries(bareClients)) {
    await scenario("GetIssue", `framework limit (${protocol})`, async () => {
      await client.getIssue({ name: randomIssueName() });
    });
  }

  // The tracker.
  for (const protocol of Object.keys(transports)) {
    const client = issues(protocol);
    await scenario("GetIssue", protocol, async () => {
      await client.getIssue({ name: randomIssueName() });
    });
  }
  await scenario("BatchGetIssues(50)", "connect+proto h2", async () => {
    const project = randomProject();
    const first = 1 + randomInt(Math.max(1, perProject - 50));
    const names = Array.from(
      { length: Math.min(50, perProject) },
      (_, i) => `projects/${project}/issues/${first + i}`,
    );
    await h2.batchGetIssues({ parent: `projects/${project}`, names });
  });
  const listFilter = { states: [Issue_State.OPEN, Issue_State.IN_PROGRESS] };
  await scenario(
    "ListIssues first page",
    "connect+proto h2",
    async () => {
      await h2.listIssues({
        parent: `projects/${randomProject()}`,
        pageSize: 50,
        filter: listFilter,
        orderBy: "update_time desc",
      });
    },
    "50/page, state OPEN|IN_PROGRESS, update_time desc",
  );
  if (wanted("ListIssues deep page")) {
    // Walk 10 projects to their last page (at most 200 pages) and keep those tokens.
    const deep: Array<{ parent: string; token: string; depth: number }> = [];
    for (let p = 0; p < 10; p++) {
      const parent = `projects/${projectKey(p)}`;
      let token = "";
      let depth = 1;
      for (; depth < 200; depth++) {
        const page = await h2.listIssues({
          parent,
          pageSize: 50,
          filter: listFilter,
          orderBy: "update_time desc",
          pageToken: token,
        });
        if (!page.nextPageToken) break;
        token = page.nextPageToken;
      }
      if (token) deep.push({ parent, token, depth });
    }
    if (deep.length > 0) {
      const depth = Math.min(...deep.map((d) => d.depth));
      await scenario(
        "ListIssues deep page",
        "connect+proto h2",
        async () => {
          const d = deep[randomInt(deep.length)] as (typeof deep)[number];
          await h2.listIssues({
            parent: d.parent,
            pageSize: 50,
            filter: listFilter,
            orderBy: "update_time desc",
            pageToken: d.token,
          });
        },
        `last page via tokens, depth ≥ ${depth}`,
      );
    }
  }
  await scenario(
    "ListIssues search",
    "connect+proto h2",
    async () => {
      await h2.listIssues({
        parent: `projects/${randomProject()}`,
        pageSize: 50,
        filter: { query: `${WORDS[randomInt(WORDS.length)]} ${WORDS[randomInt(WORDS.length)]}` },
      });
    },
    "full-text, two words",
  );
  await scenario("CreateIssue", "connect+proto h2", async () => {
    await h2.createIssue({
      parent: `projects/${randomProject()}`,
      issue: {
        title: `Bench issue ${WORDS[randomInt(WORDS.length)]}`,
        body: "Created by the benchmark.",
        priority: Issue_Priority.MEDIUM,
      },
    });
  });
  let aborted = 0;
  const priorities = [Issue_Priority.URGENT, Issue_Priority.HIGH, Issue_Priority.MEDIUM, Issue_Priority.LOW];
  await scenario(
    "UpdateIssue",
    "connect+proto h2",
    async () => {
      const name = randomIssueName();
      let current = await h2.getIssue({ name });
      for (let attempt = 0; ; attempt++) {
        try {
          await h2.updateIssue({
            issue: { name, etag: current.etag, priority: priorities[randomInt(priorities.length)] },
            updateMask: { paths: ["priority"] },
          });
          return;
        } catch (error) {
          if (!(error instanceof ConnectError) || error.code !== Code.Aborted || attempt >= 5) throw error;
          aborted++;
          current = await h2.getIssue({ name });
        }
      }
    },
    "GetIssue + UpdateIssue(mask priority, etag)",
  );
  const updateResult = results.find((r) => r.name === "UpdateIssue");
  if (updateResult) updateResult.note = `${updateResult.note}; ${aborted} ABORTED re-reads (incl. warm-up)`;
  await scenario("CreateComment", "connect+proto h2", async () => {
    await comments.createComment({
      parent: randomIssueName(),
      comment: { body: "Seen again by the benchmark." },
    });
  });

  // 5. WatchIssues fan-out: W watchers of one project, then commits, one at a time.
  let watch: WatchResult | undefined;
  if (watchers > 0 && wanted("WatchIssues")) {
    log(`WatchIssues: opening ${watchers} watchers`);
    const parent = `projects/${projectKey(0)}`;
    const watchTransport = createConnectTransport({
      baseUrl,
      httpVersion: "2",
      useBinaryFormat: true,
      interceptors: [auth],
    });
    const watchClient = createClient(IssueService, watchTransport);
    const stop = new AbortController();
    const arrivals = new Map<string, number[]>();
    const streams = Array.from({ length: watchers }, async () => {
      try {
        for await (const message of watchClient.watchIssues({ parent }, { signal: stop.signal })) {
          const issue = message.event?.issue;
          if (!issue) continue;
          const list = arrivals.get(issue) ?? [];
          list.push(performance.now());
          arrivals.set(issue, list);
        }
      } catch (error) {
        if (!stop.signal.aborted) log(`  watcher ended: ${String(error)}`);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500 + watchers * 3));
    const commits = 20;
    const committed = new Map<string, number>();
    for (let i = 0; i < commits; i++) {
      const issue = await h2.createIssue({ parent, issue: { title: `Watched issue ${i}` } });
      committed.set(issue.name, performance.now());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    stop.abort();
    await Promise.allSettled(streams);
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000 });
    let delivered = 0;
    for (const [name, at] of committed) {
      for (const arrival of arrivals.get(name) ?? []) {
        delivered++;
        histogram.recordValue(Math.max(1, Math.round((arrival - at) * 1000)));
      }
    }
    watch = {
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
    log(`  delivered ${delivered}/${watchers * commits}, p50 ${watch.p50Ms} ms, p99 ${watch.p99Ms} ms`);
  }

  // 4. Report.
  const rpsOf = (protocol: string) =>
    results.find((r) => r.name === "GetIssue" && r.protocol === protocol)?.rps;
  const tracker = rpsOf("connect+proto h2");
  const db = rpsOf("database limit (pg)");
  const framework = rpsOf("framework limit (connect+proto h2)");
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    options: { size: args.size ?? "10k", seconds, concurrency, watchers },
    seed: { issues: seeded.issues, issuesPerProject: perProject, seconds: seeded.seconds },
    scenarios: results,
    ...(tracker &&
      db &&
      framework && {
        getIssueVsLimits: { tracker, database: db, framework, fraction: tracker / Math.min(db, framework) },
      }),
    ...(watch && { watch }),
  };
  const markdown = toMarkdown(report);
  const comparison = args.compare ? compare(report, args.compare) : "";
  process.stdout.write(`\n${markdown}${comparison ? `\n${comparison}` : ""}`);
  mkdirSync(resultsDir, { recursive: true });
  const stamp = startedAt
    .toISOString()
    .replaceAll(":", "-")
    .replace(/\.\d+Z$/, "Z");
  writeFileSync(join(resultsDir, `${stamp}.md`), `${markdown}${comparison ? `\n${comparison}` : ""}`);
  writeFileSync(join(resultsDir, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote bench/results/${stamp}.md and .json`);
} finally {
  for (const cleanup of cleanups) {
    await cleanup().catch((error) => log(`cleanup: ${String(error)}`));
  }
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
