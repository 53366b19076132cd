import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { barChart, lineChart } from "./chart.js";
import type { ScenarioResult } from "./load.js";
import type { WatchResult } from "./scenarios.js";

export interface BenchReport {
  startedAt: string;
  node: string;
  cpus: number;
  options: {
    sizes: string[];
    seconds: number;
    concurrency: number;
    watchers: number;
    workers: number;
    serverNodeOptions?: string;
  };
  scenarios: ScenarioResult[];
  /** GetIssue with each layer left out in turn (`--ablation`); absent from reports without one. */
  ablation?: AblationResult[];
  watches: Array<WatchResult & { size: string; server: string }>;
  /** The highest RSS any one process of each server had over its whole run (VmHWM). */
  peakRss: Array<{ size: string; server: string; peakRssMiB: number }>;
}

/** One run of the ablation table: what was left out (bench/ablation.ts), in which round, and the load's result. */
export type AblationResult = ScenarioResult & { label: string; layersOff: string[]; round: number };

const key = (s: ScenarioResult) =>
  `${s.size} ${s.name} [${s.protocol}] ${s.server} ${s.offeredRps ? "paced" : ""}`;
const loadOf = (s: ScenarioResult) => (s.offeredRps ? `paced ${s.offeredRps}/s` : "closed");
const fixed = (n: number, digits = 2) => n.toFixed(digits);
const signed = (n: number, digits = 0) => `${n > 0 ? "+" : n < 0 ? "−" : "±"}${Math.abs(n).toFixed(digits)}`;
/** µs of server CPU per call, or "–" where not measured (the database limit, older reports). */
const perCall = (us: number | undefined) => (us === undefined ? "–" : String(us));
/** The latency scenarios that must stay flat as the data grows. */
const SCALING = [
  "GetIssue",
  "ListIssues first page",
  "ListIssues deep page",
  "ListIssues search",
  "ListIssues search (selective)",
];

/** A closed-loop result, or with `paced` the paced one. */
function find(
  report: BenchReport,
  size: string,
  name: string,
  protocol: string,
  server: string,
  paced = false,
) {
  return report.scenarios.find(
    (s) =>
      s.size === size &&
      s.name === name &&
      s.protocol === protocol &&
      s.server === server &&
      (s.offeredRps !== undefined) === paced,
  );
}

/** GetIssue over Connect binary on HTTP/2, as a fraction of min(database limit, framework limit). */
export function getIssueVsLimits(report: BenchReport, size: string) {
  const tracker = find(report, size, "GetIssue", "connect+proto h2", "tracker ×1");
  const database = find(report, size, "GetIssue", "database limit (pg)", "pg");
  const framework = find(report, size, "GetIssue", "connect+proto h2", "bare Connect");
  if (!tracker || !database || !framework) return undefined;
  const limit = Math.min(database.rps, framework.rps);
  return { tracker, database, framework, fraction: tracker.rps / limit };
}

export function toMarkdown(report: BenchReport): string {
  const { sizes, seconds, concurrency, workers } = report.options;
  const lines = [
    `# tracker bench ${report.startedAt}`,
    "",
    `Sizes ${sizes.join(", ")}; ${seconds}s per scenario after a warm-up; ${concurrency} concurrent streams over 8 connections; ` +
      `node ${report.node}${report.options.serverNodeOptions ? ` (tracker flags: ${report.options.serverNodeOptions})` : ""}; ${report.cpus} CPUs. Each server runs in its own process(es) (\`tracker ×N\`: N workers on one port); ` +
      "the load client is the bench process; all of them and PostgreSQL share the CPUs, so compare ratios within a run.",
  ];
  for (const size of sizes) {
    const rows = report.scenarios.filter((s) => s.size === size);
    lines.push(
      "",
      `## ${size} issues`,
      "",
      "| scenario | protocol | server | load | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU s server / client / db | server CPU µs/call | bare µs/call | client lag p99 ms | server RSS MiB | note |",
      "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
      ...rows.map(
        (s) =>
          `| ${s.name} | ${s.protocol} | ${s.server} | ${loadOf(s)} | ${fixed(s.rps, 0)} | ${fixed(s.p50Ms)} | ${fixed(s.p90Ms)} | ${fixed(s.p99Ms)} | ${fixed(s.maxMs, 1)} | ` +
          `${s.errors}${s.errors ? ` (${Object.keys(s.errorKinds)[0]})` : ""} | ${fixed(s.cpu.server)} / ${fixed(s.cpu.client)} / ${fixed(s.cpu.database)} | ` +
          `${perCall(s.serverCpuUsPerCall)} | ${perCall(s.bareCpuUsPerCall)} | ${fixed(s.clientLagP99Ms ?? 0, 1)} | ` +
          `${s.serverPeakRssMiB || "–"} | ${s.note ?? ""} |`,
      ),
    );
    const limits = getIssueVsLimits(report, size);
    if (limits) {
      lines.push(
        "",
        `GetIssue: tracker ${fixed(limits.tracker.rps, 0)} req/s; database limit ${fixed(limits.database.rps, 0)} req/s; ` +
          `framework limit ${fixed(limits.framework.rps, 0)} req/s; tracker / min(database, framework) = **${fixed(limits.fraction * 100, 1)}%**`,
      );
    }
    const many = find(report, size, "GetIssue", "connect+proto h2", `tracker ×${workers}`);
    if (limits && many && workers > 1) {
      lines.push(
        `GetIssue with ${workers} workers: ${fixed(many.rps, 0)} req/s, ${fixed(many.rps / limits.tracker.rps)}× one worker`,
      );
    }
    lines.push(...ablationTable(report, size));
    for (const watch of report.watches.filter((w) => w.size === size)) {
      lines.push(
        "",
        `WatchIssues fan-out on ${watch.server}: ${watch.watchers} watchers, ${watch.commits} commits, ${watch.delivered}/${watch.expected} deliveries; ` +
          `commit→delivery p50 ${fixed(watch.p50Ms)} ms, p90 ${fixed(watch.p90Ms)} ms, p99 ${fixed(watch.p99Ms)} ms, max ${fixed(watch.maxMs, 1)} ms` +
          (watch.serverPeakRssMiB ? `; server RSS up to ${watch.serverPeakRssMiB} MiB` : ""),
      );
    }
    lines.push("", ...targets(report, size));
  }
  if (sizes.length > 1) lines.push("", ...scaling(report));
  return `${lines.join("\n")}\n`;
}

