import "./node-version.js";
import cluster from "node:cluster";
import { setMaxListeners } from "node:events";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { discoverOidcAuthenticator } from "./auth/authenticator.js";
import { createDevAuthenticator, loadDevKey } from "./auth/dev-issuer.js";
import { loadConfigOrExit, StartupError } from "./config.js";
import type { AppContext } from "./context.js";
import { applyMigrations, applySchema } from "./db/atlas.js";
import { assertReachable, connectDatabase } from "./db/database.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embedded-postgres.js";
import { IssueEventBus } from "./db/issue-event-bus.js";
import { expireRequestIds } from "./domain/shared/idempotency.js";
import { createMetrics } from "./observability/metrics.js";
import { createTracing } from "./observability/tracing.js";
import { createServer } from "./server.js";

const config = loadConfigOrExit();
const pretty =
  (config.LOG_FORMAT ?? (process.stdout.isTTY && config.NODE_ENV !== "production" ? "pretty" : "json")) ===
  "pretty";
const logger = pino({
  level: config.LOG_LEVEL,
  // Whatever reaches the log, credentials never do.
  redact: ["req.headers.authorization", "headers.authorization", "authorization", "password", "*.password"],
  ...(pretty && {
    transport: { target: "pino-pretty", options: { translateTime: "HH:MM:ss.l", ignore: "pid,hostname" } },
  }),
});

const workerCount = config.WORKERS === "auto" ? availableParallelism() : config.WORKERS;

if (cluster.isPrimary) {
  const { databaseUrl, embedded } = await prepareDatabase().catch(exitIfStartupError);
  try {
    // The dev signing key is created once, here, before workers race to create it.
    if (config.AUTH_MODE === "dev") await loadDevKey(config.DATA_DIR);
    if (workerCount === 1) {
      const stopServer = await serve(databaseUrl, embedded);
      onStopSignal(async () => {
        await stopServer();
        await embedded?.stop();
      });
    } else {
      superviseWorkers(workerCount, databaseUrl, embedded);
    }
  } catch (error) {
    // Failing to start (the port taken) must not leave PostgreSQL running.
    await embedded?.stop();
    exitIfStartupError(error);
  }
} else {
  // A cluster worker: the primary prepared the database and passes its URL.
  const stopServer = await serve(config.DATABASE_URL ?? "", undefined);
  onStopSignal(stopServer);
}

/**
 * Without DATABASE_URL, a real PostgreSQL runs embedded under DATA_DIR and
 * Atlas applies schema.hcl declaratively (development). With it, Atlas
 * applies the reviewed migrations in migrations/ (production).
 */
async function prepareDatabase(): Promise<{ databaseUrl: string; embedded?: EmbeddedDatabase }> {
  if (config.DATABASE_URL) {
    await assertReachable(config.DATABASE_URL, config.DATABASE_SECRET ? "DATABASE_SECRET" : "DATABASE_URL");
    await applyMigrations(config.DATABASE_URL);
    return { databaseUrl: config.DATABASE_URL };
  }
  const embedded = await startEmbeddedPostgres(join(config.DATA_DIR, "postgres"));
  try {
    await embedded.createDatabase("tracker");
    await embedded.createDatabase("atlas_dev");
    const databaseUrl = embedded.urlFor("tracker");
    await applySchema(databaseUrl, embedded.urlFor("atlas_dev"));
    return { databaseUrl, embedded };
  } catch (error) {
    // A failed start (Atlas missing, a bad schema) must not leave PostgreSQL running.
    await embedded.stop();
    throw error;
  }
}

