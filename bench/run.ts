import { setMaxListeners } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { DB } from "../gen/db.js";
import { mintDevToken } from "../src/auth/dev-issuer.js";
import { applyMigrations } from "../src/db/atlas.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../src/db/embedded-postgres.js";
import { compiledIssueWithCallerRole } from "../src/domain/issues/issue-store.js";
import { ABLATED_LAYERS } from "./ablation.js";
import { runScenario, type ScenarioResult } from "./load.js";
import {
  buildServer,
  largestPeakRssMiB,
  largestRssMiB,
  type ServerProcess,
  startBareServer,
  startTracker,
} from "./processes.js";
import { type AblationResult, type BenchReport, compare, toMarkdown, writeCharts } from "./report.js";
import {
  createIssueScenario,
  getIssueScenarios,
  type Scenario,
  trackerScenarios,
  type WatchResult,
  watchFanOut,
} from "./scenarios.js";
import { BENCH_CLAIMS, PROJECTS, projectKey, seed } from "./seed.js";

// Many concurrent calls share signals (deadlines, shutdown) inside connect-node: not a leak.
setMaxListeners(0);

const SIZES: Record<string, number> = { "10k": 10_000, "100k": 100_000, "1m": 1_000_000 };
/** Scenarios also run paced at half their throughput, for latency under a sustainable load. */
const PACED = new Set([
  "GetIssue",
  "ListIssues first page",
  "ListIssues deep page",
  "ListIssues search",
  "ListIssues search (selective)",
  "CreateIssue",
  "UpdateIssue",
]);
/**
 * A fresh process's first scenario (and each ablation row, a fresh process
 * too) warms up longer: V8 must have optimised the hot path before its CPU
 * is counted, or the first scenario pays for the compilation of all of them.
 */
const FRESH_PROCESS_WARMUP_SECONDS = 2;
/** The tracker's default pool (DATABASE_POOL_MAX), used by the database limit too. */
const POOL_MAX = 20;

const { values: args } = parseArgs({
  options: {
    size: { type: "string", default: "100k" },
    sizes: { type: "string" },
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "64" },
    watchers: { type: "string", default: "1000" },
    workers: { type: "string", default: String(availableParallelism()) },
    compare: { type: "string" },
    only: { type: "string" },
    /**
     * GetIssue's ablation table: the tracker with each layer left out in turn
     * (bench/tracker-server.ts). On by default with `--only getissue`.
     */
    ablation: { type: "boolean" },
    /** Times the ablation table runs, every row each time: its figures are the medians. */
    "ablation-rounds": { type: "string", default: "3" },
    /** Write a V8 CPU profile of every tracker process to bench/results/<run>-profiles/. */
    profile: { type: "boolean", default: false },
    /** Node flags for the tracker processes, e.g. "--max-old-space-size=128", as a deployment would set them. */
    "server-node-options": { type: "string", default: "" },
  },
  allowNegative: true,
});
const sizes = (args.sizes ?? args.size ?? "100k").split(",").map((size) => size.trim().toLowerCase());
for (const size of sizes) {
  if (!SIZES[size]) throw new Error(`sizes must be among ${Object.keys(SIZES).join(", ")}; got ${size}`);
}
if (process.env.DATABASE_URL && sizes.length > 1)
  throw new Error("with DATABASE_URL the bench seeds that one database: give one --size");
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const watchers = Number(args.watchers);
const workers = Number(args.workers);
const log = (line: string) => process.stderr.write(`${line}\n`);
const wanted = (name: string) => !args.only || name.toLowerCase().includes(args.only.toLowerCase());
const ablation = args.ablation ?? args.only?.toLowerCase() === "getissue";
const ablationRounds = Number(args["ablation-rounds"]);

