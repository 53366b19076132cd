import type { EmbeddedDatabase } from "../src/db/embedded-postgres.js";
import { isReady, type ServerProcess, sleep } from "./server-process.js";
import type { Watcher } from "./watchers.js";

export type FaultKind = "pg-immediate" | "pg-fast" | "server-sigkill" | "server-sigterm";

export interface PlannedFault {
  /** Milliseconds since the soak began. */
  at: number;
  kind: FaultKind;
}

export interface FaultRecord {
  kind: FaultKind;
  /** Milliseconds since the soak began. */
  at: number;
  /** When the server answered /readyz again. */
  recoveredAt?: number;
  detail: string;
  /** Set when the fault did not go as a healthy system should let it. */
  problem?: string;
}

/** A span of time during which the server process was down or restarting. */
export interface Window {
  from: number;
  to: number;
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/**
 * The schedule: after a warm-up, a fault every few seconds, cycling through
 * PostgreSQL immediate and fast shutdowns and server SIGKILL and SIGTERM;
 * the first two are always a PostgreSQL immediate restart and a SIGKILL.
 * The server is killed only in the first half of the fault window, so the
 * last server process lives long enough for its memory to be measured; the
 * end of the soak is quiet, so everything in flight can settle.
 */
export function planFaults(durationMs: number): { plan: PlannedFault[]; from: number; until: number } {
  const from = clamp(durationMs * 0.1, 3_000, 30_000);
  const until = durationMs - clamp(durationMs * 0.15, 6_000, 30_000);
  const spacing = clamp((until - from) / 12, 6_000, 20_000);
  const serverUntil = from + (until - from) * 0.5;
  const cycle: FaultKind[] = ["pg-immediate", "server-sigkill", "pg-fast", "server-sigterm"];
  const plan: PlannedFault[] = [];
  for (let at = from, i = 0; at <= until; at += spacing, i++) {
    let kind = cycle[i % cycle.length] as FaultKind;
    const again = plan.some((fault) => fault.kind === kind);
    if (kind === "server-sigkill" && at > serverUntil && again) kind = "pg-immediate";
    if (kind === "server-sigterm" && at > serverUntil && again) kind = "pg-fast";
    plan.push({ at, kind });
  }
  return { plan, from, until };
}

export interface FaultContext {
  database: EmbeddedDatabase;
  server: ServerProcess;
  baseUrl: string;
  watchers: Watcher[];
  clock: () => number;
  random: () => number;
  log: (line: string) => void;
  /** The server's SHUTDOWN_TIMEOUT_MS: a SIGTERM drain must end sooner. */
  shutdownTimeoutMs: number;
  /** Aborted when the soak is stopped early (Ctrl-C). */
  signal: AbortSignal;
}

export interface FaultOutcome {
  faults: FaultRecord[];
  /** When the server was down or restarting (transport errors are expected then). */
  serverWindows: Window[];
  /** When PostgreSQL was down or recovering (UNAVAILABLE is expected then). */
  databaseWindows: Window[];
  watchDisconnects: number;
}

/** Runs the plan, one fault at a time, and disconnects watchers in between. */
export async function runFaults(
  context: FaultContext,
  schedule: ReturnType<typeof planFaults>,
): Promise<FaultOutcome> {
  const outcome: FaultOutcome = { faults: [], serverWindows: [], databaseWindows: [], watchDisconnects: 0 };
  const { clock, signal } = context;
  const disconnecting = (async () => {
    const every = clamp((schedule.until - schedule.from) / 24, 2_000, 8_000);
    await sleep(Math.max(0, schedule.from + every / 2 - clock()), signal);
    while (!signal.aborted && clock() < schedule.until && context.watchers.length > 0) {
      const watcher = context.watchers[Math.floor(context.random() * context.watchers.length)] as Watcher;
      watcher.disconnect();
      outcome.watchDisconnects += 1;
      await sleep(every * (0.5 + context.random()), signal);
    }
  })();
  for (const planned of schedule.plan) {
    if (signal.aborted) break;
    await sleep(Math.max(0, planned.at - clock()), signal);
    if (signal.aborted || clock() > schedule.until) break;
    const record: FaultRecord = { kind: planned.kind, at: clock(), detail: "" };
    outcome.faults.push(record);
    context.log(`  fault at ${(record.at / 1000).toFixed(1)}s: ${planned.kind}`);
    try {
      if (planned.kind === "pg-immediate" || planned.kind === "pg-fast") {
        await databaseFault(context, planned.kind === "pg-immediate" ? "immediate" : "fast", record);
        outcome.databaseWindows.push({ from: record.at, to: record.recoveredAt ?? clock() });
      } else {
        await serverFault(context, planned.kind === "server-sigkill" ? "SIGKILL" : "SIGTERM", record);
        outcome.serverWindows.push({ from: record.at, to: record.recoveredAt ?? clock() });
      }
    } catch (error) {
      record.problem = `${planned.kind} failed: ${error instanceof Error ? error.message : String(error)}`;
      context.log(`  ${record.problem}`);
    }
  }
  await disconnecting;
  return outcome;
}

/** PostgreSQL stops (pg_ctl -m fast|immediate) for a second or a few, then starts; the server must recover alone. */
async function databaseFault(context: FaultContext, mode: "fast" | "immediate", record: FaultRecord) {
  const downMs = 1_000 + Math.round(context.random() * 2_000);
  await context.database.halt(mode);
  const halted = context.clock();
  await sleep(downMs);
  await context.database.resume();
  const resumed = context.clock();
  if (!(await waitReady(context.baseUrl, 60_000))) {
    record.problem = "the server did not report ready within 60 s of PostgreSQL coming back";
  }
  record.recoveredAt = context.clock();
  record.detail =
    `pg_ctl stop -m ${mode} in ${halted - record.at} ms, down ${resumed - halted} ms, ` +
    `server ready ${record.recoveredAt - resumed} ms after PostgreSQL`;
}

/** The server process gets SIGKILL or SIGTERM and a new one starts on the same port. */
async function serverFault(context: FaultContext, signal: "SIGKILL" | "SIGTERM", record: FaultRecord) {
  const ended = await context.server.kill(signal);
  const stopped = context.clock();
  const exit = ended?.exit;
  if (signal === "SIGTERM" && (exit?.code !== 0 || ended?.endedBy !== "SIGTERM")) {
    record.problem = `SIGTERM should drain and exit 0; the server exited with code ${exit?.code}, signal ${exit?.signal}`;
  } else if (signal === "SIGTERM" && stopped - record.at >= context.shutdownTimeoutMs) {
    record.problem = `the drain ran out SHUTDOWN_TIMEOUT_MS (${context.shutdownTimeoutMs} ms) and cut what was left`;
  }
  let started = await context.server.start().catch((error: unknown) => error as Error);
  for (let attempt = 1; started instanceof Error && attempt < 3; attempt++) {
    context.log(`  restart failed (${started.message.slice(0, 200)}); again`);
    await sleep(1_000);
    started = await context.server.start().catch((error: unknown) => error as Error);
  }
  if (started instanceof Error) throw started;
  record.recoveredAt = context.clock();
  record.detail =
    `incarnation ${ended?.index} ended in ${stopped - record.at} ms (code ${exit?.code}, signal ${exit?.signal}); ` +
    `incarnation ${started.index} ready ${record.recoveredAt - stopped} ms later`;
}

async function waitReady(baseUrl: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isReady(baseUrl)) return true;
    await sleep(100);
  }
  return false;
}
