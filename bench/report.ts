import { readFileSync } from "node:fs";
import type { ScenarioResult } from "./load.js";

export interface WatchResult {
  watchers: number;
  commits: number;
  expected: number;
  delivered: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BenchReport {
  startedAt: string;
  node: string;
  cpus: number;
  options: { size: string; seconds: number; concurrency: number; watchers: number };
  seed: { issues: number; issuesPerProject: number; seconds: number };
  scenarios: ScenarioResult[];
  getIssueVsLimits?: { tracker: number; database: number; framework: number; fraction: number };
  watch?: WatchResult;
}

const key = (s: ScenarioResult) => `${s.name} [${s.protocol}]`;

export function toMarkdown(report: BenchReport): string {
  const lines = [
    `# tracker bench ${report.startedAt}`,
    "",
    `size ${report.options.size} (${report.seed.issues} issues, ${report.seed.issuesPerProject}/project, seeded in ${report.seed.seconds.toFixed(1)}s), ` +
      `${report.options.seconds}s per scenario, concurrency ${report.options.concurrency}, node ${report.node}, ${report.cpus} CPUs. ` +
      "Client, server and baselines share one Node process; CPU is that process's (PostgreSQL's is not counted).",
    "",
    "| scenario | protocol | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU s | peak RSS MiB | note |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...report.scenarios.map(
      (s) =>
        `| ${s.name} | ${s.protocol} | ${s.rps.toFixed(0)} | ${s.p50Ms.toFixed(2)} | ${s.p90Ms.toFixed(2)} | ${s.p99Ms.toFixed(2)} | ${s.maxMs.toFixed(1)} | ${s.errors}${
          s.errors ? ` (${Object.keys(s.errorKinds)[0]})` : ""
        } | ${s.cpuSeconds.toFixed(2)} | ${s.peakRssMiB} | ${s.note ?? ""} |`,
    ),
  ];
  const limits = report.getIssueVsLimits;
  if (limits) {
    lines.push(
      "",
      `GetIssue: tracker ${limits.tracker.toFixed(0)} req/s; database limit (same SQL via pg) ${limits.database.toFixed(0)} req/s; ` +
        `framework limit (bare Connect) ${limits.framework.toFixed(0)} req/s; tracker / min(db, framework) = **${(limits.fraction * 100).toFixed(1)}%**`,
    );
  }
  const watch = report.watch;
  if (watch) {
    lines.push(
      "",
      `WatchIssues fan-out: ${watch.watchers} watchers, ${watch.commits} commits, ${watch.delivered}/${watch.expected} deliveries; ` +
        `commit→delivery p50 ${watch.p50Ms.toFixed(2)} ms, p90 ${watch.p90Ms.toFixed(2)} ms, p99 ${watch.p99Ms.toFixed(2)} ms, max ${watch.maxMs.toFixed(1)} ms`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** This run against an earlier one: ratios new/old (req/s up is better, latency down is better). */
export function compare(report: BenchReport, oldFile: string): string {
  const old = JSON.parse(readFileSync(oldFile, "utf8")) as BenchReport;
  const before = new Map(old.scenarios.map((s) => [key(s), s]));
  const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : "–");
  const lines = [
    `## compared with ${oldFile} (${old.startedAt}, size ${old.options.size}, c=${old.options.concurrency})`,
    "",
    "| scenario | protocol | req/s new/old | p50 new/old | p99 new/old |",
    "|---|---|---:|---:|---:|",
  ];
  for (const s of report.scenarios) {
    const o = before.get(key(s));
    lines.push(
      `| ${s.name} | ${s.protocol} | ${ratio(s.rps, o?.rps)} | ${ratio(s.p50Ms, o?.p50Ms)} | ${ratio(s.p99Ms, o?.p99Ms)} |`,
    );
  }
  if (report.getIssueVsLimits && old.getIssueVsLimits) {
    lines.push(
      "",
      `GetIssue fraction of limit: ${(old.getIssueVsLimits.fraction * 100).toFixed(1)}% → ${(report.getIssueVsLimits.fraction * 100).toFixed(1)}%`,
    );
  }
  return `${lines.join("\n")}\n`;
}
