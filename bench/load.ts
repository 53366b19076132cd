import { monitorEventLoopDelay } from "node:perf_hooks";
import * as hdr from "hdr-histogram-js";
import { largestRssMiB, treeCpuSeconds } from "./processes.js";

export interface ScenarioResult {
  name: string;
  protocol: string;
  /** What answered: "tracker ×1", "tracker ×2", "bare Connect", "pg". */
  server: string;
  /** Data size label (10k, 100k, 1m). */
  size: string;
  /** The paced rate offered (requests/s); absent for closed-loop runs. */
  offeredRps?: number;
  requests: number;
  errors: number;
  /** Errors by code or message, at most a few kinds. */
  errorKinds: Record<string, number>;
  seconds: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU seconds (user + system) during the scenario: the server's processes, the load client, PostgreSQL. */
  cpu: { server: number; client: number; database: number };
  /**
   * The server's CPU time per call answered (errors included), in µs: its
   * CPU seconds from /proc over the calls. Absent without a server process,
   * and in reports older than this field.
   */
  serverCpuUsPerCall?: number;
  /** The bare Connect handler's figure for the same protocol in the same run (bench/bare-server.ts). */
  bareCpuUsPerCall?: number;
  /** p99 of the load client's event-loop delay during the run, in ms. */
  clientLagP99Ms: number;
  /** Highest RSS of any one server process sampled during the scenario, in MiB (0 when in-process). */
  serverPeakRssMiB: number;
  note?: string;
}

export type Call = (stream: number, iteration: number) => Promise<void>;

/**
 * Runs `call` in `concurrency` closed-loop streams for `seconds`, recording
 * each call's latency (microseconds) in an HDR histogram.
 */
export async function runScenario(
  name: string,
  protocol: string,
  options: {
    server: string;
    size: string;
    seconds: number;
    concurrency: number;
    warmupSeconds?: number;
    note?: string;
    /** Process trees whose CPU and memory are measured. */
    serverPid?: number;
    databasePid?: number;
    /** Requests per second offered in all; unset: closed loop (as fast as answered). */
    rate?: number;
  },
  call: Call,
): Promise<ScenarioResult> {
  const warmup = options.warmupSeconds ?? Math.min(1, options.seconds / 5);
  if (warmup > 0) await drive(warmup, options.concurrency, call, undefined, options.rate);
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const errors = new Map<string, number>();
  const { serverPid, databasePid } = options;
  const rss = () => (serverPid ? largestRssMiB(serverPid) : 0);
  let peakRss = rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rss());
  }, 200);
  const serverCpu = () => (serverPid ? treeCpuSeconds(serverPid) : 0);
  const databaseCpu = () => (databasePid ? treeCpuSeconds(databasePid) : 0);
  // The load client's own stalls (GC, a busy loop) delay calls too; paced
  // runs count them as latency, so they are reported beside it.
  const clientLag = monitorEventLoopDelay({ resolution: 10 });
  clientLag.enable();
  const before = { server: serverCpu(), client: process.cpuUsage(), database: databaseCpu() };
  const started = performance.now();
  const requests = await drive(
    options.seconds,
    options.concurrency,
    call,
    { histogram, errors },
    options.rate,
  );
  const elapsed = (performance.now() - started) / 1000;
  const client = process.cpuUsage(before.client);
  const round = (seconds: number) => Math.round(seconds * 100) / 100;
  const serverSeconds = serverCpu() - before.server;
  const cpu = {
    server: round(serverSeconds),
    client: round((client.user + client.system) / 1e6),
    database: round(databaseCpu() - before.database),
  };
  clearInterval(sampler);
  clientLag.disable();
  peakRss = Math.max(peakRss, rss());
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  const ms = (us: number) => Math.round(us) / 1000;
  const result: ScenarioResult = {
    name,
    protocol,
    server: options.server,
    size: options.size,
    ...(options.rate && { offeredRps: Math.round(options.rate) }),
    requests,
    errors: errorCount,
    errorKinds: Object.fromEntries(errors),
    seconds: Math.round(elapsed * 100) / 100,
    rps: Math.round(((requests - errorCount) / elapsed) * 10) / 10,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    cpu,
    ...(serverPid && requests > 0 && { serverCpuUsPerCall: Math.round((serverSeconds / requests) * 1e6) }),
    clientLagP99Ms: Math.round(clientLag.percentile(99) / 1e4) / 100,
    serverPeakRssMiB: Math.round(peakRss),
    ...(options.note && { note: options.note }),
  };
  histogram.destroy();
  return result;
}

/**
 * `concurrency` streams call in a loop until `seconds` pass. Closed loop
 * (no rate): each stream calls again as soon as a call ends, which finds the
 * maximum throughput; latency is then concurrency / throughput by Little's
 * law. With a rate, each stream paces its calls to rate / concurrency per
 * second and a call's latency counts from when it was due, so a slow answer
 * delaying the next call is still counted (no coordinated omission).
 */
async function drive(
  seconds: number,
  concurrency: number,
  call: Call,
  record: { histogram: hdr.Histogram; errors: Map<string, number> } | undefined,
  rate?: number,
): Promise<number> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const interval = rate ? (concurrency / rate) * 1000 : 0;
  let total = 0;
  const stream = async (index: number) => {
    // Streams start spread over one interval, not all at once.
    const phase = (interval * index) / concurrency;
    for (let i = 0; performance.now() < deadline; i++) {
      const due = start + phase + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const t = rate ? due : performance.now();
      try {
        await call(index, i);
      } catch (error) {
        if (record) {
          const kind = errorKind(error);
          record.errors.set(kind, (record.errors.get(kind) ?? 0) + 1);
        }
      }
      total++;
      record?.histogram.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => stream(index)));
  return total;
}

function errorKind(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && "rawMessage" in error) {
    return `${String((error as { code: unknown }).code)}: ${String((error as { rawMessage: unknown }).rawMessage).slice(0, 80)}`;
  }
  return error instanceof Error ? error.message.slice(0, 80) : String(error).slice(0, 80);
}
