import { setMaxListeners } from "node:events";
import { join } from "node:path";
import { pino } from "pino";
import { discoverOidcAuthenticator } from "./auth/authenticator.js";
import { createDevAuthenticator } from "./auth/dev-issuer.js";
import { loadConfig } from "./config.js";
import type { AppContext } from "./context.js";
import { applyMigrations, applySchema } from "./db/atlas.js";
import { connectDatabase } from "./db/database.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embedded-postgres.js";
import { IssueEventBus } from "./db/issue-event-bus.js";
import { createMetrics } from "./observability/metrics.js";
import { createTracing } from "./observability/tracing.js";
import { createServer } from "./server.js";

const config = (() => {
  try {
    return loadConfig();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
})();
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

// Without DATABASE_URL, a real PostgreSQL runs embedded under DATA_DIR and
// Atlas applies schema.hcl declaratively (development). With it, Atlas
// applies the reviewed migrations in migrations/ (production).
let embedded: EmbeddedDatabase | undefined;
let databaseUrl = config.DATABASE_URL;
if (databaseUrl) {
  await applyMigrations(databaseUrl);
} else {
  embedded = await startEmbeddedPostgres(join(config.DATA_DIR, "postgres"));
  await embedded.createDatabase("tracker");
  await embedded.createDatabase("atlas_dev");
  databaseUrl = embedded.urlFor("tracker");
  await applySchema(databaseUrl, embedded.urlFor("atlas_dev"));
}

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
  },
};
const server = createServer(ctx);
const address = await server.listen(config.PORT, config.HOST);
logger.info(
  {
    address: `${address.address}:${address.port}`,
    database: embedded ? `embedded PostgreSQL in ${join(config.DATA_DIR, "postgres")}` : redact(databaseUrl),
    auth:
      config.AUTH_MODE === "dev"
        ? "dev mode: tokens from `npm run token -- --sub <name>`"
        : `OIDC issuer ${config.OIDC_ISSUER}, audience ${config.OIDC_AUDIENCE}`,
  },
  `tracker listening on http://localhost:${address.port} (Connect, gRPC, gRPC-Web; HTTP/1.1 and h2c)`,
);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down");
  shutdown.abort();
  await server.close(config.SHUTDOWN_TIMEOUT_MS);
  await issueEvents.close();
  await tracing.shutdown();
  await database.close();
  await embedded?.stop();
  logger.info("stopped");
  process.exit(0);
}
process.once("SIGINT", () => void stop("SIGINT"));
process.once("SIGTERM", () => void stop("SIGTERM"));

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
