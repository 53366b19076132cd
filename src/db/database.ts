import { createHash } from "node:crypto";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { DB } from "../../gen/db.js";
import { StartupError } from "../startup-error.js";
import { callInProgress } from "./cancellation.js";
import { clientClass, describeHosts, type HostsPurpose, newClient, parseDatabaseHosts } from "./hosts.js";

export type Database = Kysely<DB>;

/** DATABASE_POOLER: "none" or "session" hold one server connection per pool connection; "transaction" does not. */
export type Pooler = "none" | "session" | "transaction";

const TIMESTAMPTZ_OID = 1184;

export interface DatabaseHandle {
  db: Database;
  pool: pg.Pool;
  /** True when a trivial query answers within the timeout. */
  isReachable(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export function connectDatabase(
  url: string,
  {
    poolMax = 20,
    statementTimeoutMs = 15_000,
    pooler = "none",
    purpose = "primary",
    connectTimeoutMs = 5_000,
    instrument,
  }: {
    poolMax?: number;
    statementTimeoutMs?: number;
    /** What stands between the pool and PostgreSQL (DATABASE_POOLER). */
    pooler?: Pooler;
    /** The database tracker writes, or a replica it only reads (which hosts qualify: hosts.ts). */
    purpose?: HostsPurpose;
    /** How long a new connection may take, per host tried. */
    connectTimeoutMs?: number;
    /** Called with the pool before its first query, e.g. to trace every query (observability/tracing). */
    instrument?: (pool: pg.Pool) => void;
  } = {},
): DatabaseHandle {
  const { urls } = parseDatabaseHosts(url, purpose);
  // Several hosts: each new connection picks one (hosts.ts), probing them in
  // turn within the time each would have.
  const hosts = {
    connectionString: urls[0],
    Client: clientClass(url, connectTimeoutMs, purpose),
    connectionTimeoutMillis: connectTimeoutMs * (urls.length > 1 ? urls.length + 1 : 1),
  };
  const pool = new pg.Pool({
    ...hosts,
    max: poolMax,
    // TCP keepalives: a connection to a server behind a partition, or a
    // frozen one, fails within a minute instead of when TCP gives up.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === TIMESTAMPTZ_OID
          ? (value: string) => value
          : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its server (database restart) must not crash the process.
  pool.on("error", () => {});
  // Nor may a checked-out one: pg-pool drops its error listener while a client
  // is out, and a connection the server ends between two statements of a
  // transaction (shutdown, crash, pg_terminate_backend) emits 'error' with
  // nobody listening, an uncaught exception. Its next query fails instead
  // (UNAVAILABLE), and the pool discards it on release.
  pool.on("connect", (client) => client.on("error", () => {}));
  // UTC text timestamps keep PostgreSQL's microseconds, which a JS Date
  // would truncate, so keyset page tokens compare exactly. The statement
  // timeout is the server-side deadline of every query (DEADLINE_EXCEEDED).
  // Set on each new connection, queued before its first query, rather than
  // as startup options, which PgBouncer refuses. Not behind a transaction
  // pooler: a SET there lands on whichever server connection is free and
  // stays on it for others; the role's settings hold there instead
  // (assertPooledSettings).
  if (pooler !== "transaction") {
    pool.on("connect", (client) => {
      // A connection that cannot take this is broken; its next query says so.
      // Not part of the call that opened the connection: no cancellation of its reaches it.
      callInProgress.exit(() => client.query(settingsSql(statementTimeoutMs)).catch(() => {}));
    });
  }
  instrument?.(pool);
  // A transaction pooler hands each transaction any server connection, where
  // a name this connection prepared is unknown or another's.
  if (pooler !== "transaction") prepareStatements(pool);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    async isReachable(timeoutMs = 2_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      try {
        return await Promise.race([pool.query("SELECT 1").then(() => true), timeout]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => db.destroy(),
  };
}

const settingsSql = (statementTimeoutMs: number) =>
  `SELECT set_config('TimeZone', 'UTC', false), set_config('statement_timeout', '${Math.trunc(statementTimeoutMs)}', false)`;

/**
 * Behind a transaction pooler, only the settings PostgreSQL gives every new
 * server connection (the role's or the database's) hold for every statement,
 * so they must be what tracker needs; refuses to start otherwise, with the
 * statements that fix it.
 */
export async function assertPooledSettings(pool: pg.Pool, statementTimeoutMs: number): Promise<void> {
  const { rows } = await pool.query<{ role: string; database: string; timeout: string; zone: string }>(
    `SELECT current_user AS role, current_database() AS database,
       (SELECT setting FROM pg_settings WHERE name = 'statement_timeout') AS timeout,
       current_setting('TimeZone') AS zone`,
  );
  const found = rows[0];
  if (!found) throw new Error("no answer to the settings query");
  if (Number(found.timeout) === statementTimeoutMs && /^(Etc\/)?UTC$/.test(found.zone)) return;
  const role = `ALTER ROLE ${pg.escapeIdentifier(found.role)} IN DATABASE ${pg.escapeIdentifier(found.database)}`;
  throw new StartupError(
    `DATABASE_POOLER=transaction: the pooled connections run with statement_timeout=${found.timeout} and TimeZone=${found.zone}, ` +
      `tracker needs ${statementTimeoutMs} (STATEMENT_TIMEOUT_MS) and UTC. A transaction pooler shares server connections, ` +
      `so they must be the role's: run \`${role} SET statement_timeout = ${statementTimeoutMs}; ${role} SET TimeZone = 'UTC';\` ` +
      "on PostgreSQL, then RECONNECT in PgBouncer's admin console (or restart it) so its server connections take them",
  );
}

/**
 * Connects once, so a database that cannot be reached at startup is named in
 * one line (the setting, host:port and why) instead of failing later, deep
 * inside Atlas or the pool.
 */
export async function assertReachable(url: string, setting: string): Promise<void> {
  const client = newClient(url, { connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    // A pooler accepts the connection and reaches PostgreSQL only for a query.
    await client.query("SELECT 1");
  } catch (error) {
    throw new StartupError(
      `${setting}: cannot connect to PostgreSQL at ${describeHosts(url)}: ${connectFailure(error)}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/** Why a connection failed, in words; never the URL (it may hold a password). */
function connectFailure(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code === "ECONNREFUSED") return "connection refused (is PostgreSQL running and listening there?)";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "no such host";
  if (code === "ETIMEDOUT" || /timeout/i.test(String(message))) return "no answer within 5 s";
  return String(message || code || error);
}

/** Distinct statements prepared per process (and so at most per connection). */
const MAX_PREPARED_STATEMENTS = 256;

/**
 * Runs every parameterised statement Kysely sends as a named prepared
 * statement: each connection parses and plans it once, then only binds and
 * executes. For GetIssue's query that is 3× the throughput of planning it
 * every time (see bench/). Names are a hash of the text, so a name always
 * means the same statement; past MAX_PREPARED_STATEMENTS distinct texts (long
 * IN lists, rare filter combinations) statements run unnamed, so neither
 * process nor server memory grows without bound.
 */
function prepareStatements(pool: pg.Pool) {
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_PREPARED_STATEMENTS) {
      name = `k${createHash("sha1").update(text).digest("base64url")}`;
      names.set(text, name);
    }
    return name;
  };
  pool.on("connect", (client) => {
    const query = client.query;
    client.query = function preparedQuery(...args: unknown[]): unknown {
      const [text, values] = args;
      const name =
        typeof text === "string" && Array.isArray(values) && values.length > 0 && args.length === 2
          ? nameOf(text)
          : undefined;
      return name === undefined
        ? Reflect.apply(query, client, args)
        : Reflect.apply(query, client, [{ name, text, values }]);
    } as typeof client.query;
  });
}
