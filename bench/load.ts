import * as hdr from "hdr-histogram-js";

export interface ScenarioResult {
  name: string;
  protocol: string;
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
  /** CPU time of this process (user + system) during the scenario, in seconds. */
  cpuSeconds: number;
  /** Highest RSS sampled during the scenario, in MiB. */
  peakRssMiB: number;
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
  options: { seconds: number; concurrency: number; warmupSeconds?: number; note?: string },
  call: Call,
): Promise<ScenarioResult> {
  const warmup = options.warmupSeconds ?? Math.min(1, options.seconds / 5);
  if (warmup > 0) await drive(warmup, options.concurrency, call, undefined);
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const errors = new Map<string, number>();
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 50);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const requests = await drive(options.seconds, options.concurrency, call, { histogram, errors });
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  const ms = (us: number) => Math.round(us) / 1000;
  const result: ScenarioResult = {
    name,
    protocol,
    requests,
    errors: errorCount,
    errorKinds: Object.fromEntries(errors),
    seconds: Math.round(elapsed * 100) / 100,
    rps: Math.round(((requests - errorCount) / elapsed) * 10) / 10,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    cpuSeconds: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
    peakRssMiB: Math.round(peakRss / 1024 / 1024),
    ...(options.note && { note: options.note }),
  };
  histogram.destroy();
  return result;
}

async function drive(
  seconds: number,
  concurrency: number,
  call: Call,
  record: { histogram: hdr.Histogram; errors: Map<string, number> } | undefined,
): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let total = 0;
  const stream = async (index: number) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const t = performance.now();
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
