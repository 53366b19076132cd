import type { Interceptor } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DatabaseHandle } from "../db/database.js";
import { observeRpcs } from "./rpc-outcome.js";

/** Prometheus metrics of the process, for GET /metrics. */
export interface Metrics {
  /** Records every RPC: duration by procedure and code, in-flight requests, open streams. */
  interceptor: Interceptor;
  /** The text exposition for GET /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

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
 * - the process and Node.js defaults (CPU, memory, event loop, GC...).
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
  // Per registry: reads process state on each scrape, plus an event-loop
  // delay monitor and a GC observer, neither of which keeps the process alive.
  collectDefaultMetrics({ register });

  const interceptor = observeRpcs(
    (req, procedure) => {
      inFlight.inc({ procedure });
      if (req.method.methodKind !== "unary") activeStreams.inc({ procedure });
    },
    (outcome) => {
      const labels = { procedure: outcome.procedure, code: outcome.code, protocol: outcome.protocol };
      requests.inc(labels);
      duration.observe(labels, outcome.durationMs / 1000);
      inFlight.dec({ procedure: outcome.procedure });
      if (outcome.stream) activeStreams.dec({ procedure: outcome.procedure });
    },
  );

  return {
    interceptor,
    render: async () => ({ contentType: register.contentType, body: await register.metrics() }),
  };
}