const startedAt = new Date();
const stamp = startedAt
  .toISOString()
  .replaceAll(":", "-")
  .replace(/\.\d+Z$/, "Z");
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "results");
/** Node flags of every tracker process. */
const serverNodeArgs = [
  ...(args["server-node-options"] ?? "").split(" ").filter(Boolean),
  ...(args.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(resultsDir, `${stamp}-profiles`)}`] : []),
];
const scratch = mkdtempSync(join(tmpdir(), "tracker-bench-"));
// As root, the embedded PostgreSQL runs as "postgres", which must enter this directory.
chmodSync(scratch, 0o711);
const cleanups: Array<() => Promise<void>> = [];
const results: ScenarioResult[] = [];
const ablations: AblationResult[] = [];
const watches: Array<WatchResult & { size: string; server: string }> = [];
const peakRss: Array<{ size: string; server: string; peakRssMiB: number }> = [];

try {
  // The database: an embedded PostgreSQL in a temp dir (a database per size), or DATABASE_URL.
  let embedded: EmbeddedDatabase | undefined;
  if (!process.env.DATABASE_URL) {
    log(`starting embedded PostgreSQL in ${scratch}`);
    embedded = await startEmbeddedPostgres(join(scratch, "postgres"), { persistent: false });
    const stop = embedded.stop;
    cleanups.push(() => stop());
  }
  const databasePid = embedded
    ? Number(readFileSync(join(scratch, "postgres", "postmaster.pid"), "utf8").split("\n")[0])
    : undefined;
  const token = await mintDevToken(scratch, BENCH_CLAIMS);

  log(
    "building the server as the Docker image runs it, and the ablation's entry (tsc -p bench/tsconfig.build.json)",
  );
  await buildServer();
  log("starting the bare Connect server (the framework limit)");
  const bare = await startBareServer(scratch);
  cleanups.unshift(() => bare.stop());

  for (const size of sizes) {
    let databaseUrl = process.env.DATABASE_URL ?? "";
    if (embedded) {
      await embedded.createDatabase(`bench_${size}`);
      databaseUrl = embedded.urlFor(`bench_${size}`);
    }
    log(`[${size}] applying migrations with Atlas`);
    await applyMigrations(databaseUrl);
    log(`[${size}] seeding ${SIZES[size]} issues across ${PROJECTS} projects`);
    const seeded = await seed(databaseUrl, SIZES[size] as number, log);
    log(`[${size}] seeded ${seeded.issues} issues in ${seeded.seconds.toFixed(1)}s`);
    const perProject = seeded.issuesPerProject;

    /** Puts the bare handler's CPU per call for the same protocol (measured first, in this size) beside the result's. */
    const besideBare = (result: ScenarioResult) => {
      const bare = results.find(
        (s) =>
          s.size === size && s.server === "bare Connect" && s.protocol === result.protocol && !s.offeredRps,
      );
      if (result.server !== "bare Connect" && bare?.serverCpuUsPerCall !== undefined)
        result.bareCpuUsPerCall = bare.serverCpuUsPerCall;
      return result;
    };
    const perCall = ({ serverCpuUsPerCall: us, bareCpuUsPerCall: bare }: ScenarioResult) =>
      us === undefined
        ? ""
        : `, ${us} µs CPU/call${bare ? ` (bare ${bare} µs, ${(us / bare).toFixed(1)}×)` : ""}`;
    /** The server processes that have run a scenario, so are past their first warm-up. */
    const warmedUp = new Set<number | undefined>();
    const measure =
      (
        server: string,
        serverPid: number | undefined,
        record: (result: ScenarioResult) => void,
        warmupSeconds?: number,
      ): Scenario =>
      async (name, protocol, call, note) => {
        if (!wanted(name)) return;
        log(`[${size}] ${name} [${protocol}] on ${server}: ${seconds}s at concurrency ${concurrency}`);
        const options = {
          server,
          size,
          seconds,
          concurrency,
          ...(note && { note }),
          warmupSeconds:
            warmupSeconds ?? (warmedUp.has(serverPid) ? undefined : FRESH_PROCESS_WARMUP_SECONDS),
          ...(serverPid && { serverPid }),
          ...(databasePid && { databasePid }),
        };
        warmedUp.add(serverPid);
        const result = besideBare(await runScenario(name, protocol, options, call));
        log(
          `  ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, errors ${result.errors}` +
            `, CPU server ${result.cpu.server}s client ${result.cpu.client}s db ${result.cpu.database}s${perCall(result)}`,
        );
        record(result);
        // Latency under a load the server can carry: the same calls paced at
        // half the throughput just measured.
        if (server === "tracker ×1" && protocol === "connect+proto h2" && PACED.has(name) && result.rps > 0) {
          const paced = besideBare(
            await runScenario(name, protocol, { ...options, rate: result.rps / 2 }, call),
          );
          log(
            `  paced at ${paced.offeredRps} req/s: p50 ${paced.p50Ms} ms, p99 ${paced.p99Ms} ms${perCall(paced)}`,
          );
          record(paced);
        }
      };
    const scenarioOn = (server: string, serverPid?: number) =>
      measure(server, serverPid, (result) => results.push(result));

    // The database's limit: GetIssue's SQL, straight through pg from one process with the same pool.
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      max: POOL_MAX,
      options: "-c TimeZone=UTC -c statement_timeout=15000",
    });
    const compiler = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    const getIssueQuery = compiledIssueWithCallerRole(compiler);
    await scenarioOn("pg")(
      "GetIssue",
      "database limit (pg)",
      async () => {
        const query = getIssueQuery(
          seeded.benchUserUid,
          projectKey(Math.floor(Math.random() * PROJECTS)),
          String(1 + Math.floor(Math.random() * perProject)),
        );
        // Prepared, as the tracker's queries are (src/db/database.ts).
        const { rows } = await pool.query({
          name: "get_issue",
          text: query.sql,
          values: [...query.parameters],
        });
        if (!rows[0]?.caller_role) throw new Error("issue not found");
      },
      "the tracker's GetIssue SQL, prepared, through pg, pool of 20",
    );
    const template = getIssueQuery("$CALLER", "$PROJECT_KEY", "$NUMBER");
    await compiler.destroy();

    // The framework's limit: a bare Connect handler, same client (h2c only, as bench/bare-server.ts listens).
    await getIssueScenarios(scenarioOn("bare Connect", bare.pid), bare.baseUrl, undefined, perProject, [
      "connect+proto h2",
      "grpc h2",
    ]);
    // The least a database-backed GetIssue costs: the bare handler plus GetIssue's query through pg.
    if (wanted("GetIssue")) {
      const bareWithQuery = await startBareServer(scratch, {
        databaseUrl,
        sql: template.sql,
        parameters: template.parameters,
        callerUid: seeded.benchUserUid,
      });
      try {
        await getIssueScenarios(
          scenarioOn("bare Connect + pg", bareWithQuery.pid),
          bareWithQuery.baseUrl,
          undefined,
          perProject,
          ["connect+proto h2"],
        );
      } finally {
        await bareWithQuery.stop();
      }
    }

    const watch = async (server: ServerProcess, label: string) => {
      if (watchers === 0 || !wanted("WatchIssues")) return;
      log(`[${size}] WatchIssues on ${label}: ${watchers} watchers`);
      let peakRssMiB = largestRssMiB(server.pid);
      const sampler = setInterval(() => {
        peakRssMiB = Math.max(peakRssMiB, largestRssMiB(server.pid));
      }, 100);
      const result = await watchFanOut(server.baseUrl, token, watchers).finally(() => clearInterval(sampler));
      log(
        `  delivered ${result.delivered}/${result.expected}, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, server RSS ${Math.round(peakRssMiB)} MiB`,
      );
      watches.push({ size, server: label, ...result, serverPeakRssMiB: Math.round(peakRssMiB) });
    };

    // The framework's fan-out: the bare handler's WatchIssues, one event per CreateIssue.
    await watch(bare, "bare Connect");

    // The tracker, one process, then `workers` processes on one port.
    const runTracker = async (
      count: number,
      scenarios: (server: ServerProcess, label: string) => Promise<void>,
    ) => {
      const label = `tracker ×${count}`;
      log(`[${size}] starting ${label}`);
      const server = await startTracker({
        databaseUrl,
        dataDir: scratch,
        workers: count,
        nodeArgs: serverNodeArgs,
      });
      try {
        await scenarios(server, label);
        peakRss.push({ size, server: label, peakRssMiB: Math.round(largestPeakRssMiB(server.pid)) });
      } finally {
        await server.stop();
      }
    };
    await runTracker(1, async (server, label) => {
      const scenario = scenarioOn(label, server.pid);
      await getIssueScenarios(scenario, server.baseUrl, token, perProject);
      await trackerScenarios(scenario, server.baseUrl, token, perProject, wanted);
      await watch(server, label);
    });
    if (ablation && wanted("GetIssue")) {
      // What each layer costs GetIssue: the same load on one process with
      // that layer left out. A fresh process's CPU per call varies by more
      // than a layer costs on a shared machine: every row runs once per
      // round, every other round in reverse order, so drift touches all rows
      // alike, and the report takes the medians.
      const rows: Array<{ label: string; layersOff: string[] }> = [
        { label: "all on", layersOff: [] },
        ...Object.entries(ABLATED_LAYERS).map(([layer, name]) => ({
          label: `${name} off`,
          layersOff: [layer],
        })),
        { label: "all off", layersOff: Object.keys(ABLATED_LAYERS) },
      ];
      const runs = Array.from({ length: ablationRounds }, (_, round) =>
        (round % 2 ? [...rows].reverse() : rows).map((row) => ({ ...row, round: round + 1 })),
      ).flat();
      for (const { label, layersOff, round } of runs) {
        log(`[${size}] ablation round ${round}/${ablationRounds}: starting tracker ×1, ${label}`);
        const server = await startTracker({
          databaseUrl,
          dataDir: scratch,
          workers: 1,
          nodeArgs: serverNodeArgs,
          layersOff,
        });
        try {
          const record = (result: ScenarioResult) => ablations.push({ ...result, label, layersOff, round });
          await getIssueScenarios(
            measure(`tracker ×1, ${label}`, server.pid, record, FRESH_PROCESS_WARMUP_SECONDS),
            server.baseUrl,
            token,
            perProject,
            ["connect+proto h2"],
          );
        } finally {
          await server.stop();
        }
      }
    }
    if (workers > 1) {
      await runTracker(workers, async (server, label) => {
        const scenario = scenarioOn(label, server.pid);
        await getIssueScenarios(scenario, server.baseUrl, token, perProject, ["connect+proto h2"]);
        await createIssueScenario(scenario, server.baseUrl, token);
        await watch(server, label);
      });
    }
  }

  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    options: {
      sizes,
      seconds,
      concurrency,
      watchers,
      workers,
      serverNodeOptions: args["server-node-options"] ?? "",
    },
    scenarios: results,
    ...(ablations.length > 0 && { ablation: ablations }),
    watches,
    peakRss,
  };
  const comparison = args.compare ? compare(report, args.compare) : "";
  const markdown = `${toMarkdown(report)}${comparison ? `\n${comparison}` : ""}`;
  process.stdout.write(`\n${markdown}`);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${stamp}.md`), markdown);
  writeFileSync(join(resultsDir, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const charts = writeCharts(report, join(resultsDir, stamp));
  log(`wrote bench/results/${stamp}.md, .json and ${charts.join(", ")}`);
} finally {
  for (const cleanup of cleanups) {
    await cleanup().catch((error) => log(`cleanup: ${String(error)}`));
  }
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