/** Starts one server on PORT; resolves to the function that drains and stops it. */
async function serve(
  databaseUrl: string,
  embedded: EmbeddedDatabase | undefined,
): Promise<() => Promise<void>> {
  const database = connectDatabase(databaseUrl, {
    poolMax: config.DATABASE_POOL_MAX,
    statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
  });
  const authenticator =
    config.AUTH_MODE === "dev"
      ? await createDevAuthenticator(config.DATA_DIR)
      : await discoverOidcAuthenticator({
          issuer: config.OIDC_ISSUER ?? "",
          audience: config.OIDC_AUDIENCE ?? "",
          algorithms: config.OIDC_ALGORITHMS,
          clockToleranceSeconds: config.OIDC_CLOCK_TOLERANCE_SECONDS,
        });
  const issueEvents = new IssueEventBus(databaseUrl, logger);
  await issueEvents.start();
  const shutdown = new AbortController();
  // Every request in flight listens for shutdown: no listener limit applies.
  setMaxListeners(0, shutdown.signal);
  // Off (and free) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = createTracing({
    serviceName: config.OTEL_SERVICE_NAME,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const ctx: AppContext = {
    db: database.db,
    database,
    logger,
    issueEvents,
    shutdown: shutdown.signal,
    authenticator,
    instanceAdmins: new Set(config.INSTANCE_ADMINS),
    metrics: createMetrics(database),
    tracing,
    limits: {
      ratePerSecond: config.RATE_LIMIT_PER_SECOND,
      burst: config.RATE_LIMIT_BURST,
      maxWatchStreamsPerUser: config.MAX_WATCH_STREAMS_PER_USER,
      maxDeadlineMs: config.MAX_DEADLINE_MS,
      headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
      streamIdleTimeoutMs: config.STREAM_IDLE_TIMEOUT_MS,
      keepAliveTimeoutMs: config.KEEP_ALIVE_TIMEOUT_MS,
      maxConcurrentStreams: config.MAX_CONCURRENT_STREAMS,
    },
  };
  const server = createServer(ctx);
  const address = await server.listen(config.PORT, config.HOST).catch(async (error: unknown) => {
    // Nothing may be left open (the event bus would reconnect to a database being stopped).
    await issueEvents.close();
    await tracing.shutdown();
    await database.close();
    if ((error as { code?: string }).code !== "EADDRINUSE") throw error;
    throw new StartupError(
      `PORT: ${config.HOST}:${config.PORT} is taken by another process: stop it, or set PORT to another port`,
    );
  });
  // Request ids are kept for a day, then forgotten, so their table stays bounded.
  const requestIdExpiry = setInterval(() => {
    expireRequestIds(database.db).catch((error: unknown) =>
      logger.warn({ err: error }, "could not expire old request ids; will try again"),
    );
  }, 3_600_000).unref();
  if (cluster.isPrimary) {
    logger.info(
      {
        address: `${address.address}:${address.port}`,
        database: embedded
          ? `embedded PostgreSQL in ${join(config.DATA_DIR, "postgres")}`
          : redact(databaseUrl),
        auth:
          config.AUTH_MODE === "dev"
            ? "dev mode: tokens from `npm run token -- --sub <name>`"
            : `OIDC issuer ${config.OIDC_ISSUER}, audience ${config.OIDC_AUDIENCE}`,
      },
      `tracker listening on http://localhost:${address.port} (Connect, gRPC, gRPC-Web; HTTP/1.1 and h2c)`,
    );
  }
  return async () => {
    clearInterval(requestIdExpiry);
    shutdown.abort();
    await server.close(config.SHUTDOWN_TIMEOUT_MS);
    await issueEvents.close();
    await tracing.shutdown();
    await database.close();
  };
}

/**
 * WORKERS > 1: that many server processes share PORT (node:cluster hands
 * connections round-robin), so every core serves requests. A worker that
 * dies is replaced; SIGTERM or SIGINT drains them all, then the database.
 */
function superviseWorkers(count: number, databaseUrl: string, embedded: EmbeddedDatabase | undefined) {
  let stopping = false;
  const fork = () => cluster.fork({ DATABASE_URL: databaseUrl, DATABASE_SECRET: "" });
  for (let i = 0; i < count; i++) fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, "worker died; starting another");
    // A worker that dies at once (bad config, port taken) must not spin.
    setTimeout(fork, 1_000);
  });
  let listening = 0;
  cluster.on("listening", (_worker, address) => {
    if (++listening === count)
      logger.info(
        { workers: count, address: `${address.address}:${address.port}` },
        `tracker listening on http://localhost:${address.port} with ${count} workers (Connect, gRPC, gRPC-Web; HTTP/1.1 and h2c)`,
      );
  });
  onStopSignal(async (signal) => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once("exit", () => resolve());
            // Ctrl+C reached the workers already (same process group); SIGTERM may not have.
            if (signal === "SIGTERM") worker.process.kill("SIGTERM");
          }),
      ),
    );
    await embedded?.stop();
  });
}

/**
 * A StartupError (a setting that points at something unusable) ends the
 * process with its one line; anything else is a bug and keeps its stack.
 */
function exitIfStartupError(error: unknown): never {
  if (!(error instanceof StartupError)) throw error;
  console.error(error.message);
  process.exit(1);
}

function onStopSignal(stop: (signal: string) => Promise<void>) {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    stop(signal).then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