/**
 * GetIssue with each layer left out in turn, against "all on": what each
 * layer costs in throughput and in server CPU per call. With several rounds,
 * each figure is the median of the rounds, and the rounds' CPU per call is
 * shown beside it: the noise to read the differences against.
 */
function ablationTable(report: BenchReport, size: string): string[] {
  const runs = (report.ablation ?? []).filter((s) => s.size === size && !s.offeredRps);
  const labels = [...new Set(runs.map((s) => s.label))];
  const rows = labels.map((label) => {
    const rounds = runs.filter((s) => s.label === label);
    return {
      label,
      allOn: rounds[0]?.layersOff.length === 0,
      rounds,
      rps: median(rounds.map((s) => s.rps)),
      cpu: median(rounds.map((s) => s.serverCpuUsPerCall ?? Number.NaN)),
      p99Ms: median(rounds.map((s) => s.p99Ms)),
      errors: rounds.reduce((sum, s) => sum + s.errors, 0),
    };
  });
  const allOn = rows.find((row) => row.allOn);
  if (!allOn) return [];
  const bare = median(runs.flatMap((s) => (s.bareCpuUsPerCall === undefined ? [] : [s.bareCpuUsPerCall])));
  const protocol = runs[0]?.protocol ?? "";
  return [
    "",
    `### GetIssue ablation (${protocol}, closed loop, c=${report.options.concurrency}, ${allOn.rounds.length} round(s))`,
    "",
    "Each run is a fresh tracker process (bench/tracker-server.ts) with the named layers left out; each round runs every " +
      "row (every other round in reverse order), and each figure is the median of the rounds; Δ is against all on. " +
      "Read a Δ against the spread of the rounds beside it. Tracing has no exporter here (its cost when off); row " +
      "mapping off returns one " +
      `Issue, mapped once. The bare Connect handler spends ${fixed(bare, 0)} µs of CPU per call on the same protocol.`,
    "",
    "| tracker | req/s | Δ req/s | server CPU µs/call | Δ µs/call | × bare | CPU µs/call by round | p99 ms | errors |",
    "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ...rows.map((row) => {
      const deltaCpu = row.cpu - allOn.cpu;
      return (
        `| ${row.label} | ${fixed(row.rps, 0)} | ${row.allOn ? "" : `${signed((row.rps / allOn.rps - 1) * 100, 1)}%`} | ` +
        `${fixed(row.cpu, 0)} | ${row.allOn ? "" : `${signed(deltaCpu)} (${signed((deltaCpu / allOn.cpu) * 100, 1)}%)`} | ` +
        `${Number.isNaN(bare) ? "–" : `${fixed(row.cpu / bare, 1)}×`} | ` +
        `${row.rounds.map((s) => perCall(s.serverCpuUsPerCall)).join(" / ")} | ${fixed(row.p99Ms)} | ${row.errors} |`
      );
    }),
  ];
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The issue's targets, met or not, for one size (tracker ×1, Connect binary over HTTP/2). */
function targets(report: BenchReport, size: string): string[] {
  const tracker = (name: string) => find(report, size, name, "connect+proto h2", "tracker ×1");
  // Latency targets are read at the paced load (half the maximum throughput), when measured.
  const latency = (name: string) => {
    const closed = tracker(name);
    const paced = find(report, size, name, "connect+proto h2", "tracker ×1", true);
    const shown = paced ?? closed;
    const text = (s: ScenarioResult | undefined) => (s ? `${fixed(s.p99Ms)} ms` : "–");
    const errors = (closed?.errors ?? 0) + (paced?.errors ?? 0);
    const timing = paced
      ? `${text(paced)} paced at ${paced.offeredRps}/s (closed loop, c=${report.options.concurrency}: ${text(closed)})`
      : text(closed);
    return {
      p99: shown?.p99Ms,
      errors,
      text: timing,
      /** A latency of failed calls (a server that died answers fast) meets nothing. */
      within: (ms: number) => shown !== undefined && shown.p99Ms <= ms && errors === 0,
      textWithErrors: errors ? `${timing}, ${errors} errors` : timing,
    };
  };
  const rows: string[] = [];
  const add = (target: string, reached: string, met: boolean | undefined) => {
    if (met !== undefined) rows.push(`| ${target} | ${reached} | ${met ? "met" : "**missed**"} |`);
  };
  const limits = getIssueVsLimits(report, size);
  if (limits) {
    add(
      "GetIssue ≥ 60% of min(database, framework)",
      `${fixed(limits.fraction * 100, 1)}%`,
      limits.fraction >= 0.6,
    );
    const { tracker, framework } = limits;
    if (tracker.serverCpuUsPerCall !== undefined && framework.serverCpuUsPerCall !== undefined) {
      const times = tracker.serverCpuUsPerCall / framework.serverCpuUsPerCall;
      // The floor of any database-backed GetIssue: the bare handler plus one pg round trip.
      const floor = find(
        report,
        size,
        "GetIssue",
        "connect+proto h2",
        "bare Connect + pg",
      )?.serverCpuUsPerCall;
      const floorText =
        floor === undefined
          ? ""
          : ` (bare + one pg query: ${floor} µs, ${fixed(floor / framework.serverCpuUsPerCall, 1)}×)`;
      add(
        "GetIssue server CPU per call ≤ 2× the bare Connect handler's",
        `${tracker.serverCpuUsPerCall} µs vs ${framework.serverCpuUsPerCall} µs: ${fixed(times, 1)}×${floorText}`,
        times <= 2,
      );
    }
    const get = latency("GetIssue");
    add("GetIssue p99 ≤ 10 ms", get.textWithErrors, get.within(10));
  }
  const first = tracker("ListIssues first page");
  const deep = tracker("ListIssues deep page");
  if (first) {
    const list = latency("ListIssues first page");
    add("ListIssues (filter, 50) p99 ≤ 25 ms", list.textWithErrors, list.within(25));
  }
  if (first && deep) {
    const ratio = deep.p50Ms / first.p50Ms;
    add("deep page within 1.5× of first (p50)", `${fixed(ratio)}×`, ratio <= 1.5);
  }
  for (const name of ["CreateIssue", "UpdateIssue"]) {
    const s = latency(name);
    if (s.p99 !== undefined)
      add(`${name} p99 ≤ 20 ms, no errors`, `${s.text}, ${s.errors} errors`, s.within(20));
  }
  // The bare handler's fan-out is the framework's floor, not a target.
  for (const watch of report.watches.filter((w) => w.size === size && w.server.startsWith("tracker"))) {
    add(
      `${watch.watchers} watchers on ${watch.server}: p99 commit→delivery ≤ 100 ms, all delivered`,
      `${fixed(watch.p99Ms)} ms, ${watch.delivered}/${watch.expected}`,
      watch.p99Ms <= 100 && watch.delivered === watch.expected,
    );
  }
  for (const peak of report.peakRss.filter((p) => p.size === size)) {
    // No reading (the process was gone before /proc was read) is no figure, not a small one.
    add(
      `peak RSS of one ${peak.server} process ≤ 250 MiB`,
      peak.peakRssMiB > 0 ? `${peak.peakRssMiB} MiB` : "no reading",
      peak.peakRssMiB > 0 && peak.peakRssMiB <= 250,
    );
  }
  return ["| target | reached | |", "|---|---|---|", ...rows];
}

