import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { DB } from "../../gen/db.js";
import { traceQueries } from "../observability/tracing.js";

export type Database = Kysely<DB>;

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
    traceQueries: traced = true,
  }: {
    poolMax?: number;
    statementTimeoutMs?: number;
    /** Queries made while an RPC is traced become its child spans (nothing happens with tracing off). */
    traceQueries?: boolean;
  } = {},
): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    connectionTimeoutMillis: 5_000,
    // UTC text timestamps keep PostgreSQL's microseconds, which a JS Date
    // would truncate, so keyset page tokens compare exactly. The statement
    // timeout is the server-side deadline of every query (DEADLINE_EXCEEDED).
    options: `-c TimeZone=UTC -c statement_timeout=${statementTimeoutMs}`,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === TIMESTAMPTZ_OID
          ? (value: string) => value
          : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its server (database restart) must not crash the process.
  pool.on("error", () => {});
  if (traced) traceQueries(pool);
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
