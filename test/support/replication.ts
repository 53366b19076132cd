import { execFile } from "node:child_process";
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "../../src/db/embedded-postgres.js";

// A real primary and a streaming standby of it, from Debian's PostgreSQL 15
// binaries (`apt-get install postgresql-15`), each on a free loopback port in
// a temporary directory, with trust authentication for the `postgres` role.
// General on purpose: read-replica tests pause the standby's replay to make it
// lag; a topology test promotes it.

/** Where Debian's postgresql-15 package puts initdb, pg_ctl, pg_basebackup and postgres. */
export const POSTGRES_BIN = process.env.POSTGRES_BIN ?? "/usr/lib/postgresql/15/bin";

/** Why replication tests cannot run here, or undefined when they can. */
export const replicationUnavailable: string | undefined = ["initdb", "pg_ctl", "pg_basebackup", "postgres"]
  .map((tool) => join(POSTGRES_BIN, tool))
  .some((path) => !existsSync(path))
  ? `PostgreSQL server binaries not in ${POSTGRES_BIN} (apt-get install postgresql-15, or set POSTGRES_BIN)`
  : undefined;

const run = promisify(execFile);

/** One PostgreSQL server of the pair. */
export interface PostgresNode {
  port: number;
  dataDir: string;
  /** The URL of `database` on this server, as `postgres` (trust). */
  urlFor(database?: string): string;
  /** One statement as `postgres` on `database` (default `postgres`); its rows. */
  query<Row = Record<string, unknown>>(text: string, database?: string): Promise<Row[]>;
  /** Starts it again after stop(); waits until it takes connections. */
  start(): Promise<void>;
  /** Stops it (fast shutdown); nothing if already stopped. */
  stop(): Promise<void>;
}

export interface Replication {
  primary: PostgresNode;
  standby: PostgresNode;
  /** The primary's current WAL insert position (an LSN, `0/3000148`). */
  primaryLsn(): Promise<string>;
  /** Waits until the standby has replayed up to `lsn` (default: the primary's position now). */
  waitForReplay(lsn?: string, timeoutMs?: number): Promise<void>;
  /** Pauses the standby's WAL replay (it keeps receiving): it lags from now on. */
  pauseReplay(): Promise<void>;
  /** Resumes the replay paused by pauseReplay(). */
  resumeReplay(): Promise<void>;
  /** Promotes the standby to a primary of its own (pg_ctl promote), waiting until it takes writes. */
  promote(): Promise<void>;
  /** Stops both servers and removes their directories. */
  stop(): Promise<void>;
}

/**
 * As root, PostgreSQL refuses to run: it runs as the `postgres` system user
 * (Debian's package makes it), who owns the directories.
 */
async function runAs(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  return {
    uid: Number((await run("id", ["-u", "postgres"])).stdout),
    gid: Number((await run("id", ["-g", "postgres"])).stdout),
  };
}

async function postgresTool(tool: string, args: string[], user: { uid?: number; gid?: number }) {
  try {
    return await run(join(POSTGRES_BIN, tool), args, { ...user, cwd: tmpdir() });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${tool} ${args.join(" ")} failed: ${(stderr || stdout || String(error)).trim()}`, {
      cause: error,
    });
  }
}

function node(dataDir: string, port: number, user: { uid?: number; gid?: number }): PostgresNode {
  const urlFor = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const logFile = `${dataDir}.log`;
  return {
    port,
    dataDir,
    urlFor,
    async query<Row>(text: string, database?: string) {
      const client = new pg.Client({ connectionString: urlFor(database) });
      await client.connect();
      try {
        return (await client.query(text)).rows as Row[];
      } finally {
        await client.end();
      }
    },
    async start() {
      await postgresTool("pg_ctl", ["start", "-w", "-t", "60", "-D", dataDir, "-l", logFile], user);
    },
    async stop() {
      if (!existsSync(join(dataDir, "postmaster.pid"))) return;
      await postgresTool("pg_ctl", ["stop", "-w", "-m", "fast", "-D", dataDir], user);
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A primary (wal_level=replica) and a hot standby made from it with
 * pg_basebackup -R, both started and streaming. Call stop() when done.
 */
export async function startPrimaryAndStandby(): Promise<Replication> {
  if (replicationUnavailable) throw new Error(replicationUnavailable);
  const user = await runAs();
  const root = mkdtempSync(join(tmpdir(), "tracker-replication-"));
  if (user.uid !== undefined && user.gid !== undefined) chownSync(root, user.uid, user.gid);
  chmodSync(root, 0o700);
  const primary = node(join(root, "primary"), await freePort(), user);
  const standby = node(join(root, "standby"), await freePort(), user);
  const settings = (port: number) =>
    [
      "",
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${root}'`,
      "wal_level = replica",
      "max_wal_senders = 5",
      "wal_keep_size = '256MB'",
      "hot_standby = on",
      // A standby's reads are not cancelled for a change replayed under them while replay is paused.
      "max_standby_streaming_delay = -1",
      "max_connections = 100",
      "fsync = off",
      "",
    ].join("\n");
  const stopBoth = async () => {
    await standby.stop().catch(() => {});
    await primary.stop().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await postgresTool(
      "initdb",
      ["-D", primary.dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"],
      user,
    );
    appendFileSync(join(primary.dataDir, "postgresql.conf"), settings(primary.port));
    await primary.start();
    // -R writes standby.signal and primary_conninfo; -X stream copies the WAL the copy needs.
    await postgresTool(
      "pg_basebackup",
      [
        ...["-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres"],
        ...["-D", standby.dataDir, "-R", "-X", "stream", "-c", "fast", "--no-sync"],
      ],
      user,
    );
    // The copy has the primary's settings; the standby's port comes last, so it wins.
    appendFileSync(join(standby.dataDir, "postgresql.conf"), settings(standby.port));
    await standby.start();
  } catch (error) {
    await stopBoth();
    throw error;
  }
  const primaryLsn = async () =>
    (await primary.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn() AS lsn"))[0]?.lsn ?? "0/0";
  const replayState = async () =>
    (await standby.query<{ state: string }>("SELECT pg_get_wal_replay_pause_state() AS state"))[0]?.state;
  return {
    primary,
    standby,
    primaryLsn,
    async waitForReplay(lsn, timeoutMs = 30_000) {
      const target = lsn ?? (await primaryLsn());
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await standby.query<{ replayed: boolean }>(
          `SELECT coalesce(pg_last_wal_replay_lsn() >= '${target}'::pg_lsn, false) AS replayed`,
        );
        if (row?.replayed) return;
        if (Date.now() > deadline)
          throw new Error(`the standby did not replay up to ${target} in ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    async pauseReplay() {
      await standby.query("SELECT pg_wal_replay_pause()");
      // The request is taken at once; the pause, once the record being replayed is done.
      while ((await replayState()) !== "paused") await sleep(10);
    },
    async resumeReplay() {
      await standby.query("SELECT pg_wal_replay_resume()");
    },
    async promote() {
      await standby.query("SELECT pg_promote(true, 60)");
    },
    stop: stopBoth,
  };
}
