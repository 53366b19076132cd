import { execFile } from "node:child_process";
import { setMaxListeners } from "node:events";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Interceptor, Transport } from "@connectrpc/connect";
import pg from "pg";
import { bearerToken } from "../../client/index.js";
import { createNodeTransport } from "../../client/node.js";
import { checkDelivery, checkLedger } from "../../soak/check.js";
import { PROTOCOLS, type Protocol, SoakClient } from "../../soak/clients.js";
import { readDatabaseState } from "../../soak/database-state.js";
import { Ledger } from "../../soak/ledger.js";
import { ServerProcess, sleep } from "../../soak/server-process.js";
import { Stats, seededRandom } from "../../soak/stats.js";
import { Watcher } from "../../soak/watchers.js";
import { setUpWorld } from "../../soak/world.js";
import { mintDevToken } from "../../src/auth/dev-issuer.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import type { HostNetwork } from "../support/netns.js";
import type { Nginx } from "../support/nginx.js";
import { POSTGRES_BIN, type PostgresNode, type Replication } from "../support/replication.js";

export const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const GRPCURL = join(root, ".tools/bin/grpcurl");
const run = promisify(execFile);

/** Where a client of `protocol` reaches nginx: HTTP/1.1 on one port, h2c on the other. */
export const entryFor = (nginx: Nginx, protocol: Protocol) =>
  protocol.endsWith("HTTP/2") ? nginx.grpcUrl : nginx.httpUrl;

/**
 * A PostgreSQL the hosts in the namespaces reach: it listens on loopback and
 * on the network's gateway, and lets the network in with a password.
 */
export async function startReachablePostgres(
  dataDir: string,
  network: HostNetwork,
): Promise<EmbeddedDatabase> {
  const database = await startEmbeddedPostgres(dataDir, {
    persistent: false,
    listenAddresses: ["127.0.0.1", network.gateway],
  });
  appendFileSync(join(dataDir, "pg_hba.conf"), `\nhost all all ${network.cidr} scram-sha-256\n`);
  await query(database.adminUrl, "SELECT pg_reload_conf()");
  return database;
}

/** `url` with its host (the first, for a multi-host URL's) replaced by `address`. */
export function onAddress(url: string, address: string): string {
  const parsed = new URL(url);
  parsed.hostname = address;
  return parsed.toString();
}

export async function query<Row extends Record<string, unknown>>(url: string, text: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}

export interface TrackerHost {
  namespace: string;
  address: string;
  /** http://ADDRESS:8080, straight to the host (for /metrics), not through nginx. */
  url: string;
  process: ServerProcess;
}

/**
 * The real server (`node --import tsx src/main.ts`) on port 8080 of every
 * host of the network, each in its namespace, all with `settings` (the
 * database URLs and pooler). They share one dev-mode signing key in
 * `dataDir`, as hosts behind one load balancer share one OpenID issuer.
 */
export async function startTrackerHosts(
  network: HostNetwork,
  dataDir: string,
  settings: Record<string, string>,
  clock: () => number,
  log: (line: string) => void,
): Promise<TrackerHost[]> {
  const hosts = network.hosts.map((host) => {
    const url = `http://${host.address}:8080`;
    const process_ = new ServerProcess({
      root,
      baseUrl: url,
      clock,
      log,
      wrap: host.inside,
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "development",
        HOST: "0.0.0.0",
        PORT: "8080",
        AUTH_MODE: "dev",
        DATA_DIR: dataDir,
        DATABASE_POOL_MAX: "5",
        RATE_LIMIT_PER_SECOND: "1000000",
        RATE_LIMIT_BURST: "1000000",
        MAX_WATCH_STREAMS_PER_USER: "100",
        SHUTDOWN_TIMEOUT_MS: "3000",
        LOG_LEVEL: "warn",
        LOG_FORMAT: "json",
        OTEL_EXPORTER_OTLP_ENDPOINT: "",
        ...settings,
      },
    });
    return { ...host, url, process: process_ };
  });
  try {
    await Promise.all(hosts.map((host) => host.process.start()));
  } catch (error) {
    await stopTrackerHosts(hosts);
    throw error;
  }
  return hosts;
}

