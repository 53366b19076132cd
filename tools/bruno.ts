// Runs the Bruno collection in bruno/ (the API's executable documentation)
// against a running server with the Bruno CLI:
//
//   node --import tsx tools/bruno.ts [--base-url URL]
//
// The base URL is --base-url, else $TRACKER_URL, else http://localhost:8080.
// The exit code is bru's: 0 when every request, assertion and test passed.
// The test suite imports runBruno() instead.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { constants, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { z } from "zod";

export const DEFAULT_BASE_URL = "http://localhost:8080";

/** The collection's directory; bru must run inside it. */
export const COLLECTION_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "bruno");

/** The environment in bruno/environments/ whose `baseUrl` the run overrides. */
const ENVIRONMENT = "local";

export interface BrunoCounts {
  passed: number;
  failed: number;
}

export interface BrunoResult {
  /** Requests whose assertions and tests all passed. */
  passed: number;
  /** Requests that failed an assertion or test, or could not be sent (e.g. connection refused). */
  failed: number;
  /** Requests skipped by a script (bru.runner.skipRequest) or by --bail. */
  skipped: number;
  assertions: BrunoCounts;
  tests: BrunoCounts;
  /** bru's exit code: 0 all passed, 1 something failed, others a usage or setup error. */
  exitCode: number;
  /** bru's stdout and stderr, interleaved. */
  output: string;
}

export interface RunBrunoOptions {
  /** Also copy bru's output to this process's stdout and stderr as it arrives. */
  stream?: boolean;
  /** Stops bru (SIGTERM) when aborted. */
  signal?: AbortSignal;
}

// The part of bru's JSON report (--reporter-json) we read: one entry per
// iteration, each with a summary computed by @usebruno/common's getRunnerSummary.
const count = z.number().int().nonnegative().catch(0);
const ReportSchema = z.array(
  z.object({
    summary: z.object({
      passedRequests: count,
      failedRequests: count,
      errorRequests: count,
      skippedRequests: count,
      passedAssertions: count,
      failedAssertions: count,
      passedTests: count,
      failedTests: count,
      passedPreRequestTests: count,
      failedPreRequestTests: count,
      passedPostResponseTests: count,
      failedPostResponseTests: count,
    }),
  }),
);

type Report = z.infer<typeof ReportSchema>;
type Summary = Report[number]["summary"];

/** The absolute path of bru's entry script, run with this Node. */
function bruScript(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@usebruno/cli/package.json")), "bin", "bru.js");
}

/** `http://host:8080/` and `http://host:8080` both give `http://host:8080`. */
function normalizeBaseUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`base URL must be http or https: ${baseUrl}`);
  }
  return url.href.replace(/\/+$/, "");
}

/** Runs the whole collection against `baseUrl` and reports what passed and failed. */
export async function runBruno(baseUrl: string, options: RunBrunoOptions = {}): Promise<BrunoResult> {
  const reportDir = await mkdtemp(join(tmpdir(), "tracker-bruno-"));
  const reportFile = join(reportDir, "report.json");
  try {
    const args = [
      bruScript(),
      "run",
      "--env",
      ENVIRONMENT,
      "--env-var",
      `baseUrl=${normalizeBaseUrl(baseUrl)}`,
      "--reporter-json",
      reportFile,
    ];
    const env = { ...process.env };
    // bru (chalk) colours only a terminal; keep colours when we pass its output to one.
    if (options.stream && process.stdout.isTTY && env.FORCE_COLOR === undefined) env.FORCE_COLOR = "1";

    const { exitCode, output } = await new Promise<{ exitCode: number; output: string }>(
      (resolve, reject) => {
        const child = spawn(process.execPath, args, {
          cwd: COLLECTION_DIR,
          env,
          stdio: ["ignore", "pipe", "pipe"],
        });
        const stop = () => child.kill("SIGTERM");
        options.signal?.addEventListener("abort", stop, { once: true });
        const chunks: Buffer[] = [];
        child.stdout.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          if (options.stream) process.stdout.write(chunk);
        });
        child.stderr.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          if (options.stream) process.stderr.write(chunk);
        });
        child.on("error", reject);
        child.on("close", (code, signal) => {
          options.signal?.removeEventListener("abort", stop);
          // Killed by a signal: report it the way a shell would (128 + signal number).
          const exitCode = code ?? (signal ? 128 + constants.signals[signal] : 1);
          resolve({ exitCode, output: Buffer.concat(chunks).toString("utf8") });
        });
      },
    );

    const report = await readReport(reportFile);
    if (!report) {
      if (exitCode === 0) throw new Error(`bru exited with 0 but wrote no report to ${reportFile}`);
      // bru stopped before running anything (unknown environment, not a collection, ...).
      return {
        passed: 0,
        failed: 0,
        skipped: 0,
        assertions: { passed: 0, failed: 0 },
        tests: { passed: 0, failed: 0 },
        exitCode,
        output,
      };
    }
    const sum = (pick: (summary: Summary) => number) =>
      report.reduce((total, iteration) => total + pick(iteration.summary), 0);
    return {
      passed: sum((s) => s.passedRequests),
      failed: sum((s) => s.failedRequests + s.errorRequests),
      skipped: sum((s) => s.skippedRequests),
      assertions: { passed: sum((s) => s.passedAssertions), failed: sum((s) => s.failedAssertions) },
      tests: {
        passed: sum((s) => s.passedTests + s.passedPreRequestTests + s.passedPostResponseTests),
        failed: sum((s) => s.failedTests + s.failedPreRequestTests + s.failedPostResponseTests),
      },
      exitCode,
      output,
    };
  } finally {
    await rm(reportDir, { recursive: true, force: true });
  }
}

/** The parsed report, or undefined when bru wrote none. */
async function readReport(file: string): Promise<Report | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return ReportSchema.parse(JSON.parse(text));
}

async function main(): Promise<void> {
  let values: { "base-url"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { "base-url": { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    }));
  } catch (error) {
    console.error(`bruno: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
    return;
  }
  if (values.help) {
    console.log(
      "Usage: node --import tsx tools/bruno.ts [--base-url URL]\n\n" +
        `Runs the Bruno collection in bruno/ against URL (default: $TRACKER_URL or ${DEFAULT_BASE_URL}).`,
    );
    return;
  }
  const baseUrl = values["base-url"] ?? process.env.TRACKER_URL ?? DEFAULT_BASE_URL;
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const result = await runBruno(baseUrl, { stream: true, signal: controller.signal });
    process.exitCode = result.exitCode;
  } catch (error) {
    console.error(`bruno: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
