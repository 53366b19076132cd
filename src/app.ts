import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import { type Logger, pino } from "pino";
import { type Authenticator, discoverOidcAuthenticator } from "./auth/authenticator.js";
import { createDevAuthenticator, mintDevToken } from "./auth/dev-issuer.js";
import type { Config } from "./config.js";
import type { AppContext, Limits } from "./context.js";
import { assertPooledSettings, connectDatabase } from "./db/database.js";
import { connectReplica } from "./db/replica.js";
import { IssueEventBus } from "./domain/issue-events/issue-event-bus.js";
import { WatchStreamCap } from "./domain/issue-events/issue-watch.js";
import { expireRequestIds } from "./domain/shared/idempotency.js";
import { DeliveryWorker } from "./domain/webhooks/delivery-worker.js";
import { targetPolicy } from "./domain/webhooks/webhook-targets.js";
import { createMetrics } from "./observability/metrics.js";
import { createTracing, type Tracing, traceQueries } from "./observability/tracing.js";
import { type Ablation, createServer } from "./server/create-server.js";
import { RateLimiter } from "./shared/rate-limit.js";
import { StartupError } from "./startup-error.js";

/** One server process: what it is made of, and how it starts and stops. */
export interface App {
  ctx: AppContext;
  /** Listens on the one port; a port in use is a StartupError naming PORT. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops taking requests, lets those in flight finish (up to SHUTDOWN_TIMEOUT_MS), then releases everything. */
  close(): Promise<void>;
}

/** What a caller may supply instead of what the settings would build (the tests' logger, exporter and limits). */
export interface AppOverrides {
  logger?: Logger;
  tracing?: Tracing;
  /** Instead of the one AUTH_MODE builds (the bench's "token check off" trusts every request). */
  authenticator?: Authenticator;
  limits?: Partial<Limits>;
  /** Bench only (bench/tracker-server.ts), never in production: layers left out to measure their cost. */
  ablation?: Ablation;
}

/** Request ids are kept for a day, then forgotten (an hourly sweep), so their table stays bounded. */
const REQUEST_ID_SWEEP_MS = 3_600_000;