export async function stopTrackerHosts(hosts: TrackerHost[]): Promise<void> {
  await Promise.all(hosts.map((host) => host.process.stop()));
}

/** WatchIssues streams a host has open now, from its own /metrics. */
export async function watchStreamsOn(host: TrackerHost): Promise<number> {
  try {
    const response = await fetch(`${host.url}/metrics`, { signal: AbortSignal.timeout(2_000) });
    const text = await response.text();
    const match = /^rpc_server_active_streams\{procedure="[^"]*WatchIssues"\} (\d+)/m.exec(text);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** A fault the load goes through: what it did, in words, and the host it took down, if one. */
export type Fault = (context: FaultContext) => Promise<{ detail: string; downed?: string }>;

export interface FaultContext {
  hosts: TrackerHost[];
  clock: () => number;
  log: (line: string) => void;
}

/** Which host served each stream of each watcher, in order, from nginx's access log. */
export function watcherUpstreams(accessLog: string): Map<string, string[]> {
  const streams = new Map<string, string[]>();
  const line =
    /"POST \/tracker\.v1\.IssueService\/WatchIssues [^"]*" .* upstream=(.+?) upstream_status=.*"topology-(watcher-\d+)"$/;
  for (const entry of accessLog.split("\n")) {
    const found = line.exec(entry);
    if (!found) continue;
    // "a:8080, b:8080" when nginx went on to the next host: the last answered.
    const upstream = (found[1] ?? "").split(",").at(-1)?.trim() ?? "";
    const name = found[2] ?? "";
    streams.set(name, [...(streams.get(name) ?? []), upstream]);
  }
  return streams;
}

export interface WatcherFigures {
  name: string;
  protocol: string;
  delivered: number;
  streams: number;
  missing: number;
  duplicated: number;
  outOfOrder: number;
  caughtUp: boolean;
  /** The host of each of its streams, in order (nginx's upstream address). */
  hosts: string[];
}

export interface TopologyResult {
  topology: string;
  description: string;
  loadMs: number;
  calls: number;
  callsByProtocol: Record<string, number>;
  errors: Record<string, number>;
  retries: number;
  faults: string[];
  /** host:port of the tracker host the fault took down, if it took one. */
  downed?: string;
  acknowledged: { issues: number; comments: number; updates: number; deletes: number; total: number };
  lost: number;
  duplicated: number;
  inconsistent: number;
  problems: string[];
  watchers: WatcherFigures[];
  /** Distinct audit_events.client_address values: what tracker saw as the client. */
  clientAddresses: string[];
}

export interface LoadOptions {
  topology: string;
  description: string;
  nginx: Nginx;
  hosts: TrackerHost[];
  /** The database the hosts write, read straight for the checks (not through a pooler). */
  databaseUrl: string;
  dataDir: string;
  durationMs: number;
  /** When the fault starts, from the start of the load. */
  faultAtMs: number;
  fault: Fault;
  clients?: number;
  seed?: number;
  log: (line: string) => void;
  clock: () => number;
}

const userAgent =
  (name: string): Interceptor =>
  (next) =>
  (req) => {
    // nginx logs it: how the access log tells one watcher's streams from another's.
    req.header.set("user-agent", `topology-${name}`);
    return next(req);
  };

/**
 * The soak's load (soak/clients.ts: creates, etag-guarded updates, deletes,
 * comments, reads, each mutation retried with the same request_id or etag
 * until acknowledged) through nginx on all four protocols, with a WatchIssues
 * client per protocol from the start of a project's history; `fault` runs
 * mid-load. Then the ledger check (lost, duplicated) and each watcher's
 * delivery (missing, duplicated, out of order) against the database.
 */
export async function runLoad(options: LoadOptions): Promise<TopologyResult> {
  // Every call listens on shared signals inside connect-node: not a leak.
  setMaxListeners(0);
  const { nginx, clock, log } = options;
  const clientCount = options.clients ?? 8;
  const seed = options.seed ?? 16;
  const protocolOf = (i: number) => PROTOCOLS[i % PROTOCOLS.length] as Protocol;
  const token = (subject: string) =>
    mintDevToken(options.dataDir, { sub: subject, email: `${subject}@example.com` });
  const transport = async (
    protocol: Protocol,
    subject: string,
    extra: Interceptor[] = [],
  ): Promise<Transport> =>
    createNodeTransport(protocol, entryFor(nginx, protocol), [bearerToken(await token(subject)), ...extra]);
  const ledger = new Ledger();
  const clientTransports: Transport[] = [];
  for (let i = 0; i < clientCount; i++)
    clientTransports.push(await transport(protocolOf(i), `topo-client-${i}`));
  const watcherTransports: Transport[] = [];
  for (let i = 0; i < PROTOCOLS.length; i++)
    watcherTransports.push(await transport(protocolOf(i), `topo-watcher-${i}`, [userAgent(`watcher-${i}`)]));
  const { projects, world } = await setUpWorld({
    admin: await transport("gRPC over HTTP/2", "topo-admin"),
    clients: clientTransports,
    watchers: watcherTransports,
    projectCount: 2,
    ledger,
  });
  const watchers = watcherTransports.map(
    (watcherTransport, i) =>
      new Watcher(
        `watcher-${i}`,
        protocolOf(i),
        projects[i % projects.length]?.name ?? "",
        watcherTransport,
        clock,
      ),
  );
  for (const watcher of watchers) watcher.start();
  const stats = new Stats(clock);
  const loadStarted = clock();
  let stopping = false;
  // A mutation in doubt is retried until 30 s after the load's end, then stays in doubt.
  const retryDeadline = Date.now() + options.durationMs + 30_000;
  const clients = clientTransports.map(
    (clientTransport, i) =>
      new SoakClient(
        i,
        protocolOf(i),
        clientTransport,
        world,
        ledger,
        stats,
        seededRandom(seed * 1_000 + i + 1),
        {
          stopping: () => stopping,
          retryUntil: () => retryDeadline,
          thinkMs: 20,
          timeoutMs: 10_000,
        },
      ),
  );
  log(`${options.topology}: load of ${clientCount} clients and ${watchers.length} watchers through nginx`);
  const running = clients.map((client) => client.run());
  await sleep(options.faultAtMs);
  const faultAt = clock() - loadStarted;
  const fault = await options.fault({ hosts: options.hosts, clock, log });
  const faults = [`${(faultAt / 1000).toFixed(1)} s into the load: ${fault.detail}`];
  log(`${options.topology}: ${faults[0]}`);
  await sleep(Math.max(0, loadStarted + options.durationMs - clock()));
  stopping = true;
  await Promise.all(running);
  const loadMs = clock() - loadStarted;

  // Settle: every watcher catches up with its project's history, then the checks.
  const settled = await readDatabaseState(options.databaseUrl);
  const last = new Map(settled.projects.map((p) => [`projects/${p.key}`, p.lastEventSequence]));
  const caughtUp = await Promise.all(
    watchers.map((watcher) => watcher.caughtUp(last.get(watcher.parent) ?? 0, 30_000)),
  );
  for (const watcher of watchers) await watcher.stop();
  // nginx writes a stream's log line when it ends: give it a moment.
  await sleep(300);
  const state = await readDatabaseState(options.databaseUrl);
  const check = checkLedger(ledger, state);
  const upstreams = watcherUpstreams(nginx.accessLog());
  const watcherFigures = watchers.map((watcher, i): WatcherFigures => {
    const history = state.events.filter((event) => `projects/${event.projectKey}` === watcher.parent);
    const delivery = checkDelivery(watcher.name, watcher.delivered, history);
    return {
      name: watcher.name,
      protocol: watcher.protocol,
      delivered: watcher.delivered.length,
      streams: watcher.streams,
      missing: delivery.missing,
      duplicated: delivery.duplicated,
      outOfOrder: delivery.outOfOrder,
      caughtUp: caughtUp[i] ?? false,
      hosts: upstreams.get(watcher.name) ?? [],
    };
  });
  const audit = await query<{ client_address: string }>(
    options.databaseUrl,
    "SELECT DISTINCT client_address FROM audit_events ORDER BY 1",
  );
  const acknowledged = ledger.acknowledged;
  const result: TopologyResult = {
    topology: options.topology,
    description: options.description,
    loadMs,
    calls: stats.requests,
    callsByProtocol: Object.fromEntries(stats.byProtocol),
    errors: Object.fromEntries([...stats.errors].sort((a, b) => b[1] - a[1])),
    retries: stats.retries,
    faults,
    ...(fault.downed && { downed: fault.downed }),
    acknowledged: {
      ...acknowledged,
      total: acknowledged.issues + acknowledged.comments + acknowledged.updates + acknowledged.deletes,
    },
    lost: check.lost,
    duplicated: check.duplicated,
    inconsistent: check.inconsistent,
    problems: [...check.problems.slice(0, 20), ...stats.staleReads.slice(0, 5)],
    watchers: watcherFigures,
    clientAddresses: audit.map((row) => row.client_address),
  };
  stats.latency.destroy();
  stats.ackLatency.destroy();
  return result;
}

/** Kills (SIGKILL) the host with the most WatchIssues streams open, so its watchers must move. */
export const killBusiestHost: Fault = async ({ hosts }) => {
  const streams = await Promise.all(hosts.map(watchStreamsOn));
  const busiest = streams.indexOf(Math.max(...streams));
  const host = hosts[busiest] as TrackerHost;
  await host.process.kill("SIGKILL");
  return {
    detail: `SIGKILL to the tracker host at ${host.address} (${host.namespace}), which had ${streams[busiest]} of ${streams.reduce((a, b) => a + b, 0)} watch streams open`,
    downed: `${host.address}:8080`,
  };
};

/**
 * Makes a primary and standby of test/support/replication.ts reachable from
 * the network (listen on the gateway too; trust the /24 as it trusts
 * loopback) and the replication synchronous, so a commit is acknowledged
 * only once the standby has it. Restarts both.
 */
export async function exposeSynchronously(replication: Replication, network: HostNetwork): Promise<void> {
  const settings = (node: PostgresNode, extra: string[]) => {
    // Appended last, so these win over the lines replication.ts wrote.
    appendFileSync(
      join(node.dataDir, "postgresql.conf"),
      [`\nlisten_addresses = '127.0.0.1,${network.gateway}'`, ...extra, ""].join("\n"),
    );
    appendFileSync(join(node.dataDir, "pg_hba.conf"), `\nhost all all ${network.cidr} trust\n`);
  };
  settings(replication.primary, ["synchronous_standby_names = '*'", "synchronous_commit = on"]);
  settings(replication.standby, []);
  await replication.standby.stop();
  await replication.primary.stop();
  await replication.primary.start();
  await replication.standby.start();
  // A standby just started reports "async" while it catches up, then "sync".
  let state: string | undefined;
  for (const deadline = Date.now() + 15_000; state !== "sync" && Date.now() < deadline; ) {
    const [sync] = await replication.primary.query<{ sync_state: string }>(
      "SELECT sync_state FROM pg_stat_replication",
    );
    state = sync?.sync_state;
    if (state !== "sync") await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (state !== "sync") throw new Error(`the standby is not synchronous: ${state}`);
}

/**
 * The primary crashes (pg_ctl stop -m immediate: no shutdown checkpoint,
 * connections cut) and, after `gapMs` with no primary at all, the standby
 * is promoted: what an operator or a failover manager does.
 */
export const crashPrimaryAndPromote =
  (replication: Replication, gapMs = 1_000): Fault =>
  async () => {
    const began = Date.now();
    const asPostgres =
      process.getuid?.() === 0
        ? {
            uid: Number((await run("id", ["-u", "postgres"])).stdout),
            gid: Number((await run("id", ["-g", "postgres"])).stdout),
          }
        : {};
    await run(
      join(POSTGRES_BIN, "pg_ctl"),
      ["stop", "-m", "immediate", "-w", "-D", replication.primary.dataDir],
      asPostgres,
    );
    const crashed = Date.now();
    await sleep(gapMs);
    await replication.promote();
    return {
      detail:
        `primary on port ${replication.primary.port} crashed (pg_ctl stop -m immediate, ${crashed - began} ms); ` +
        `standby on port ${replication.standby.port} promoted ${Date.now() - crashed} ms later`,
    };
  };

/** A call over real gRPC through nginx with grpcurl: reflection, then GetCurrentUser. */
export async function grpcurlCalls(
  nginx: Nginx,
  dataDir: string,
): Promise<{ services: string; user: string }> {
  const address = new URL(nginx.grpcUrl).host;
  const token = await mintDevToken(dataDir, { sub: "topo-grpcurl", email: "topo-grpcurl@example.com" });
  const services = await run(GRPCURL, ["-plaintext", address, "list"]);
  const user = await run(GRPCURL, [
    "-plaintext",
    "-H",
    `authorization: Bearer ${token}`,
    address,
    "tracker.v1.UserService/GetCurrentUser",
  ]);
  return { services: services.stdout, user: user.stdout };
}

/** Which HTTP versions answer GET /readyz on `url` without TLS: HTTP/1.1, and HTTP/2 with prior knowledge. */
export async function versionsServed(url: string): Promise<{ http1: boolean; h2c: boolean }> {
  const http1 = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) })
    .then((response) => response.status === 200)
    .catch(() => false);
  const h2c = await new Promise<boolean>((resolve) => {
    const session = http2Connect(url);
    const done = (served: boolean) => {
      session.destroy();
      resolve(served);
    };
    session.once("error", () => done(false));
    session.setTimeout(5_000, () => done(false));
    const request = session.request({ ":path": "/readyz" });
    request.once("response", (headers) => done(headers[":status"] === 200));
    request.once("error", () => done(false));
    request.end();
  });
  return { http1, h2c };
}

