import { setMaxListeners } from "node:events";
import { type Logger, pino } from "pino";
import { discoverOidcAuthenticator } from "../../src/auth/authenticator.js";
import type { AppContext, Limits } from "../../src/context.js";
import { connectDatabase, type DatabaseHandle } from "../../src/db/database.js";
import { IssueEventBus } from "../../src/db/issue-event-bus.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTracing, type Tracing } from "../../src/observability/tracing.js";
import { DEFAULT_TRANSPORT_LIMITS } from "../../src/server/one-port.js";
import { createServer } from "../../src/server.js";
import { createTestDatabase } from "./database.js";
import { testIssuer } from "./issuer.js";

export interface TestServer {
  baseUrl: string;
  port: number;
  ctx: AppContext;
  database: DatabaseHandle;
  /** URL of this server's own database, e.g. for a second server process. */
  databaseUrl: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Run on the database of another test server, as a second process of one deployment. */
  sharedWith?: TestServer;
  limits?: Partial<Limits>;
  /** Where the server logs; default silent. */
  logger?: Logger;
  /** A database of the caller's own instead of a fresh test database. */
  databaseUrl?: string;
  /** Tracing to use, e.g. with an in-memory exporter; default off. */
  tracing?: Tracing;
  /** Token subjects that may read the audit log (default: "auditor"). */
  instanceAdmins?: string[];
  /** How long close() lets requests in flight finish (default 1 s). */
  drainTimeoutMs?: number;
}

/**
 * The real server on a free loopback port, on its own fresh database,
 * trusting the test file's OpenID provider (a real JWKS over HTTP).
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { sharedWith } = options;
  const testDatabase = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => {} }
    : sharedWith
      ? { url: sharedWith.databaseUrl, drop: async () => {} }
      : await createTestDatabase();
  const database = connectDatabase(testDatabase.url, { poolMax: 10 });
  const issuer = await testIssuer();
  const authenticator = await discoverOidcAuthenticator({
    issuer: issuer.url,
    audience: issuer.audience,
    algorithms: ["RS256"],
    clockToleranceSeconds: 5,
  });
  const logger = options.logger ?? pino({ level: "silent" });
  const issueEvents = new IssueEventBus(testDatabase.url, logger);
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
    authenticator,
    instanceAdmins: new Set(options.instanceAdmins ?? ["auditor"]),
    metrics: createMetrics(database),
    tracing: options.tracing ?? createTracing({ serviceName: "tracker-test" }),
    // Generous unless a test is about the limits: suites make many calls fast.
    limits: {
      ratePerSecond: 100_000,
      burst: 100_000,
      maxWatchStreamsPerUser: 50,
      maxDeadlineMs: 60_000,
      ...DEFAULT_TRANSPORT_LIMITS,
      ...options.limits,
    },
  };
  const server = createServer(ctx);
  const address = await server.listen(0, "127.0.0.1");
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    port: address.port,
    ctx,
    database,
    databaseUrl: testDatabase.url,
    async close() {
      shutdown.abort();
      await server.close(options.drainTimeoutMs ?? 1_000);
      await issueEvents.close();
      await database.close();
      await testDatabase.drop();
    },
  };
}
