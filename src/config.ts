import { z } from "zod";
import { DEFAULT_TRANSPORT_LIMITS as transport } from "./context.js";
import { type HostsPurpose, parseDatabaseHosts } from "./db/hosts.js";

// Every setting comes from the environment and is checked once, at startup,
// so a bad deployment fails with one message listing every problem.
const postgresUrl = z.url({ protocol: /^postgres(ql)?$/ });
/** A PostgreSQL URL, or libpq's several-host forms (db/hosts.ts): then each host's URL is checked as one. */
const databaseUrlFor = (purpose: HostsPurpose) =>
  z.string().superRefine((value, ctx) => {
    try {
      for (const url of parseDatabaseHosts(value, purpose).urls) {
        const issue = postgresUrl.safeParse(url).error?.issues[0];
        if (issue) return ctx.addIssue({ code: "custom", message: issue.message });
      }
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  });
const databaseUrl = databaseUrlFor("primary");

const list = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean),
);

const schema = z.object({
  PORT: z
    .string()
    .default("8080")
    .refine((value) => /^\d{1,5}$/.test(value) && Number(value) <= 65535, {
      error: (issue) =>
        `a port number from 0 to 65535 (0 for any free one), not ${JSON.stringify(issue.input)}`,
    })
    .transform(Number),
  /** Loopback unless told otherwise: a container sets 0.0.0.0 (Dockerfile). */
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: databaseUrl
    .optional()
    .describe("PostgreSQL to use; unset means an embedded PostgreSQL under DATA_DIR"),
  /**
   * The database as a JSON secret, the shape AWS Secrets Manager injects
   * into ECS: {"host","port","dbname","username","password"}. An alternative
   * to DATABASE_URL that keeps the password out of plain env listings.
   */
  DATABASE_SECRET: z.string().optional(),
  /**
   * A pooler between tracker and PostgreSQL (PgBouncer). "transaction": no
   * named prepared statements, and the session settings must be the role's
   * (see DEPLOYMENT.md); the pool's server connections are shared.
   */
  DATABASE_POOLER: z.enum(["none", "session", "transaction"]).default("none"),
  /**
   * A direct (or session-mode) connection to the same database, for what a
   * transaction-mode pooler cannot carry: LISTEN and the migrations at startup.
   */
  DATABASE_DIRECT_URL: databaseUrl.optional(),
  /**
   * A streaming standby of the database, for the reads that may lag (lists
   * and history; DEPLOYMENT.md#read-replicas); unset: the primary serves all.
   */
  DATABASE_REPLICA_URL: databaseUrlFor("replica").optional(),
  /** The replica's pool (per worker); unset: as large as DATABASE_POOL_MAX. */
  DATABASE_REPLICA_POOL_MAX: z.coerce.number().int().min(1).max(1000).optional(),
  DATA_DIR: z.string().min(1).default(".data"),
  /** Server processes sharing PORT (node:cluster): a number, or "auto" for one per core. */
  WORKERS: z
    .string()
    .default("1")
    .refine(
      (value) => value === "auto" || (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 64),
      {
        error: 'a number of processes from 1 to 64, or "auto" for one per core',
      },
    )
    .transform((value): number | "auto" => (value === "auto" ? "auto" : Number(value))),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(1000).default(20),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** Unset: readable lines on a terminal outside production, JSON otherwise. */
  LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  NODE_ENV: z.string().default("development"),
  /** Where to send traces (OTLP over HTTP, e.g. http://collector:4318); unset: tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default("tracker"),
  // Authentication: bearer JWTs of an OpenID provider, or (development only)
  // of a key kept under DATA_DIR.
  AUTH_MODE: z.enum(["oidc", "dev"]).default("oidc"),
  OIDC_ISSUER: z.url().optional(),
  OIDC_AUDIENCE: z.string().min(1).optional(),
  OIDC_ALGORITHMS: list.default(["RS256", "ES256", "PS256", "EdDSA"]),
  OIDC_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  /** Token subjects allowed to read the audit log. */
  INSTANCE_ADMINS: list.default([]),
  // Limits against unrestricted resource consumption (OWASP API4).
  RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).default(50),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(200),
  MAX_WATCH_STREAMS_PER_USER: z.coerce.number().int().min(1).max(1_000_000).default(8),
  /** How long a crashed process's watch streams still count against their users' cap; renewed a third of it apart. */
  WATCH_STREAM_LEASE_MS: z.coerce.number().int().min(3_000).max(3_600_000).default(45_000),
  MAX_DEADLINE_MS: z.coerce.number().int().min(1_000).default(60_000),
  STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  // Every connection is bounded, whoever opens it (slow headers, bodies that
  // never end, streams held open).
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(transport.headersTimeoutMs),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(transport.requestTimeoutMs),
  STREAM_IDLE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(20_000, { error: "must be at least 20000: an idle watch stream sends a heartbeat every 15 s" })
    .default(transport.streamIdleTimeoutMs),
  KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).default(transport.keepAliveTimeoutMs),
  MAX_CONCURRENT_STREAMS: z.coerce.number().int().min(1).max(10_000).default(transport.maxConcurrentStreams),
});

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`DATABASE_URL= npm start`) means unset.
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = schema.safeParse(set);
  // Rules across settings are checked on the raw values, so one message
  // lists them together with every other problem.
  const problems = [
    ...(result.error?.issues ?? []).map((issue) => `  ${issue.path.join(".")}: ${issue.message}`),
    ...crossChecks(set),
  ];
  const secretUrl =
    set.DATABASE_SECRET === undefined ? undefined : databaseUrlFromSecret(set.DATABASE_SECRET, problems);
  if (secretUrl && set.DATABASE_URL)
    problems.push("  DATABASE_SECRET: set DATABASE_URL or DATABASE_SECRET, not both");
  if (!result.success || problems.length > 0) {
    // One problem, one line; several, a line each.
    throw new Error(
      problems.length === 1
        ? `invalid configuration: ${problems[0]?.trim()}`
        : `invalid configuration:\n${problems.join("\n")}`,
    );
  }
  return { ...result.data, DATABASE_URL: result.data.DATABASE_URL ?? secretUrl };
}

