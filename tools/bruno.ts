// Runs the Bruno collection in bruno/ (the API's executable documentation)
// against a running server with the Bruno CLI:
//
//   node --import tsx tools/bruno.ts [--base-url URL]
//
// The base URL is --base-url, else $TRACKER_URL, else http://localhost:8080.
// The collection calls as three people, each with a bearer token (see
// BrunoTokens). By default they are minted with the development key under
// $DATA_DIR (default .data), which a server in AUTH_MODE=dev (`npm start`)
// trusts; against any other server pass them in TRACKER_TOKEN,
// TRACKER_REVIEWER_TOKEN, TRACKER_MEMBER_TOKEN and TRACKER_MEMBER_SUBJECT.
// The exit code is bru's: 0 when every request, assertion and test passed.
// The test suite imports runBruno() instead.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { constants, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { z } from "zod";
import { mintDevToken } from "../src/auth/dev-issuer.js";

export const DEFAULT_BASE_URL = "http://localhost:8080";

/** The collection's directory; bru must run inside it. */
export const COLLECTION_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "bruno");

/** The environment in bruno/environments/ whose variables (`baseUrl`, the tokens) the run overrides. */
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

/** The bearer tokens the collection sends, as its environment variables of the same names. */
export interface BrunoTokens {
  /** The collection's user, who creates the projects and so is their admin (collection auth). */
  token: string;
  /** A second person (subject REVIEWER_SUBJECT) who comments in CommentService. */
  reviewerToken: string;
  /** A person who has never called the API, whom MemberService adds to a project. */
  memberToken: string;
  /** The subject of memberToken: fresh on every run (see freshMemberSubject). */
  memberSubject: string;
}

/** The subjects of the people the collection calls as. */
export const USER_SUBJECT = "bruno";
export const REVIEWER_SUBJECT = "bruno-reviewer";

/** A subject no one has used yet, for `memberSubject`: `bruno-member-<random>`. */
export function freshMemberSubject(): string {
  return `bruno-member-${randomBytes(6).toString("hex")}`;
}

export interface RunBrunoOptions {
  tokens: BrunoTokens;
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
export async function runBruno(baseUrl: string, options: RunBrunoOptions): Promise<BrunoResult> {
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
      ...Object.entries(options.tokens).flatMap(([name, value]) => ["--env-var", `${name}=${value}`]),
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

/** How long the tokens `npm run bruno` mints are valid: long enough for one run. */
const DEV_TOKEN_TTL_SECONDS = 3600;

/** Why minting failed, with what to do instead. */
class TokenError extends Error {}

const NON_DEV_HINT =
  "`npm run bruno` against a server that is not in development mode (AUTH_MODE=dev, the default of " +
  "`npm start`) needs TRACKER_TOKEN, TRACKER_REVIEWER_TOKEN, TRACKER_MEMBER_TOKEN and " +
  "TRACKER_MEMBER_SUBJECT (the subject of the member token, one that has never called the API)";

/**
 * The tokens for a run of the collection from the command line: those given in
 * TRACKER_TOKEN, TRACKER_REVIEWER_TOKEN and TRACKER_MEMBER_TOKEN (with
 * TRACKER_MEMBER_SUBJECT), the others minted with the development key under
 * `dataDir`, the member's for a fresh subject.
 */
async function tokensFromEnvironment(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): Promise<{ tokens: BrunoTokens; minted: string[] }> {
  const given = (name: string) => (env[name] === "" ? undefined : env[name]);
  const memberToken = given("TRACKER_MEMBER_TOKEN");
  const memberSubject = given("TRACKER_MEMBER_SUBJECT");
  if ((memberToken === undefined) !== (memberSubject === undefined)) {
    throw new TokenError("set both TRACKER_MEMBER_TOKEN and TRACKER_MEMBER_SUBJECT, or neither");
  }
  const minted: string[] = [];
  const mint = async (sub: string, name: string) => {
    // mintDevToken would create a new key where there is none, one no server trusts.
    const keyFile = join(dataDir, "dev-signing-key.json");
    if (!existsSync(keyFile)) {
      throw new TokenError(
        `no development signing key at ${keyFile} to mint tokens with (start the server with ` +
          `\`npm start\` and the same DATA_DIR first); ${NON_DEV_HINT}`,
      );
    }
    minted.push(sub);
    return mintDevToken(dataDir, { sub, email: `${sub}@example.com`, name }, DEV_TOKEN_TTL_SECONDS);
  };
  const subject = memberSubject ?? freshMemberSubject();
  const tokens: BrunoTokens = {
    token: given("TRACKER_TOKEN") ?? (await mint(USER_SUBJECT, "Bruno")),
    reviewerToken: given("TRACKER_REVIEWER_TOKEN") ?? (await mint(REVIEWER_SUBJECT, "Bruno Reviewer")),
    memberToken: memberToken ?? (await mint(subject, "Bruno Member")),
    memberSubject: subject,
  };
  return { tokens, minted };
}

/**
 * Fails early, with what to do, when the server refuses the collection's
 * token; any other answer (or none) is left to the run to report.
 */
async function checkToken(baseUrl: string, token: string, minted: boolean): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${normalizeBaseUrl(baseUrl)}/tracker.v1.UserService/GetCurrentUser`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Connect-Protocol-Version": "1",
        Authorization: `Bearer ${token}`,
      },
      body: "{}",
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    return;
  }
  if (response.status !== 401) return;
  const reason = response.headers.get("www-authenticate") ?? (await response.text());
  throw new TokenError(
    `the server rejected the collection's token (${reason}); ` +
      (minted
        ? `it was minted with the development key under DATA_DIR, which only a server in AUTH_MODE=dev with the same DATA_DIR trusts. ${NON_DEV_HINT}`
        : "check TRACKER_TOKEN"),
  );
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
        `Runs the Bruno collection in bruno/ against URL (default: $TRACKER_URL or ${DEFAULT_BASE_URL}).\n\n` +
        "Bearer tokens: TRACKER_TOKEN (the collection's user), TRACKER_REVIEWER_TOKEN (a second person),\n" +
        "TRACKER_MEMBER_TOKEN with TRACKER_MEMBER_SUBJECT (a person who has never called the API).\n" +
        "Those not set are minted with the development key under $DATA_DIR (default .data),\n" +
        "which a server started with `npm start` (AUTH_MODE=dev) trusts.",
    );
    return;
  }
  const baseUrl = values["base-url"] ?? process.env.TRACKER_URL ?? DEFAULT_BASE_URL;
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const { tokens, minted } = await tokensFromEnvironment(process.env, process.env.DATA_DIR || ".data");
    await checkToken(baseUrl, tokens.token, minted.includes(USER_SUBJECT));
    const result = await runBruno(baseUrl, { tokens, stream: true, signal: controller.signal });
    process.exitCode = result.exitCode;
  } catch (error) {
    console.error(`bruno: ${error instanceof Error ? error.message : String(error)}`);
    // A setup problem (no tokens) like bru's own usage errors; anything else a failure.
    process.exitCode = error instanceof TokenError ? 2 : 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
