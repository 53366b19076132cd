import { sql } from "kysely";
import type pg from "pg";
import { connectDatabase, type Database, type DatabaseHandle, type Pooler } from "./database.js";

/** After the replica fails to answer, reads skip it this long, then try it again. */
export const REPLICA_RETRY_MS = 5_000;

/**
 * A replica that does not connect within this is taken for down: the read
 * goes to the primary, and waits no longer than this for finding out.
 */
const REPLICA_CONNECT_TIMEOUT_MS = 2_000;

/** A streaming standby (DATABASE_REPLICA_URL), for the reads that may lag (services/unit-of-work.ts). */
export interface ReplicaDatabase extends DatabaseHandle {
  /** False while reads skip the replica: for REPLICA_RETRY_MS after it failed to answer. */
  inUse(): boolean;
  /** Records a failure to answer; true for the first of an outage (log it once). */
  failed(): boolean;
  /** Records an answer; true for the first after an outage. */
  answered(): boolean;
  /**
   * Whether the server behind `db`, one of this replica's connections, has
   * replayed the WAL up to `lsn` (a consistency token). False on a server
   * that never was a standby (pg_last_wal_replay_lsn() is null there).
   */
  hasReplayed(db: Database, lsn: string): Promise<boolean>;
}

export function connectReplica(
  url: string,
  options: {
    poolMax: number;
    statementTimeoutMs: number;
    pooler: Pooler;
    instrument?: (pool: pg.Pool) => void;
  },
): ReplicaDatabase {
  const database = connectDatabase(url, {
    ...options,
    purpose: "replica",
    connectTimeoutMs: REPLICA_CONNECT_TIMEOUT_MS,
  });
  let skipUntil = 0;
  let down = false;
  return {
    ...database,
    inUse: () => Date.now() >= skipUntil,
    failed() {
      skipUntil = Date.now() + REPLICA_RETRY_MS;
      const first = !down;
      down = true;
      return first;
    },
    answered() {
      const first = down;
      down = false;
      return first;
    },
    async hasReplayed(db, lsn) {
      const { rows } = await sql<{ replayed: boolean }>`
        SELECT coalesce(pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn, false) AS replayed`.execute(db);
      return rows[0]?.replayed === true;
    },
  };
}