/**
 * loadConfig for an entry point: a bad setting ends the process with the
 * message alone, no stack trace.
 */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}

function crossChecks(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const mode = env.AUTH_MODE ?? "oidc";
  if (mode === "oidc") {
    for (const key of ["OIDC_ISSUER", "OIDC_AUDIENCE"]) {
      if (!env[key]) problems.push(`  ${key}: required when AUTH_MODE=oidc`);
    }
  }
  // Node refuses a header deadline beyond the whole request's.
  if (
    Number(env.HEADERS_TIMEOUT_MS ?? transport.headersTimeoutMs) >
    Number(env.REQUEST_TIMEOUT_MS ?? transport.requestTimeoutMs)
  ) {
    problems.push("  HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS");
  }
  // LISTEN through a transaction-mode pooler never hears a commit.
  if (env.DATABASE_POOLER === "transaction" && !env.DATABASE_DIRECT_URL) {
    problems.push(
      "  DATABASE_DIRECT_URL: required when DATABASE_POOLER=transaction (LISTEN and migrations need a session of their own)",
    );
  }
  if (env.DATABASE_REPLICA_POOL_MAX !== undefined && env.DATABASE_REPLICA_URL === undefined) {
    problems.push("  DATABASE_REPLICA_POOL_MAX: has no effect without DATABASE_REPLICA_URL");
  }
  if (mode === "dev" && env.NODE_ENV === "production") {
    problems.push("  AUTH_MODE: dev mode trusts a local key and is refused when NODE_ENV=production");
  }
  return problems;
}

const secretSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65535).default(5432),
  dbname: z.string().min(1),
  username: z.string().min(1),
  password: z.string(),
});

/** The URL a JSON database secret describes; problems are added to `problems`, never the secret itself. */
function databaseUrlFromSecret(secret: string, problems: string[]): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(secret);
  } catch {
    problems.push("  DATABASE_SECRET: is not JSON");
    return undefined;
  }
  const parsed = secretSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      problems.push(`  DATABASE_SECRET.${issue.path.join(".")}: ${issue.message}`);
    return undefined;
  }
  const { host, port, dbname, username, password } = parsed.data;
  const url = new URL(`postgres://${host}:${port}/`);
  url.username = username;
  url.password = password;
  url.pathname = `/${encodeURIComponent(dbname)}`;
  return url.toString();
}
