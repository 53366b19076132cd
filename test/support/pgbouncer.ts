import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/db/embedded-postgres.js";
import { listening } from "./listening.js";

/** Debian's PgBouncer (`apt-get install pgbouncer`), or one on PATH; undefined when neither is there. */
export const PGBOUNCER: string | undefined =
  ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].find((path) => existsSync(path)) ??
  (spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" }).stdout.trim() || undefined);

export interface PgBouncer {
  /** The URL of `database` through this PgBouncer, as `user` (default: the server's user, the one it lets in). */
  urlFor(database: string, user?: string): string;
  /** Its admin console (SHOW POOLS, RECONNECT). */
  adminUrl: string;
  /** What it logged so far. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * A PgBouncer process of the test's own, in `mode`, on a free loopback port,
 * in front of the PostgreSQL at `serverUrl` (any database on it, trust
 * authentication), with `poolSize` server connections per database: fewer
 * than tracker's pool, so server connections are shared as in production.
 */
export async function startPgBouncer(
  serverUrl: string,
  {
    mode,
    poolSize = 3,
    extra = "",
    listenAddress = "127.0.0.1",
  }: {
    mode: "session" | "transaction";
    poolSize?: number;
    extra?: string;
    /** Where it listens: loopback, or an address hosts in network namespaces reach (test/topology). */
    listenAddress?: string;
  },
): Promise<PgBouncer> {
  if (!PGBOUNCER) throw new Error("pgbouncer is not installed");
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || "postgres");
  const password = decodeURIComponent(server.password);
  const dir = mkdtempSync(join(tmpdir(), "tracker-pgbouncer-"));
  // Root must hand PgBouncer to another user (it refuses to run as root), who reads these files.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const target = `host=${server.hostname} port=${server.port || 5432} user=${user}${password ? ` password=${password}` : ""}`;
  writeFileSync(join(dir, "users.txt"), `"${user}" ""\n`, { mode: 0o644 });
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = ${target}`,
      "[pgbouncer]",
      `listen_addr = ${listenAddress}`,
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      `admin_users = ${user}`,
      `pool_mode = ${mode}`,
      `default_pool_size = ${poolSize}`,
      "max_client_conn = 200",
      extra,
      "",
    ].join("\n"),
    { mode: 0o644 },
  );
  const asRoot = process.getuid?.() === 0;
  const child = spawn(PGBOUNCER, [...(asRoot ? ["-u", "nobody"] : []), join(dir, "pgbouncer.ini")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await listening("pgbouncer", child, listenAddress, port, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  const urlFor = (database: string, as = user) => {
    const url = new URL(`postgres://${listenAddress}:${port}/`);
    url.username = as;
    url.pathname = `/${database}`;
    return url.toString();
  };
  return { urlFor, adminUrl: urlFor("pgbouncer"), log: () => output, stop };
}
