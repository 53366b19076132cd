import { setMaxListeners } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type Transport } from "@connectrpc/connect";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { loadDevKey, mintDevToken } from "../src/auth/dev-issuer.js";
import { applyMigrations } from "../src/db/atlas.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../src/db/embedded-postgres.js";
import {
  type CheckResult,
  checkDelivery,
  checkLedger,
  type DatabaseState,
  type DeliveredEvent,
} from "./check.js";
import { PROTOCOLS, type ProjectInfo, type Protocol, SoakClient, transportFor } from "./clients.js";
import { readDatabaseState } from "./database-state.js";
import { type FaultOutcome, planFaults, runFaults } from "./faults.js";
import { Ledger, sameVersion, versionOf } from "./ledger.js";
import { type Incarnation, isReady, ServerProcess, sleep } from "./server-process.js";
import { Stats, seededRandom } from "./stats.js";
import { Watcher } from "./watchers.js";
import { retry, setUpWorld } from "./world.js";

export interface SoakOptions {
  durationMs: number;
  faults: boolean;
  clients: number;
  seed: number;
  /** Projects the load spreads over (default 3). */
  projects?: number;
  /** WatchIssues clients (default 4: one per protocol). */
  watchers?: number;
  /** Mean pause of a client between operations (default 15 ms). */
  thinkMs?: number;
  /** Largest RSS growth allowed, in percent (default 20). */
  rssLimitPercent?: number;
  log?: (line: string) => void;
  /** Aborting it ends the soak early (Ctrl-C); the checks still run. */
  signal?: AbortSignal;
}

export interface MemoryFigures {
  incarnation: number;
  /** How long the measured stretch lasted (after the warm-up). */
  measuredMs: number;
  startBytes: number;
  endBytes: number;
  peakBytes: number;
  growthPercent: number;
  /** Whether the stretch was long enough (60 s) for the limit to apply. */
  enforced: boolean;
  /** [ms since the soak began, RSS in MiB] every 10 s, to see the curve. */
  series: Array<[number, number]>;
}

