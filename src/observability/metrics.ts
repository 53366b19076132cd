import cluster from "node:cluster";
import { AggregatorRegistry, Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DatabaseHandle } from "../db/database.js";
import type { RpcObserver } from "./rpc-outcome.js";

/** Prometheus metrics of the process, for GET /metrics. */
export interface Metrics {
  /** Records every RPC: duration by procedure and code, in-flight requests, open streams. */
  observer: RpcObserver;
  /** Counts a read that may lag by who served it (services/unit-of-work.ts `read`). */
  readServed(target: ReadTarget): void;
  /** The text exposition for GET /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

/**
 * Who served a read that may lag: the replica; the primary (no replica set,
 * or it had not replayed the caller's consistency token, or lacked what was
 * asked for); or the primary in place of a replica that failed to answer.
 */
export type ReadTarget = "replica" | "primary" | "fallback";

/** From 1 ms to 10 s: what an API call should take, and when it has gone wrong. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Metrics of one server, on a registry of its own (never prom-client's
 * global one), so several servers can live in one process, as in the tests:
 * - rpc_server_requests_total and rpc_server_duration_seconds, by
 *   procedure ("/tracker.v1.IssueService/GetIssue"), code ("ok",
 *   "not_found", ... as the request log names them) and protocol (connect,
 *   connect-get, grpc, grpc-web); a stream counts when it ends, with the
 *   time it was open;
 * - rpc_server_in_flight_requests (every RPC being served, streams included)
 *   and rpc_server_active_streams (open server streams), by procedure;
 * - db_pool_connections by state (total, idle, waiting) and db_pool_max;
 * - db_reads_total, the reads that may lag by who served them (ReadTarget);
 * - the process and Node.js defaults (CPU, memory, event loop, GC...).
 *
 * In a cluster worker (WORKERS > 1), a scrape shows every worker's metrics
 * summed (serveClusterMetrics), whichever worker it reaches.
 */
export function createMetrics(database: DatabaseHandle): Metrics {
  const register = new Registry();
  const registers = [register];
  const labelNames = ["procedure", "code", "protocol"] as const;

  const requests = new Counter({
    name: "rpc_server_requests_total",
    help: "RPCs completed, by procedure, code and protocol (streams count when they end).",
    labelNames,
    registers,
  });
  const duration = new Histogram({
    name: "rpc_server_duration_seconds",
    help: "Time from receiving an RPC to its completion (for streams, until the stream ends).",
    labelNames,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const inFlight = new Gauge({
    name: "rpc_server_in_flight_requests",
    help: "RPCs being served, streams included, by procedure.",
    labelNames: ["procedure"] as const,
    registers,
  });
  const activeStreams = new Gauge({
    name: "rpc_server_active_streams",
    help: "Server streams currently open, by procedure.",
    labelNames: ["procedure"] as const,
    registers,
  });
  const { pool } = database;
  new Gauge({
    name: "db_pool_connections",
    help: "Connections of the PostgreSQL pool: total (open), idle, and waiting (callers queued for one).",
    labelNames: ["state"] as const,
    registers,
    collect() {
      this.set({ state: "total" }, pool.totalCount);
      this.set({ state: "idle" }, pool.idleCount);
      this.set({ state: "waiting" }, pool.waitingCount);
    },
  });
  new Gauge({
    name: "db_pool_max",
    help: "The most connections the PostgreSQL pool opens.",
    registers,
    collect() {
      const max = pool.options.max;
      if (typeof max === "number") this.set(max);
    },
  });
  const reads = new Counter({
    name: "db_reads_total",
    help: "Reads that may lag (lists and history), by who served them: replica, primary, or fallback (the primary, for a replica that failed to answer).",
    labelNames: ["target"] as const,
    registers,
  });
  // Per registry: reads process state on each scrape, plus an event-loop
  // delay monitor and a GC observer, neither of which keeps the process alive.
  collectDefaultMetrics({ register });

  const observer: RpcObserver = {
    started(req, procedure) {
      inFlight.inc({ procedure });
      if (req.method.methodKind !== "unary") activeStreams.inc({ procedure });
    },
    record(outcome) {
      const labels = { procedure: outcome.procedure, code: outcome.code, protocol: outcome.protocol };
      requests.inc(labels);
      duration.observe(labels, outcome.durationMs / 1000);
      inFlight.dec({ procedure: outcome.procedure });
      if (outcome.stream) activeStreams.dec({ procedure: outcome.procedure });
    },
  };

  const readServed = (target: ReadTarget) => reads.inc({ target });
  // Every target shows from the start, at 0, so a rate over it is defined before its first read.
  for (const target of ["replica", "primary", "fallback"] as const) reads.inc({ target }, 0);

  if (cluster.isWorker) {
    // What this worker gives the primary's AggregatorRegistry when it asks;
    // constructing one is what makes a worker answer (prom-client).
    AggregatorRegistry.setRegistries([register]);
    new AggregatorRegistry();
    return { observer, readServed, render: clusterMetricsFromPrimary };
  }
  return {
    observer,
    readServed,
    render: async () => ({ contentType: register.contentType, body: await register.metrics() }),
  };
}

const CLUSTER_METRICS = "tracker:cluster-metrics";
interface ClusterMetricsMessage {
  type: typeof CLUSTER_METRICS;
  id: number;
  body?: string;
  contentType?: string;
  error?: string;
}
const isClusterMetrics = (message: unknown): message is ClusterMetricsMessage =>
  (message as { type?: unknown } | null)?.type === CLUSTER_METRICS;

/**
 * WORKERS > 1, in the primary: answers each worker's request with every
 * worker's metrics, aggregated by prom-client (counters and histograms
 * summed, gauges as each one says), so a scrape that reaches any worker sees
 * the whole server, not the one worker the connection landed on.
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker, message: unknown) => {
    if (!isClusterMetrics(message)) return;
    aggregator.clusterMetrics().then(
      (body) =>
        worker.send({ type: CLUSTER_METRICS, id: message.id, body, contentType: aggregator.contentType }),
      (error: unknown) => worker.send({ type: CLUSTER_METRICS, id: message.id, error: String(error) }),
    );
  });
}

let clusterRequests = 0;

/** In a worker: every worker's metrics, as the primary aggregates them (serveClusterMetrics). */
function clusterMetricsFromPrimary(): Promise<{ contentType: string; body: string }> {
  const id = ++clusterRequests;
  return new Promise((resolve, reject) => {
    const answered = (message: unknown) => {
      if (!isClusterMetrics(message) || message.id !== id) return;
      process.off("message", answered);
      clearTimeout(timer);
      if (message.body === undefined) reject(new Error(`cluster metrics: ${message.error}`));
      else
        resolve({ contentType: message.contentType ?? Registry.PROMETHEUS_CONTENT_TYPE, body: message.body });
    };
    // prom-client gives up on a silent worker after 5 s; the primary answers by then.
    const timer = setTimeout(() => {
      process.off("message", answered);
      reject(new Error("cluster metrics: the primary did not answer"));
    }, 6_000);
    process.on("message", answered);
    process.send?.({ type: CLUSTER_METRICS, id });
  });
}