/**
 * Latency of the read scenarios across sizes, at the paced load (half the
 * maximum throughput): a closed-loop p50 is only concurrency / throughput,
 * queueing more than work. Flat: the largest paced p50 within 1.5× of the
 * smallest. The closed-loop throughput is shown beside it.
 */
function scaling(report: BenchReport): string[] {
  const { sizes } = report.options;
  const lines = [
    "## Scaling (tracker ×1, Connect binary over HTTP/2)",
    "",
    "Latency in ms at the paced load (half of each size's throughput); req/s is the closed-loop maximum.",
    "",
    `| scenario | ${sizes.map((s) => `p50 ${s}`).join(" | ")} | ${sizes.map((s) => `p99 ${s}`).join(" | ")} | ${sizes.map((s) => `req/s ${s}`).join(" | ")} | p50 max/min | flat (≤ 1.5×) |`,
    `|---|${sizes.map(() => "---:").join("|")}|${sizes.map(() => "---:").join("|")}|${sizes.map(() => "---:").join("|")}|---:|---|`,
  ];
  for (const name of SCALING) {
    const closed = sizes.map((size) => find(report, size, name, "connect+proto h2", "tracker ×1"));
    const paced = sizes.map((size) => find(report, size, name, "connect+proto h2", "tracker ×1", true));
    if (paced.some((r) => !r) || closed.some((r) => !r)) continue;
    const p50s = paced.map((r) => r?.p50Ms ?? 0);
    const ratio = Math.max(...p50s) / Math.min(...p50s);
    lines.push(
      `| ${name} | ${p50s.map((p) => fixed(p)).join(" | ")} | ${paced.map((r) => fixed(r?.p99Ms ?? 0)).join(" | ")} | ` +
        `${closed.map((r) => fixed(r?.rps ?? 0, 0)).join(" | ")} | ${fixed(ratio)}× | ${ratio <= 1.5 ? "yes" : "**no**"} |`,
    );
  }
  return lines;
}

