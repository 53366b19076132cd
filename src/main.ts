import "./node-version.js";
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createApp, createLogger } from "./app.js";
import { loadDevKey } from "./auth/dev-issuer.js";
import { loadConfigOrExit } from "./config.js";
import { applyMigrations, applySchema } from "./db/atlas.js";
import { assertReachable } from "./db/database.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embedded-postgres.js";
import { type HostsPurpose, parseDatabaseHosts, selectHost } from "./db/hosts.js";
import { serveClusterMetrics } from "./observability/metrics.js";
import { StartupError } from "./startup-error.js";

const config = loadConfigOrExit();
const logger = createLogger(config);

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
    if (config.DATABASE_DIRECT_URL) await assertReachable(config.DATABASE_DIRECT_URL, "DATABASE_DIRECT_URL");
    // Atlas sends startup parameters (search_path, extra_float_digits) PgBouncer refuses.
    // Atlas takes one host: the one a new connection would pick now.
    await applyMigrations(await selectHost(config.DATABASE_DIRECT_URL ?? config.DATABASE_URL));
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
  const app = await createApp({ ...config, DATABASE_URL: databaseUrl }, { logger });
  const address = await app.listen(config.PORT, config.HOST);
  if (cluster.isPrimary) {
    logger.info(
      {
        address: `${address.address}:${address.port}`,
        database: embedded
          ? `embedded PostgreSQL in ${join(config.DATA_DIR, "postgres")}`
          : redact(databaseUrl),
        ...(config.DATABASE_REPLICA_URL && { replica: redact(config.DATABASE_REPLICA_URL, "replica") }),
        auth:
          config.AUTH_MODE === "dev"
            ? "dev mode: sign in on the board as anyone, or mint a token with `npm run token -- --sub <name>`"
            : `OIDC issuer ${config.OIDC_ISSUER}, audience ${config.OIDC_AUDIENCE}`,
      },
      `tracker listening on http://localhost:${address.port} (Connect, gRPC, gRPC-Web; HTTP/1.1 and h2c)`,
    );
  }
  return () => app.close();
}

/**
 * WORKERS > 1: that many server processes share PORT (node:cluster hands
 * connections round-robin), so every core serves requests. A worker that
 * dies is replaced; SIGTERM or SIGINT drains them all, then the database.
 */
function superviseWorkers(count: number, databaseUrl: string, embedded: EmbeddedDatabase | undefined) {
  let stopping = false;
  const fork = () => cluster.fork({ DATABASE_URL: databaseUrl, DATABASE_SECRET: "" });
  serveClusterMetrics();
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

function redact(url: string, purpose: HostsPurpose = "primary"): string {
  // WHATWG URL cannot parse libpq's several hosts.
  if (parseDatabaseHosts(url, purpose).urls.length > 1)
    return url.replace(/^([^:]+:\/\/[^:@/]*:)[^@/]*@/, "$1***@");
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
