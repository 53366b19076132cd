import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));

// The servers under test run in processes of their own, as in production, so
// their CPU and memory are theirs alone and N workers can share a port.

export interface ServerProcess {
  baseUrl: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Compiles the server as the Docker image does (tsc -p tsconfig.build.json
 * into dist/), so the bench measures what is deployed, not tsx's loader;
 * with it, the ablation's entry point (dist/bench/tracker-server.js).
 */
export async function buildServer(): Promise<void> {
  const tsc = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
  await run(process.execPath, [tsc, "-p", "bench/tsconfig.build.json"], { cwd: ROOT });
}

/**
 * The node flags the server runs with in production, as the Dockerfile's CMD
 * and `npm start` give them: Node 24's young generation grows to 64 MiB per
 * semi-space on a large machine, which costs a process over 100 MiB of RSS
 * under load and buys no measurable CPU (README, "Memory").
 */
export const SERVER_NODE_FLAGS = ["--max-semi-space-size=16"];

/**
 * The real entry point (dist/src/main.js) with `workers` processes, against
 * an already migrated database; with `layersOff`, one process of the
 * ablation's entry point (bench/tracker-server.ts) leaving those out.
 */
export function startTracker(options: {
  databaseUrl: string;
  /** The dev signing key's directory; the server's log goes there too. */
  dataDir: string;
  workers: number;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  env?: Record<string, string>;
  layersOff?: string[];
}): Promise<ServerProcess> {
  const log = join(options.dataDir, `tracker-${options.workers}-${Date.now()}.log`);
  const entry = options.layersOff
    ? ["dist/bench/tracker-server.js", options.layersOff.join(",")]
    : ["dist/src/main.js"];
  return startChild([...SERVER_NODE_FLAGS, ...(options.nodeArgs ?? []), ...entry], log, {
    DATABASE_URL: options.databaseUrl,
    DATABASE_SECRET: "",
    DATA_DIR: options.dataDir,
    WORKERS: String(options.workers),
    PORT: "0",
    HOST: "127.0.0.1",
    AUTH_MODE: "dev",
    NODE_ENV: "development",
    // The production log line per RPC is part of the cost; it goes to /dev/null.
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
    // One user drives all the load: its limits must not be what is measured.
    RATE_LIMIT_PER_SECOND: "100000000",
    RATE_LIMIT_BURST: "100000000",
    MAX_WATCH_STREAMS_PER_USER: "100000",
    ...options.env,
  });
}

/** A bare Connect handler answering GetIssue with a constant message (bench/bare-server.ts). */
export function startBareServer(
  logDir: string,
  withQuery?: { databaseUrl: string; sql: string; parameters: readonly unknown[]; callerUid: string },
): Promise<ServerProcess> {
  const env: Record<string, string> = withQuery
    ? {
        DATABASE_URL: withQuery.databaseUrl,
        BARE_QUERY: JSON.stringify({
          sql: withQuery.sql,
          parameters: withQuery.parameters,
          callerUid: withQuery.callerUid,
        }),
      }
    : {};
  const name = withQuery ? "bare-server-pg.log" : "bare-server.log";
  return startChild(["--import", "tsx", "bench/bare-server.ts"], join(logDir, name), env);
}

/**
 * Spawns `node <args>` in the project root with its output in `logFile` (a
 * file, as fast a reader as a container runtime: a pipe the busy load client
 * drains late would stall the server's log writes), and resolves once the
 * log has a JSON line with `address` (host:port).
 */
function startChild(args: string[], logFile: string, env: Record<string, string>): Promise<ServerProcess> {
  const log = openSync(logFile, "w");
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  return (async () => {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline && !gone; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const address = readFileSync(logFile, "utf8")
        .split("\n")
        .map((line) => {
          try {
            return (JSON.parse(line) as { address?: unknown }).address;
          } catch {
            return undefined;
          }
        })
        .find((value) => typeof value === "string");
      if (typeof address === "string") {
        return {
          baseUrl: `http://127.0.0.1:${address.split(":").at(-1)}`,
          pid: child.pid as number,
          stop: () => stopChild(child, exited),
        };
      }
    }
    child.kill("SIGKILL");
    throw new Error(`${args.join(" ")} did not start:\n${readFileSync(logFile, "utf8").slice(-4_000)}`);
  })();
}

async function stopChild(child: ChildProcess, exited: Promise<void>) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

// --- resource use, from /proc (Linux)

const TICKS_PER_SECOND = 100;

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime, and with `children` the reaped children's too, in seconds. */
  cpuSeconds: number;
  childrenCpuSeconds: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields start after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const field = (n: number) => Number(fields[n - 3]);
  return {
    pid,
    ppid: field(4),
    cpuSeconds: (field(14) + field(15)) / TICKS_PER_SECOND,
    childrenCpuSeconds: (field(16) + field(17)) / TICKS_PER_SECOND,
  };
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const tree: number[] = [];
  for (const queue = [root]; queue.length > 0; ) {
    const pid = queue.pop() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** CPU seconds used so far by `root`'s tree, counting children that already exited. */
export function treeCpuSeconds(root: number): number {
  const rootStat = readStat(root);
  if (!rootStat) return 0;
  return processTree(root).reduce((sum, pid) => {
    const stat = pid === root ? rootStat : readStat(pid);
    return sum + (stat ? stat.cpuSeconds + stat.childrenCpuSeconds : 0);
  }, 0);
}

function statusKiB(pid: number, key: "VmRSS" | "VmHWM"): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${key}:`));
    return line ? Number(line.split(/\s+/)[1]) : 0;
  } catch {
    return 0;
  }
}

/** The largest resident set of any one process in `root`'s tree now, in MiB. */
export const largestRssMiB = (root: number) =>
  Math.max(0, ...processTree(root).map((pid) => statusKiB(pid, "VmRSS"))) / 1024;

/** The highest resident set any one process in `root`'s tree ever had (VmHWM), in MiB. */
export const largestPeakRssMiB = (root: number) =>
  Math.max(0, ...processTree(root).map((pid) => statusKiB(pid, "VmHWM"))) / 1024;
