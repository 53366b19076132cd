import { type Logger, pino } from "pino";
import { createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import type { AppContext, Limits } from "../../src/context.js";
import type { DatabaseHandle } from "../../src/db/database.js";
import type { Tracing } from "../../src/observability/tracing.js";
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
  /** More settings, as the environment would give them (e.g. DATABASE_POOLER). */
  settings?: Record<string, string>;
  /** The address to listen on (default 127.0.0.1), e.g. a host network's gateway. */
  host?: string;
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
  const issuer = await testIssuer();
  // The settings a deployment would give, through the same parser.
  const config = loadConfig({
    DATABASE_URL: testDatabase.url,
    DATABASE_POOL_MAX: "10",
    AUTH_MODE: "oidc",
    OIDC_ISSUER: issuer.url,
    OIDC_AUDIENCE: issuer.audience,
    OIDC_ALGORITHMS: "RS256",
    OIDC_CLOCK_TOLERANCE_SECONDS: "5",
    INSTANCE_ADMINS: (options.instanceAdmins ?? ["auditor"]).join(","),
    OTEL_SERVICE_NAME: "tracker-test",
    SHUTDOWN_TIMEOUT_MS: String(options.drainTimeoutMs ?? 1_000),
    // Generous unless a test is about the limits: suites make many calls fast.
    RATE_LIMIT_PER_SECOND: "100000",
    RATE_LIMIT_BURST: "100000",
    MAX_WATCH_STREAMS_PER_USER: "50",
    ...options.settings,
  });
  const app = await createApp(config, {
    logger: options.logger ?? pino({ level: "silent" }),
    ...(options.tracing && { tracing: options.tracing }),
    ...(options.limits && { limits: options.limits }),
  });
  const host = options.host ?? "127.0.0.1";
  const address = await app.listen(0, host);
  return {
    baseUrl: `http://${host}:${address.port}`,
    port: address.port,
    ctx: app.ctx,
    database: app.ctx.database,
    databaseUrl: testDatabase.url,
    async close() {
      await app.close();
      await testDatabase.drop();
    },
  };
}