/**
 * The composition root: builds a server from its settings, on the database
 * at `config.DATABASE_URL` (already migrated). main.ts adds only process
 * concerns (the embedded database, workers, signals); the tests start their
 * servers through this same function.
 */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const databaseUrl = config.DATABASE_URL;
  if (!databaseUrl)
    throw new Error("createApp needs DATABASE_URL: main.ts starts the embedded database first");
  const logger = overrides.logger ?? createLogger(config);
  const tracing =
    overrides.tracing ??
    // Off (and free) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
    createTracing({
      serviceName: config.OTEL_SERVICE_NAME,
      otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    });
  const authenticator =
    overrides.authenticator ??
    (config.AUTH_MODE === "dev"
      ? await createDevAuthenticator(config.DATA_DIR)
      : await discoverOidcAuthenticator({
          issuer: config.OIDC_ISSUER ?? "",
          audience: config.OIDC_AUDIENCE ?? "",
          algorithms: config.OIDC_ALGORITHMS,
          clockToleranceSeconds: config.OIDC_CLOCK_TOLERANCE_SECONDS,
        }));
  const database = connectDatabase(databaseUrl, {
    poolMax: config.DATABASE_POOL_MAX,
    statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
    pooler: config.DATABASE_POOLER,
    // Queries made while an RPC is traced become its child spans.
    ...(!overrides.ablation?.layersOff.has("tracing") && { instrument: traceQueries }),
  });
  // Reads that may lag go to the replica when there is one (services/unit-of-work.ts `read`).
  // Not checked at startup: a replica that does not answer sends its reads to the primary.
  const replica =
    config.DATABASE_REPLICA_URL === undefined
      ? undefined
      : connectReplica(config.DATABASE_REPLICA_URL, {
          poolMax: config.DATABASE_REPLICA_POOL_MAX ?? config.DATABASE_POOL_MAX,
          statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
          pooler: config.DATABASE_POOLER,
          ...(!overrides.ablation?.layersOff.has("tracing") && { instrument: traceQueries }),
        });
  // LISTEN needs a session of its own: never through a transaction pooler.
  const issueEvents = new IssueEventBus(config.DATABASE_DIRECT_URL ?? databaseUrl, logger);
  try {
    if (config.DATABASE_POOLER === "transaction")
      await assertPooledSettings(database.pool, config.STATEMENT_TIMEOUT_MS);
    await issueEvents.start();
  } catch (error) {
    await database.close();
    await replica?.close();
    throw error;
  }
  const shutdown = new AbortController();
  // Every request in flight listens for shutdown: no listener limit applies.
  setMaxListeners(0, shutdown.signal);
  const webhookTargets = targetPolicy(config.WEBHOOK_ALLOWED_CIDRS);
  const limits: Limits = {
    ratePerSecond: config.RATE_LIMIT_PER_SECOND,
    burst: config.RATE_LIMIT_BURST,
    maxWatchStreamsPerUser: config.MAX_WATCH_STREAMS_PER_USER,
    watchStreamLeaseMs: config.WATCH_STREAM_LEASE_MS,
    maxDeadlineMs: config.MAX_DEADLINE_MS,
    headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    streamIdleTimeoutMs: config.STREAM_IDLE_TIMEOUT_MS,
    keepAliveTimeoutMs: config.KEEP_ALIVE_TIMEOUT_MS,
    maxConcurrentStreams: config.MAX_CONCURRENT_STREAMS,
    ...overrides.limits,
  };
  // Both in PostgreSQL, so every process and host counts the same calls and
  // streams (DEPLOYMENT.md, "Cluster-wide limits").
  const rateLimiter = new RateLimiter(database.pool, limits, logger);
  const watchStreams = new WatchStreamCap(
    database.db,
    limits.maxWatchStreamsPerUser,
    limits.watchStreamLeaseMs,
    logger,
  );
  const ctx: AppContext = {
    db: database.db,
    database,
    replica,
    logger,
    issueEvents,
    shutdown: shutdown.signal,
    authenticator,
    instanceAdmins: new Set(config.INSTANCE_ADMINS),
    webhookTargets,
    metrics: createMetrics(database),
    tracing,
    rateLimiter,
    watchStreams,
    limits,
  };
  const server = createServer(ctx, {
    ablation: overrides.ablation,
    ...(config.AUTH_MODE === "dev" && { mintDevToken: (claims) => mintDevToken(config.DATA_DIR, claims) }),
  });
  // Every process delivers webhooks; the outbox's claims keep them from sending one twice at once.
  const deliveries = new DeliveryWorker(database.db, logger, {
    concurrency: config.WEBHOOK_CONCURRENCY,
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
    retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    pollIntervalMs: config.WEBHOOK_POLL_INTERVAL_MS,
    targets: webhookTargets,
    onAttempt: (outcome) => ctx.metrics.webhookAttempt(outcome),
  });
  const stopWakingDeliveries = issueEvents.onDeliveriesQueued(() => deliveries.wake());
  deliveries.start();
  const requestIdSweep = setInterval(() => {
    expireRequestIds(database.db).catch((error: unknown) =>
      logger.warn({ err: error }, "could not expire old request ids; will try again"),
    );
  }, REQUEST_ID_SWEEP_MS).unref();

  /** Everything but the server, which close() drains first. */
  async function release() {
    clearInterval(requestIdSweep);
    // Before the database closes: attempts in flight give their rows back for later.
    stopWakingDeliveries();
    await deliveries.stop();
    rateLimiter.close();
    await watchStreams.close();
    await issueEvents.close();
    await tracing.shutdown();
    await database.close();
    await replica?.close();
  }

  return {
    ctx,
    async listen(port, host) {
      try {
        return await server.listen(port, host);
      } catch (error) {
        // Nothing may be left open (the event bus would reconnect to a database being stopped).
        await release();
        if ((error as { code?: string }).code !== "EADDRINUSE") throw error;
        throw new StartupError(
          `PORT: ${host}:${port} is taken by another process: stop it, or set PORT to another port`,
        );
      }
    },
    async close() {
      shutdown.abort();
      // No new attempts while the requests in flight finish.
      const deliveriesStopped = deliveries.stop();
      await server.close(config.SHUTDOWN_TIMEOUT_MS);
      await deliveriesStopped;
      await release();
    },
  };
}

/** The process's logger: readable lines on a terminal outside production, JSON otherwise. */
export function createLogger(config: Pick<Config, "LOG_FORMAT" | "LOG_LEVEL" | "NODE_ENV">): Logger {
  const pretty =
    (config.LOG_FORMAT ?? (process.stdout.isTTY && config.NODE_ENV !== "production" ? "pretty" : "json")) ===
    "pretty";
  return pino({
    level: config.LOG_LEVEL,
    // Whatever reaches the log, credentials never do.
    redact: ["req.headers.authorization", "headers.authorization", "authorization", "password", "*.password"],
    ...(pretty && {
      transport: { target: "pino-pretty", options: { translateTime: "HH:MM:ss.l", ignore: "pid,hostname" } },
    }),
  });
}