/** Writes `<base>-throughput.svg` and, with several sizes, `<base>-scaling.svg`; returns their names. */
export function writeCharts(report: BenchReport, base: string): string[] {
  const written: string[] = [];
  const throughput = `${base}-throughput.svg`;
  writeFileSync(
    throughput,
    barChart(
      `tracker bench ${report.startedAt}: requests/s (p99 ms)`,
      report.scenarios.map((s) => ({
        label: `${report.options.sizes.length > 1 ? `${s.size} · ` : ""}${s.name} · ${s.protocol} · ${s.server}${s.offeredRps ? " · paced" : ""}`,
        value: s.rps,
        note: `${fixed(s.rps, 0)}/s (p99 ${fixed(s.p99Ms, 1)})`,
        group: s.server,
      })),
    ),
  );
  written.push(basename(throughput));
  if (report.options.sizes.length > 1) {
    const scalingFile = `${base}-scaling.svg`;
    writeFileSync(
      scalingFile,
      lineChart(
        "p50 and p99 latency (ms) by data size at half load, tracker ×1",
        report.options.sizes,
        SCALING.flatMap((name) =>
          (["p50Ms", "p99Ms"] as const).map((field) => ({
            name: `${name} ${field.slice(0, 3)}`,
            values: report.options.sizes.map(
              (size) =>
                find(report, size, name, "connect+proto h2", "tracker ×1", true)?.[field] ?? Number.NaN,
            ),
          })),
        ),
      ),
    );
    written.push(basename(scalingFile));
  }
  return written;
}

/** This run against an earlier one: ratios new/old (req/s up is better, latency down is better). */
export function compare(report: BenchReport, oldFile: string): string {
  const old = JSON.parse(readFileSync(oldFile, "utf8")) as BenchReport;
  const before = new Map(old.scenarios.map((s) => [key(s), s]));
  // Older reports lack some figures (server CPU per call): "–" there.
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b ? `${(a / b).toFixed(2)}×` : "–";
  const lines = [
    `## compared with ${oldFile} (${old.startedAt})`,
    "",
    "| size | scenario | protocol | server | req/s new/old | p50 new/old | p99 new/old | server CPU/call new/old |",
    "|---|---|---|---|---:|---:|---:|---:|",
  ];
  for (const s of report.scenarios) {
    const o = before.get(key(s));
    lines.push(
      `| ${s.size} | ${s.name} | ${s.protocol} | ${s.server} | ${ratio(s.rps, o?.rps)} | ${ratio(s.p50Ms, o?.p50Ms)} | ${ratio(s.p99Ms, o?.p99Ms)} | ` +
        `${ratio(s.serverCpuUsPerCall, o?.serverCpuUsPerCall)} |`,
    );
  }
  for (const size of report.options.sizes) {
    const now = getIssueVsLimits(report, size);
    const then = getIssueVsLimits(old, size);
    if (now && then)
      lines.push(
        "",
        `${size}: GetIssue fraction of limit ${fixed(then.fraction * 100, 1)}% → ${fixed(now.fraction * 100, 1)}%`,
      );
  }
  return `${lines.join("\n")}\n`;
}
