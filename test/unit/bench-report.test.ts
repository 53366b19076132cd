import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ScenarioResult } from "../../bench/load.js";
import { type AblationResult, type BenchReport, compare, toMarkdown } from "../../bench/report.js";

// The bench's report from figures alone: no server, no database.

/** A reference run from before server CPU per call was measured. */
const OLD_REPORT = fileURLToPath(new URL("../../bench/reference/2026-11-21-sizes.json", import.meta.url));

const result = (server: string, protocol: string, fields: Partial<ScenarioResult> = {}): ScenarioResult => ({
  name: "GetIssue",
  protocol,
  server,
  size: "10k",
  requests: 4_000,
  errors: 0,
  errorKinds: {},
  seconds: 4,
  rps: 1_000,
  p50Ms: 1,
  p90Ms: 2,
  p99Ms: 3,
  maxMs: 4,
  cpu: { server: 4, client: 1, database: 1 },
  clientLagP99Ms: 1,
  serverPeakRssMiB: 100,
  ...fields,
});

const ablationRun = (
  label: string,
  layersOff: string[],
  round: number,
  rps: number,
  us: number,
): AblationResult => ({
  ...result(`tracker ×1, ${label}`, "connect+proto h2", {
    rps,
    serverCpuUsPerCall: us,
    bareCpuUsPerCall: 200,
  }),
  label,
  layersOff,
  round,
});

const report: BenchReport = {
  startedAt: "2026-12-02T00:00:00.000Z",
  node: "v24.0.0",
  cpus: 2,
  options: { sizes: ["10k"], seconds: 4, concurrency: 64, watchers: 0, workers: 1 },
  scenarios: [
    result("pg", "database limit (pg)", { rps: 5_000 }),
    result("bare Connect", "connect+proto h2", { rps: 8_000, serverCpuUsPerCall: 200 }),
    result("tracker ×1", "connect+proto h2", { serverCpuUsPerCall: 1_000, bareCpuUsPerCall: 200 }),
    result("tracker ×1", "connect+json h1.1", { serverCpuUsPerCall: 1_300 }),
  ],
  ablation: [
    ablationRun("all on", [], 1, 1_000, 1_000),
    ablationRun("request log off", ["request-log"], 1, 1_100, 900),
    ablationRun("all off", ["request-log", "metrics"], 1, 2_000, 500),
    ablationRun("all off", ["request-log", "metrics"], 2, 1_800, 560),
    ablationRun("request log off", ["request-log"], 2, 1_300, 700),
    ablationRun("all on", [], 2, 1_000, 1_000),
    ablationRun("all on", [], 3, 1_000, 1_300),
    ablationRun("request log off", ["request-log"], 3, 1_000, 900),
    ablationRun("all off", ["request-log", "metrics"], 3, 1_900, 520),
  ],
  watches: [],
  peakRss: [],
};

/** `old` as an earlier run's JSON file. */
function writeOld(old: BenchReport): string {
  const file = join(mkdtempSync(join(tmpdir(), "bench-report-")), "old.json");
  writeFileSync(file, JSON.stringify(old));
  return file;
}

describe("the bench report", () => {
  it("shows server CPU per call beside the bare handler's, and '–' where there is none", () => {
    const markdown = toMarkdown(report);
    expect(markdown).toContain("| server CPU µs/call | bare µs/call |");
    expect(markdown).toMatch(/\| tracker ×1 \| closed \|.*\| 1000 \| 200 \|/);
    expect(markdown).toMatch(/connect\+json h1\.1 \| tracker ×1 \|.*\| 1300 \| – \|/);
    expect(markdown).toContain(
      "| GetIssue server CPU per call ≤ 2× the bare Connect handler's | 1000 µs vs 200 µs: 5.0× | **missed** |",
    );
  });

  it("meets no target with a run whose calls failed or whose process left no reading", () => {
    const failed: BenchReport = {
      ...report,
      scenarios: [
        result("tracker ×1", "connect+proto h2", { name: "ListIssues first page", p99Ms: 2, errors: 900 }),
        result("tracker ×1", "connect+proto h2", {
          name: "ListIssues first page",
          p99Ms: 1.87,
          errors: 378,
          offeredRps: 31,
        }),
      ],
      ablation: [],
      peakRss: [{ size: "10k", server: "tracker ×1", peakRssMiB: 0 }],
    };
    const markdown = toMarkdown(failed);
    expect(markdown).toMatch(
      /\| ListIssues \(filter, 50\) p99 ≤ 25 ms \| 1\.87 ms paced .*, 1278 errors \| \*\*missed\*\* \|/,
    );
    expect(markdown).toContain("| peak RSS of one tracker ×1 process ≤ 250 MiB | no reading | **missed** |");
  });

  it("tabulates the ablation's medians over the rounds against all on, with each round's CPU per call", () => {
    const markdown = toMarkdown(report);
    expect(markdown).toContain("### GetIssue ablation (connect+proto h2, closed loop, c=64, 3 round(s))");
    expect(markdown).toContain("| all on | 1000 |  | 1000 |  | 5.0× | 1000 / 1000 / 1300 | 3.00 | 0 |");
    expect(markdown).toContain(
      "| request log off | 1100 | +10.0% | 900 | −100 (−10.0%) | 4.5× | 900 / 700 / 900 |",
    );
    expect(markdown).toContain("| all off | 1900 | +90.0% | 520 | −480 (−48.0%) | 2.6× | 500 / 560 / 520 |");
  });

  it("has no ablation table when the run had none", () => {
    expect(toMarkdown({ ...report, ablation: undefined })).not.toContain("ablation");
  });

  it("compares with a report from before CPU per call was measured", () => {
    const comparison = compare({ ...report, options: { ...report.options, sizes: ["10k"] } }, OLD_REPORT);
    expect(comparison).toContain("server CPU/call new/old");
    expect(comparison).toMatch(
      /\| 10k \| GetIssue \| connect\+proto h2 \| tracker ×1 \| [\d.]+× \| [\d.]+× \| [\d.]+× \| – \|/,
    );
  });

  it("compares CPU per call when both runs measured it", () => {
    const comparison = compare(
      report,
      writeOld({
        ...report,
        scenarios: report.scenarios.map((s) => ({
          ...s,
          serverCpuUsPerCall: s.serverCpuUsPerCall && s.serverCpuUsPerCall * 2,
        })),
      }),
    );
    expect(comparison).toMatch(
      /\| 10k \| GetIssue \| connect\+proto h2 \| tracker ×1 \| 1\.00× \| 1\.00× \| 1\.00× \| 0\.50× \|/,
    );
  });
});
