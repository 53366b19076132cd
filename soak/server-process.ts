import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

// The real server (`node --import tsx src/main.ts`) as a child process that
// the soak kills and restarts on the same port. Each run of it is an
// incarnation, with its RSS sampled every second and its log read for errors.

export interface Incarnation {
  index: number;
  pid: number;
  /** Milliseconds since the soak began. */
  startedAt: number;
  readyAt?: number;
  endedAt?: number;
  /** How it ended: by a signal the soak sent, on its own (a crash), or still running. */
  endedBy?: "SIGTERM" | "SIGKILL" | "unexpected";
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** [ms since the soak began, RSS in bytes] */
  rss: Array<[number, number]>;
}

export interface ServerLog {
  /** Lines at warn and above, by level and message ("rpc" lines by code and procedure). */
  counts: Map<string, number>;
  /** RPCs the server itself logged as INTERNAL, UNKNOWN or DATA_LOSS (its request log's error lines). */
  internalAnswers: number;
  /** Errors that never reached a handler's error mapping (answered 500 or worse). */
  unhandled: number;
  /** The first error lines, whole, for a person to read. */
  samples: string[];
}

export class ServerProcess {
  readonly incarnations: Incarnation[] = [];
  readonly log: ServerLog = { counts: new Map(), internalAnswers: 0, unhandled: 0, samples: [] };
  /** Exits the soak did not cause. */
  readonly unexpectedExits: string[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #expectedSignal: "SIGTERM" | "SIGKILL" | undefined;
  #stopping = false;
  #stderr: string[] = [];
  #sampler: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      root: string;
      env: NodeJS.ProcessEnv;
      baseUrl: string;
      /** Milliseconds since the soak began. */
      clock: () => number;
      log: (line: string) => void;
      /** A command the server runs under, e.g. `ip netns exec NAME` (it must exec, keeping the pid). */
      wrap?: string[];
    },
  ) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get current(): Incarnation | undefined {
    const last = this.incarnations[this.incarnations.length - 1];
    return last && last.endedAt === undefined ? last : undefined;
  }

  /** Spawns a new incarnation and waits until /readyz answers 200. */
  async start(timeoutMs = 90_000): Promise<Incarnation> {
    if (this.current) throw new Error("the server is already running");
    const [command = process.execPath, ...args] = [
      ...(this.options.wrap ?? []),
      process.execPath,
      "--import",
      "tsx",
      "src/main.ts",
    ];
    const child = spawn(command, args, {
      cwd: this.options.root,
      env: this.options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const incarnation: Incarnation = {
      index: this.incarnations.length + 1,
      pid: child.pid ?? -1,
      startedAt: this.options.clock(),
      rss: [],
    };
    this.incarnations.push(incarnation);
    this.#child = child;
    this.#expectedSignal = undefined;
    this.#stderr = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) =>
      this.#readLog(line),
    );
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 40) this.#stderr.shift();
    });
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        incarnation.endedAt = this.options.clock();
        incarnation.exit = { code, signal };
        incarnation.endedBy = this.#expectedSignal ?? "unexpected";
        clearInterval(this.#sampler);
        if (this.#child === child) this.#child = undefined;
        if (!this.#expectedSignal) {
          const why = `server incarnation ${incarnation.index} (pid ${incarnation.pid}) exited on its own: code ${code}, signal ${signal}; stderr: ${this.#stderr.slice(-10).join(" | ")}`;
          this.unexpectedExits.push(why);
          this.options.log(why);
          // Keep serving: a crash is reported, not left to end the soak.
          if (!this.#stopping && incarnation.readyAt !== undefined) {
            setTimeout(() => {
              if (!this.#stopping && !this.current)
                this.start().catch((error) => this.options.log(String(error)));
            }, 1_000);
          }
        }
        resolve();
      });
    });
    this.#sampler = setInterval(() => {
      const rss = rssOf(incarnation.pid);
      if (rss !== undefined) incarnation.rss.push([this.options.clock(), rss]);
    }, 1_000);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (incarnation.endedAt !== undefined) {
        throw new Error(`the server exited while starting: ${this.#stderr.slice(-20).join("\n")}`);
      }
      if (await isReady(this.options.baseUrl)) {
        incarnation.readyAt = this.options.clock();
        return incarnation;
      }
      await sleep(100);
    }
    throw new Error(`the server was not ready within ${timeoutMs} ms: ${this.#stderr.slice(-20).join("\n")}`);
  }

  /** Sends `signal` and waits for the process to exit; SIGTERM escalates to SIGKILL after `graceMs`. */
  async kill(signal: "SIGTERM" | "SIGKILL", graceMs = 20_000): Promise<Incarnation | undefined> {
    const child = this.#child;
    const incarnation = this.current;
    if (!child || !incarnation) return undefined;
    this.#expectedSignal = signal;
    child.kill(signal);
    const exited = this.#exited;
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
    return incarnation;
  }

  /** Stops for good (SIGTERM, the way an orchestrator does). */
  async stop(): Promise<Incarnation | undefined> {
    this.#stopping = true;
    return this.kill("SIGTERM");
  }

  /** Samples the RSS now (the last sample of an incarnation that keeps running). */
  sampleNow(): void {
    const incarnation = this.current;
    const rss = incarnation && rssOf(incarnation.pid);
    if (incarnation && rss !== undefined) incarnation.rss.push([this.options.clock(), rss]);
  }

  #readLog(line: string) {
    let entry: { level?: number; msg?: string; code?: string; procedure?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      entry = { level: 40, msg: line.slice(0, 200) };
    }
    const level = entry.level ?? 30;
    if (level < 40) return;
    const key =
      entry.msg === "rpc"
        ? `${levelName(level)} rpc ${entry.code} ${entry.procedure}`
        : `${levelName(level)} ${entry.msg}`;
    this.log.counts.set(key, (this.log.counts.get(key) ?? 0) + 1);
    if (entry.msg === "rpc" && level >= 50) this.log.internalAnswers += 1;
    if (entry.msg === "request failed before reaching a handler") this.log.unhandled += 1;
    if (level >= 50 && this.log.samples.length < 10) this.log.samples.push(line.slice(0, 4_000));
  }
}

const levelName = (level: number) => (level >= 60 ? "fatal" : level >= 50 ? "error" : "warn");

/** The resident set size of a process, in bytes. */
function rssOf(pid: number): number | undefined {
  try {
    if (process.platform === "linux") {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return match ? Number(match[1]) * 1024 : undefined;
    }
    return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }).trim()) * 1024;
  } catch {
    return undefined;
  }
}

export async function isReady(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