export interface SoakReport {
  options: {
    durationMs: number;
    faults: boolean;
    clients: number;
    watchers: number;
    projects: number;
    seed: number;
  };
  elapsedMs: number;
  requests: number;
  ok: number;
  requestsPerSecond: number;
  byProtocol: Record<string, number>;
  errors: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  ackLatencyMs: { p50: number; p99: number; max: number };
  retries: number;
  conflicts: number;
  operations: Record<string, number>;
  acknowledged: { issues: number; comments: number; updates: number; deletes: number; total: number };
  check: CheckResult;
  faults: FaultOutcome;
  watchers: Array<{
    name: string;
    protocol: string;
    parent: string;
    delivered: number;
    streams: number;
    disconnects: number;
    endings: Record<string, number>;
    missing: number;
    duplicated: number;
    outOfOrder: number;
  }>;
  internal: {
    serverAnswered: number;
    serverLogged: number;
    unhandled: number;
    transportDuringRestarts: number;
    /** What the client library said when it made up an INTERNAL or UNKNOWN. */
    transportSamples: string[];
  };
  transport: {
    total: number;
    duringRestarts: number;
    outside: Array<{ at: number; code: string; message: string }>;
  };
  memory: { chosen?: MemoryFigures; incarnations: MemoryFigures[] };
  serverLog: Record<string, number>;
  serverLogSamples: string[];
  anomalies: Record<string, number>;
  violations: string[];
}

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const SHUTDOWN_TIMEOUT_MS = 5_000;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  // Every call listens on shared signals (deadlines, shutdown) inside connect-node: not a leak.
  setMaxListeners(0);
  const log = options.log ?? (() => {});
  const projectCount = options.projects ?? 3;
  const watcherCount = options.watchers ?? 4;
  const random = seededRandom(options.seed);
  const began = Date.now();
  const clock = () => Date.now() - began;
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  const cleanups: Array<() => Promise<void>> = [];
  const scratch = mkdtempSync(join(tmpdir(), "tracker-soak-"));
  // As root, the embedded PostgreSQL runs as "postgres", which must enter this directory.
  chmodSync(scratch, 0o711);
  try {
    // 1. A PostgreSQL of its own, migrated; the real server as a child process.
    log(`starting PostgreSQL in ${scratch}`);
    const database: EmbeddedDatabase = await startEmbeddedPostgres(join(scratch, "postgres"), {
      persistent: false,
    });
    cleanups.unshift(() => database.stop());
    await database.createDatabase("tracker");
    const databaseUrl = database.urlFor("tracker");
    await applyMigrations(databaseUrl);
    const dataDir = join(scratch, "server");
    mkdirSync(dataDir);
    await loadDevKey(dataDir);
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const server = new ServerProcess({
      root,
      baseUrl,
      clock,
      log,
      env: {
        ...process.env,
        NODE_ENV: "development",
        DATABASE_URL: databaseUrl,
        DATABASE_SECRET: "",
        PORT: String(port),
        HOST: "127.0.0.1",
        AUTH_MODE: "dev",
        DATA_DIR: dataDir,
        RATE_LIMIT_PER_SECOND: "1000000",
        RATE_LIMIT_BURST: "1000000",
        MAX_WATCH_STREAMS_PER_USER: "1000",
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        LOG_LEVEL: "warn",
        LOG_FORMAT: "json",
        OTEL_EXPORTER_OTLP_ENDPOINT: "",
      },
    });
    cleanups.unshift(async () => {
      await server.stop();
    });
    log(`starting the server on ${baseUrl}`);
    await server.start();

    // 2. The world: users, projects, labels, members, shared issues.
    const token = (subject: string) =>
      mintDevToken(dataDir, { sub: subject, email: `${subject}@example.com` });
    const adminTransport = transportFor("Connect binary over HTTP/2", baseUrl, await token("soak-admin"));
    const ledger = new Ledger();
    const clientSubjects = Array.from({ length: options.clients }, (_, i) => `soak-client-${i}`);
    const watcherSubjects = Array.from({ length: watcherCount }, (_, i) => `soak-watcher-${i}`);
    const transports = new Map<string, Transport>();
    const protocolOf = (i: number) => PROTOCOLS[i % PROTOCOLS.length] as Protocol;
    for (const [i, subject] of clientSubjects.entries()) {
      transports.set(subject, transportFor(protocolOf(i), baseUrl, await token(subject)));
    }
    for (const [i, subject] of watcherSubjects.entries()) {
      transports.set(subject, transportFor(protocolOf(i), baseUrl, await token(subject)));
    }
    const { projects, world } = await setUpWorld({
      admin: adminTransport,
      clients: clientSubjects.map((subject) => transports.get(subject) as Transport),
      watchers: watcherSubjects.map((subject) => transports.get(subject) as Transport),
      projectCount,
      ledger,
    });

    // 3. Watchers from the start of each project's history, then the load, then the faults.
    const watchers = watcherSubjects.map(
      (subject, i) =>
        new Watcher(
          `watcher-${i}`,
          protocolOf(i),
          (projects[i % projects.length] as ProjectInfo).name,
          transports.get(subject) as Transport,
          clock,
        ),
    );
    for (const watcher of watchers) watcher.start();
    const stats = new Stats(clock);
    const loadStarted = clock();
    const loadEnds = loadStarted + options.durationMs;
    let stopping = false;
    const clients = clientSubjects.map(
      (subject, i) =>
        new SoakClient(
          i,
          protocolOf(i),
          transports.get(subject) as Transport,
          world,
          ledger,
          stats,
          seededRandom(options.seed * 1_000 + i + 1),
          {
            stopping: () => stopping || stop.signal.aborted,
            retryUntil: () => began + loadEnds + 30_000,
            thinkMs: options.thinkMs ?? 15,
            timeoutMs: 10_000,
          },
        ),
    );
    log(
      `load: ${options.clients} clients over ${PROTOCOLS.length} protocols, ${watchers.length} watchers, ` +
        `${projectCount} projects, ${(options.durationMs / 1000).toFixed(0)} s${options.faults ? ", with faults" : ""}`,
    );
    const running = clients.map((client) => client.run());
    const schedule = planFaults(options.durationMs);
    const shifted = {
      ...schedule,
      from: loadStarted + schedule.from,
      until: loadStarted + schedule.until,
      plan: schedule.plan.map((fault) => ({ ...fault, at: loadStarted + fault.at })),
    };
    const faulting = options.faults
      ? runFaults(
          {
            database,
            server,
            baseUrl,
            watchers,
            clock,
            random,
            log,
            signal: stop.signal,
            shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
          },
          shifted,
        )
      : Promise.resolve<FaultOutcome>({
          faults: [],
          serverWindows: [],
          databaseWindows: [],
          watchDisconnects: 0,
        });
    const progress = setInterval(() => {
      log(
        `  ${(clock() / 1000).toFixed(0)}s: ${stats.requests} requests, ${ledger.acknowledged.issues} issues, ` +
          `${stats.retries} retries, server RSS ${mib(server.current?.rss.at(-1)?.[1] ?? 0)} MiB`,
      );
    }, 15_000);
    await sleep(Math.max(0, loadEnds - clock()), stop.signal);
    stopping = true;
    clearInterval(progress);
    log("load over; letting mutations in flight settle");
    const faultOutcome = await faulting;
    await Promise.all(running);
    const loadMs = clock() - loadStarted;

    // 4. Settle: the server is up, every watcher catches up with the history.
    if (!server.current) await server.start();
    for (let i = 0; i < 300 && !(await isReady(baseUrl)); i++) await sleep(100);
    server.sampleNow();
    const settled = await readDatabaseState(databaseUrl);
    const lastSequence = new Map(settled.projects.map((p) => [`projects/${p.key}`, p.lastEventSequence]));
    const caughtUp = await Promise.all(
      watchers.map((watcher) => watcher.caughtUp(lastSequence.get(watcher.parent) ?? 0, 30_000)),
    );
    for (const watcher of watchers) await watcher.stop();

    // 5. The checks: database against ledger, watchers and the API against the database.
    const state = await readDatabaseState(databaseUrl);
    const check = checkLedger(ledger, state);
    const violations: string[] = [];
    if (check.lost > 0) violations.push(`${check.lost} acknowledged writes lost`);
    if (check.duplicated > 0) violations.push(`${check.duplicated} writes duplicated (or made by nobody)`);
    if (check.inconsistent > 0)
      violations.push(`${check.inconsistent} inconsistencies between state and history`);
    violations.push(...check.problems.slice(0, 20).map((problem) => `  ${problem}`));
    const watcherFigures = watchers.map((watcher, i) => {
      const history = state.events.filter((event) => `projects/${event.projectKey}` === watcher.parent);
      const delivery = checkDelivery(watcher.name, watcher.delivered, history);
      if (!caughtUp[i]) violations.push(`${watcher.name} never caught up with ${watcher.parent}`);
      if (delivery.missing + delivery.duplicated + delivery.outOfOrder + delivery.mismatched > 0) {
        violations.push(...delivery.problems);
      }
      violations.push(...watcher.anomalies.slice(0, 5).map((anomaly) => `${watcher.name}: ${anomaly}`));
      return {
        name: watcher.name,
        protocol: watcher.protocol,
        parent: watcher.parent,
        delivered: watcher.delivered.length,
        streams: watcher.streams,
        disconnects: watcher.disconnects,
        endings: Object.fromEntries(watcher.endings),
        missing: delivery.missing,
        duplicated: delivery.duplicated,
        outOfOrder: delivery.outOfOrder,
      };
    });
    violations.push(...(await checkApi(createClient(IssueService, adminTransport), projects, state)));
    violations.push(...stats.staleReads.slice(0, 10));
    if (stats.staleReads.length > 0)
      violations.push(`${stats.staleReads.length} reads older than an acknowledged write`);
    violations.push(...server.unexpectedExits);
    for (const fault of faultOutcome.faults)
      if (fault.problem) violations.push(`fault at ${fault.at} ms: ${fault.problem}`);

    // Errors: what the server answered, and what only the client library saw.
    const windows = faultOutcome.serverWindows.map((w) => ({ from: w.from - 500, to: w.to + 5_000 }));
    const during = (at: number) => windows.some((w) => at >= w.from && at <= w.to);
    const transportEvents = [
      ...stats.transportErrors,
      ...watchers.flatMap((watcher) =>
        watcher.transportEndings.map((e) => ({ ...e, procedure: "WatchIssues" })),
      ),
    ];
    const outside = transportEvents.filter((event) => !during(event.at));
    const internalCodes = new Set(["INTERNAL", "UNKNOWN", "DATA_LOSS"]);
    const serverInternal = [
      ...stats.serverInternal,
      ...watchers.flatMap((watcher) =>
        watcher.serverInternal.map((e) => ({ ...e, procedure: "WatchIssues" })),
      ),
    ];
    const madeUp = transportEvents.filter((e) => internalCodes.has(e.code));
    const internal = {
      serverAnswered: serverInternal.length,
      serverLogged: server.log.internalAnswers,
      unhandled: server.log.unhandled,
      transportDuringRestarts: madeUp.filter((e) => during(e.at)).length,
      transportSamples: [...new Set(madeUp.map((e) => `${e.code}: ${e.message}`))].slice(0, 5),
    };
    if (internal.serverAnswered + internal.serverLogged + internal.unhandled > 0) {
      violations.push(
        `INTERNAL/UNKNOWN answered by the server: ${internal.serverAnswered} seen by clients, ` +
          `${internal.serverLogged} in the server log, ${internal.unhandled} failed before a handler`,
      );
      violations.push(...serverInternal.slice(0, 5).map((e) => `  ${e.procedure} ${e.code}: ${e.message}`));
    }
    if (outside.length > 0) {
      violations.push(`${outside.length} errors without a server answer while the server was not restarting`);
      violations.push(
        ...outside.slice(0, 5).map((e) => `  ${(e.at / 1000).toFixed(1)}s ${e.code}: ${e.message}`),
      );
    }
    const acknowledged = ledger.acknowledged;
    const total = acknowledged.issues + acknowledged.comments + acknowledged.updates + acknowledged.deletes;
    if (total === 0) violations.push("no mutation was acknowledged: the soak measured nothing");

    // 6. Stop; memory per server process.
    server.sampleNow();
    const last = await server.stop();
    if (last && (last.exit?.code !== 0 || last.endedBy !== "SIGTERM")) {
      violations.push(
        `the last server did not stop cleanly on SIGTERM (code ${last.exit?.code}, signal ${last.exit?.signal})`,
      );
    }
    // Memory under the soak's load: the checks afterwards (pages of 1000) are another workload.
    const warmupMs = Math.min(20_000, Math.max(5_000, options.durationMs * 0.1));
    const memory = memoryOf(server.incarnations, warmupMs, loadStarted + loadMs);
    const limit = options.rssLimitPercent ?? 20;
    if (memory.chosen?.enforced && memory.chosen.growthPercent >= limit) {
      violations.push(`server RSS grew ${memory.chosen.growthPercent.toFixed(1)}% (limit ${limit}%)`);
    }

    const ms = (micros: number) => Math.round(micros) / 1000;
    const report: SoakReport = {
      options: {
        durationMs: options.durationMs,
        faults: options.faults,
        clients: options.clients,
        watchers: watchers.length,
        projects: projectCount,
        seed: options.seed,
      },
      elapsedMs: loadMs,
      requests: stats.requests,
      ok: stats.ok,
      requestsPerSecond: Math.round((stats.requests / loadMs) * 1000),
      byProtocol: Object.fromEntries(stats.byProtocol),
      errors: Object.fromEntries([...stats.errors].sort((a, b) => b[1] - a[1])),
      latencyMs: {
        p50: ms(stats.latency.getValueAtPercentile(50)),
        p99: ms(stats.latency.getValueAtPercentile(99)),
        max: ms(stats.latency.maxValue),
      },
      ackLatencyMs: {
        p50: ms(stats.ackLatency.getValueAtPercentile(50)),
        p99: ms(stats.ackLatency.getValueAtPercentile(99)),
        max: ms(stats.ackLatency.maxValue),
      },
      retries: stats.retries,
      conflicts: stats.conflicts,
      operations: Object.fromEntries(stats.operations),
      acknowledged: { ...acknowledged, total },
      check,
      faults: faultOutcome,
      watchers: watcherFigures,
      internal,
      transport: {
        total: transportEvents.length,
        duringRestarts: transportEvents.length - outside.length,
        outside: outside.slice(0, 20),
      },
      memory,
      serverLog: Object.fromEntries(server.log.counts),
      serverLogSamples: server.log.samples,
      anomalies: Object.fromEntries(stats.anomalies),
      violations,
    };
    stats.latency.destroy();
    stats.ackLatency.destroy();
    return report;
  } finally {
    for (const cleanup of cleanups) await cleanup().catch((error) => log(`cleanup: ${String(error)}`));
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The API agrees with the database: ListIssueEvents is the history, ListIssues the rows. */
async function checkApi(
  issues: ReturnType<typeof createClient<typeof IssueService>>,
  projects: ProjectInfo[],
  state: DatabaseState,
): Promise<string[]> {
  const problems: string[] = [];
  for (const project of projects) {
    const events: DeliveredEvent[] = [];
    let pageToken = "";
    do {
      const page = await retry(() =>
        issues.listIssueEvents({ parent: project.name, pageSize: 1000, pageToken }),
      );
      for (const event of page.events) {
        events.push({
          sequence: Number(event.sequence),
          kind: `${eventKind(event.kind)}`,
          issue: event.issue,
          comment: event.comment,
        });
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    const history = state.events.filter((event) => event.projectKey === project.key);
    problems.push(...checkDelivery(`ListIssueEvents ${project.name}`, events, history).problems);
    const stored = new Map(state.issues.filter((i) => i.projectKey === project.key).map((i) => [i.name, i]));
    let listed = 0;
    pageToken = "";
    do {
      const page = await retry(() =>
        issues.listIssues({
          parent: project.name,
          pageSize: 1000,
          pageToken,
          showDeleted: true,
          orderBy: "number",
        }),
      );
      for (const issue of page.issues) {
        listed += 1;
        const row = stored.get(issue.name);
        if (!row || Number(issue.etag) !== row.revision || !sameVersion(versionOf(issue), row.version)) {
          if (problems.length < 20)
            problems.push(`ListIssues ${issue.name} (etag ${issue.etag}) differs from its row`);
        }
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    if (listed !== stored.size)
      problems.push(`ListIssues ${project.name} listed ${listed} of ${stored.size} issues`);
  }
  return problems;
}

const eventKind = (kind: number) =>
  [
    "unspecified",
    "issue_created",
    "issue_updated",
    "issue_deleted",
    "issue_undeleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
  ][kind] ?? String(kind);

/**
 * Memory per server process: RSS after a warm-up (median of the one-second
 * samples of the next 10 s) against RSS at the end of the load (median of
 * its last 10 s); shorter lives get shorter windows. The figure that counts
 * is the process measured over the longest stretch.
 */
export function memoryOf(
  incarnations: Incarnation[],
  warmupMs: number,
  until: number,
): { chosen?: MemoryFigures; incarnations: MemoryFigures[] } {
  const figures: MemoryFigures[] = [];
  for (const incarnation of incarnations) {
    if (incarnation.readyAt === undefined) continue;
    const warm = incarnation.readyAt + warmupMs;
    const samples = incarnation.rss.filter(([at]) => at >= warm && at <= until);
    if (samples.length < 2) continue;
    const lastAt = (samples.at(-1) as [number, number])[0];
    const measuredMs = lastAt - warm;
    const window = Math.min(10_000, measuredMs / 3);
    const startBytes = median(samples.filter(([at]) => at <= warm + window).map(([, rss]) => rss));
    const endBytes = median(samples.filter(([at]) => at >= lastAt - window).map(([, rss]) => rss));
    figures.push({
      incarnation: incarnation.index,
      measuredMs,
      startBytes,
      endBytes,
      peakBytes: Math.max(...samples.map(([, rss]) => rss)),
      growthPercent: ((endBytes - startBytes) / startBytes) * 100,
      enforced: measuredMs >= 60_000,
      series: samples.filter((_, i) => i % 10 === 0).map(([at, rss]) => [at, Math.round(rss / 1024 / 1024)]),
    });
  }
  const chosen = [...figures].sort((a, b) => b.measuredMs - a.measuredMs)[0];
  return { ...(chosen && { chosen }), incarnations: figures };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** The report for people. */
export function formatReport(report: SoakReport): string {
  const lines: string[] = [];
  const o = report.options;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  lines.push(
    `soak: ${seconds(report.elapsedMs)} of load, ${o.clients} clients over 4 protocols, ${o.watchers} watchers, ` +
      `${o.projects} projects, seed ${o.seed}, faults ${o.faults ? "on" : "off"}`,
  );
  lines.push(`requests: ${report.requests} (${report.requestsPerSecond}/s), ok ${report.ok}`);
  lines.push(
    `  by protocol: ${Object.entries(report.byProtocol)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  lines.push(
    `  errors by code: ${
      Object.entries(report.errors)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none"
    }`,
  );
  lines.push(
    `latency of successful calls: p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms`,
  );
  lines.push(
    `mutations acknowledged: ${report.acknowledged.total} (issues created ${report.acknowledged.issues}, updates ${report.acknowledged.updates}, ` +
      `deletes/undeletes ${report.acknowledged.deletes}, comments ${report.acknowledged.comments}); ` +
      `time to acknowledgement p99 ${report.ackLatencyMs.p99} ms, max ${report.ackLatencyMs.max} ms`,
  );
  lines.push(
    `  retries ${report.retries}; in doubt at the end of their retries: ${report.check.inDoubt.applied} applied, ` +
      `${report.check.inDoubt.notApplied} not applied; unacknowledged creates applied ${report.check.unacknowledgedCreatesApplied}; ` +
      `etag conflicts on shared issues ${report.conflicts}`,
  );
  const kinds = new Map<string, number>();
  for (const fault of report.faults.faults) kinds.set(fault.kind, (kinds.get(fault.kind) ?? 0) + 1);
  lines.push(
    `faults injected: ${report.faults.faults.length} (${[...kinds].map(([k, v]) => `${k} ${v}`).join(", ") || "none"}), ` +
      `watch disconnections ${report.faults.watchDisconnects}`,
  );
  for (const fault of report.faults.faults) {
    lines.push(
      `  ${seconds(fault.at)} ${fault.kind}: ${fault.detail}${fault.problem ? ` PROBLEM: ${fault.problem}` : ""}`,
    );
  }
  const watched = report.watchers.reduce((sum, w) => sum + w.delivered, 0);
  const watchProblems = report.watchers.reduce((sum, w) => sum + w.missing + w.duplicated + w.outOfOrder, 0);
  lines.push(
    `watchers: ${report.watchers.length}, events delivered ${watched}, streams opened ${report.watchers.reduce((s, w) => s + w.streams, 0)}, ` +
      `exactly once in order: ${watchProblems === 0 ? "yes" : "NO"}`,
  );
  for (const w of report.watchers) {
    lines.push(
      `  ${w.name} (${w.protocol}, ${w.parent}): ${w.delivered} events, ${w.streams} streams, ${w.disconnects} cut on purpose, ` +
        `ends ${Object.entries(w.endings)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}; missing ${w.missing}, duplicated ${w.duplicated}, out of order ${w.outOfOrder}`,
    );
  }
  lines.push(
    `lost=${report.check.lost} duplicated=${report.check.duplicated} inconsistent=${report.check.inconsistent}`,
  );
  const internal = report.internal;
  lines.push(
    `INTERNAL=${internal.serverAnswered + internal.serverLogged + internal.unhandled} answered by the server ` +
      `(seen by clients ${internal.serverAnswered}, in the server log ${internal.serverLogged}, before a handler ${internal.unhandled}); ` +
      `INTERNAL/UNKNOWN made up client-side while the server was being killed: ${internal.transportDuringRestarts}`,
  );
  for (const sample of internal.transportSamples) lines.push(`  made up client-side: ${sample}`);
  lines.push(
    `errors without a server answer: ${report.transport.total}, during server restarts ${report.transport.duringRestarts}, ` +
      `outside them ${report.transport.total - report.transport.duringRestarts}`,
  );
  const chosen = report.memory.chosen;
  if (chosen) {
    lines.push(
      `server RSS: process #${chosen.incarnation} (measured ${seconds(chosen.measuredMs)} after warm-up) ` +
        `${mib(chosen.startBytes)} MiB -> ${mib(chosen.endBytes)} MiB (${chosen.growthPercent >= 0 ? "+" : ""}${chosen.growthPercent.toFixed(1)}%), ` +
        `peak ${mib(chosen.peakBytes)} MiB${chosen.enforced ? "" : " (too short for the limit to apply)"}`,
    );
    for (const m of report.memory.incarnations) {
      lines.push(
        `  process #${m.incarnation}: ${mib(m.startBytes)} -> ${mib(m.endBytes)} MiB over ${seconds(m.measuredMs)} (${m.growthPercent.toFixed(1)}%)`,
      );
    }
  }
  if (Object.keys(report.serverLog).length > 0) {
    lines.push(
      `server log (warn and above): ${Object.entries(report.serverLog)
        .map(([k, v]) => `${k} ×${v}`)
        .join("; ")}`,
    );
  }
  for (const sample of report.serverLogSamples.slice(0, 3)) lines.push(`  ${sample.slice(0, 1_500)}`);
  if (Object.keys(report.anomalies).length > 0) {
    lines.push(
      `rejections: ${Object.entries(report.anomalies)
        .map(([k, v]) => `${k} ×${v}`)
        .join("; ")}`,
    );
  }
  lines.push(
    report.violations.length === 0 ? "PASS" : `FAIL:\n${report.violations.map((v) => `  ${v}`).join("\n")}`,
  );
  return lines.join("\n");
}