/** test-results/topology.json and .md, and the same table on stdout. */
export function writeReport(results: TopologyResult[]): string {
  const lines = ["# Topology suite", ""];
  for (const r of results) {
    lines.push(`## ${r.topology}`, "", r.description, "");
    lines.push(`- load: ${(r.loadMs / 1000).toFixed(1)} s, ${r.calls} calls, ${r.retries} retries`);
    lines.push(
      `- calls by protocol: ${Object.entries(r.callsByProtocol)
        .map(([protocol, count]) => `${protocol} ${count}`)
        .join(", ")}`,
    );
    lines.push(
      `- errors: ${
        Object.entries(r.errors)
          .map(([code, count]) => `${code} ${count}`)
          .join(", ") || "none"
      }`,
    );
    lines.push(`- faults injected: ${r.faults.join("; ")}`);
    lines.push(
      `- acknowledged writes: ${r.acknowledged.total} (issues ${r.acknowledged.issues}, updates ${r.acknowledged.updates}, ` +
        `deletes/undeletes ${r.acknowledged.deletes}, comments ${r.acknowledged.comments}): ` +
        `lost ${r.lost}, duplicated ${r.duplicated}, inconsistent ${r.inconsistent}`,
    );
    for (const w of r.watchers) {
      lines.push(
        `- ${w.name} (${w.protocol}): ${w.delivered} events over ${w.streams} streams on ${[...new Set(w.hosts)].join(" then ") || "?"}: ` +
          `lost ${w.missing}, duplicated ${w.duplicated}, out of order ${w.outOfOrder}${w.caughtUp ? "" : ", NEVER CAUGHT UP"}`,
      );
    }
    lines.push(`- client address tracker recorded (audit log): ${r.clientAddresses.join(", ")}`);
    for (const problem of r.problems) lines.push(`  - ${problem}`);
    lines.push("");
  }
  const text = lines.join("\n");
  const dir = join(root, "test-results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "topology.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, "topology.md"), text);
  return text;
}
