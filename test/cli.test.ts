import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor } from "./support/transports.js";

// The tracker CLI as people run it: bin/tracker.mjs in a child process
// against a real server, with its own config directory. It runs the README's
// "Command line" tour (the grpcurl tour's equivalents), so that section
// cannot lie.

const BIN = fileURLToPath(new URL("../bin/tracker.mjs", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

let server: TestServer;
let token: string;
let configHome: string;
beforeAll(async () => {
  server = await startTestServer();
  token = await tokenFor("alice");
  configHome = mkdtempSync(join(tmpdir(), "tracker-cli-"));
});
afterAll(async () => {
  await server.close();
  rmSync(configHome, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a user who set TRACKER_SERVER and TRACKER_TOKEN (unless `env` says otherwise). */
function environment(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("TRACKER_")),
  );
  const merged = {
    ...base,
    XDG_CONFIG_HOME: configHome,
    TRACKER_SERVER: server.baseUrl,
    TRACKER_TOKEN: token,
    ...env,
  };
  return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
}

function start(args: string[], env?: Record<string, string | undefined>): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: environment(env) });
}

function tracker(args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}) {
  return new Promise<Run>((resolve, reject) => {
    const child = start(args, options.env);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin?.end(options.input ?? "");
  });
}

/** Runs and expects exit code 0, returning stdout. */
async function ok(...args: string[]): Promise<string> {
  const run = await tracker(args);
  if (run.code !== 0) throw new Error(`tracker ${args.join(" ")} exited with ${run.code}: ${run.stderr}`);
  return run.stdout;
}

const json = async (...args: string[]) => JSON.parse(await ok(...args, "--json"));

/** Resolves once `read()` matches, or rejects after a while. */
async function until(read: () => string, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  for (let waited = 0; waited < 20_000; waited += 50) {
    const match = read().match(pattern);
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ${what} in: ${read()}`);
}

function capture(child: ChildProcess) {
  const seen = { stdout: "", stderr: "" };
  child.stdout?.on("data", (chunk) => {
    seen.stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    seen.stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { seen, exited };
}

describe("tracker CLI", () => {
  it("runs the README tour: list, describe, create, close, filter, history, get, update, watch, health", async () => {
    // grpcurl list / describe
    const methods = await ok("call");
    expect(methods).toContain("IssueService/WatchIssues");
    expect(methods).toContain("grpc.health.v1.Health");
    const issue = await ok("describe", "tracker.v1.Issue");
    expect(issue).toContain('"title": string  REQUIRED');
    expect(issue).toContain("A one-line summary. Required on create, and never empty.");

    // the curl tour's writes
    expect(await ok("project", "create", "CORE", "--display-name", "Core platform")).toMatch(
      /^name: +projects\/CORE$/m,
    );
    expect(
      await ok("label", "create", "CORE", "--label-id", "bug", "--display-name", "Bug", "--color", "#d73a4a"),
    ).toMatch(/^name: +projects\/CORE\/labels\/bug$/m);
    const requestId = "6f1c1a8e-9a38-4a55-8c1e-2f0d4c3b7a10";
    const create = ["issue", "create", "CORE", "--title", "Login fails on Safari", "--priority", "high"];
    const filed = await json(...create, "--label", "bug", "--request-id", requestId);
    expect(filed).toMatchObject({
      name: "projects/CORE/issues/1",
      key: "CORE-1",
      priority: "PRIORITY_HIGH",
      labels: ["projects/CORE/labels/bug"],
    });
    // a retry with the same request id files nothing twice
    expect((await json(...create, "--label", "bug", "--request-id", requestId)).uid).toBe(filed.uid);
    expect(await ok("comment", "create", "CORE-1", "--body", "Reproduced on Safari 18.")).toMatch(
      /^body: +Reproduced on Safari 18\.$/m,
    );
    const closed = await json("issue", "close", "CORE-1", "--reason", "completed", "--etag", filed.etag);
    expect(closed).toMatchObject({ state: "STATE_CLOSED", closeReason: "CLOSE_REASON_COMPLETED" });
    expect(closed.closeTime).toBeDefined();
    const found = await ok(
      "issues",
      "list",
      "CORE",
      "--state",
      "closed",
      "--query",
      "safari -chrome",
      "--order-by",
      "priority",
    );
    expect(found).toMatch(/^CORE-1 +Login fails on Safari +closed +high/m);
    const history = await ok("issue-events", "list", "projects/CORE/issues/1");
    expect(
      [...history.matchAll(/ (issue_created|comment_created|issue_updated) /g)].map((m) => m[1]),
    ).toEqual(["issue_created", "comment_created", "issue_updated"]);
    expect(await ok("project", "get", "CORE")).toMatch(/^display_name: +Core platform$/m);

    // the grpcurl tour: get, update (the mask is the fields given), filtered list
    expect(await ok("issue", "get", "CORE-1")).toMatch(/^state: +closed$/m);
    const reopened = await json("issue", "update", "CORE-1", "--state", "open");
    expect(reopened.state).toBe("STATE_OPEN");
    expect(reopened.closeReason).toBeUndefined();
    const open = await json("issues", "list", "--project", "CORE", "--state", "open", "--query", "safari");
    expect(open.issues.map((one: { key: string }) => one.key)).toEqual(["CORE-1"]);

    // the watch from the start of the history, until Ctrl-C
    const watch = start(["watch", "CORE", "--after", "0", "--json"]);
    const { seen, exited } = capture(watch);
    await until(() => seen.stdout, /(KIND_ISSUE_UPDATED[\s\S]*){2}/, "second update");
    watch.kill("SIGINT");
    expect(await exited).toBe(0);
    const kinds = seen.stdout
      .trim()
      .split("\n")
      .map((text) => JSON.parse(text).event?.kind)
      .filter(Boolean);
    expect(kinds).toEqual([
      "KIND_ISSUE_CREATED",
      "KIND_COMMENT_CREATED",
      "KIND_ISSUE_UPDATED",
      "KIND_ISSUE_UPDATED",
    ]);
    expect(seen.stderr).toContain("resume with --after 4");

    // health needs no token
    const health = await tracker(["call", "grpc.health.v1.Health/Check"], { env: { TRACKER_TOKEN: "" } });
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
  }, 180_000);

  it("--help on every level comes from the proto comments, with REQUIRED and enum values", async () => {
    const top = await ok("--help");
    expect(top).toContain("A unit of work in a project, e.g. CORE-42."); // message Issue
    expect(top).toMatch(/get, batch-get, list, create, update, delete, undelete, watch, close, reopen/);
    const group = await ok("issues", "--help");
    expect(group).toContain("IssueService files, finds, changes and watches issues.");
    expect(group).toMatch(/get +Gets an issue, also a deleted one/);
    const list = await ok("issues", "list", "--help");
    expect(list).toContain("Lists a project's issues matching a filter, in pages, in a chosen order.");
    expect(list).toMatch(
      /--project, --parent STRING {2}\(REQUIRED; also the argument\)\n +The project, e.g./,
    );
    expect(list).toMatch(
      /--state open\|in_progress\|closed {2}\(repeatable, or comma-separated\)\n +Any of these states\./,
    );
    expect(list).toContain("Full-text search over title and body in web-search syntax");
    const close = await ok("issue", "close", "--help");
    expect(close).toContain("Closing (state CLOSED) needs a `close_reason`");
    expect(close).toMatch(/--reason completed\|not_planned\|duplicate\n +Why the issue was closed/);
    const rpc = await ok("call", "IssueService/CreateIssue", "--help");
    expect(rpc).toContain("Files an issue. It gets the next number of its project, with no gaps;");
    expect(rpc).toMatch(/"parent": string {2}REQUIRED\n +The project, e.g. `projects\/CORE`\./);
    // installed as the package's bin: what `npx tracker` runs
    const { stdout } = await promisify(execFile)("npx", ["tracker", "--help"], {
      cwd: ROOT,
      env: environment(),
    });
    expect(stdout).toBe(top);
  }, 120_000);

  it("prints tables for people and proto JSON for scripts; pages with --all or a printed token", async () => {
    await ok("project", "create", "TABLE", "--display-name", "Tables");
    for (const title of ["One", "Two", "Three"]) await ok("issue", "create", "TABLE", "--title", title);
    const table = (await ok("issues", "list", "TABLE")).trimEnd().split("\n");
    expect(table[0]).toMatch(/^KEY +TITLE +STATE +PRIORITY +ASSIGNEE +UPDATE_TIME$/);
    expect(table.slice(1).map((row) => row.split(/ +/).slice(0, 3))).toEqual([
      ["TABLE-3", "Three", "open"],
      ["TABLE-2", "Two", "open"],
      ["TABLE-1", "One", "open"],
    ]);
    const page = await tracker(["issues", "list", "TABLE", "--page-size", "2"]);
    expect(page.stdout.trimEnd().split("\n")).toHaveLength(3);
    const next = page.stderr.match(/more: --page-token (\S+)/)?.[1];
    expect(next).toBeDefined();
    const rest = await json("issues", "list", "TABLE", "--page-size", "2", "--page-token", next as string);
    expect(rest.issues.map((one: { key: string }) => one.key)).toEqual(["TABLE-1"]);
    const all = await json("issues", "list", "TABLE", "--page-size", "2", "--all");
    expect(all.issues.map((one: { key: string }) => one.key)).toEqual(["TABLE-3", "TABLE-2", "TABLE-1"]);
    const projects = await json("projects", "list");
    expect(projects.projects.map((one: { name: string }) => one.name)).toContain("projects/TABLE");
  }, 120_000);

  it("takes --data as JSON, @file or stdin, and speaks every protocol", async () => {
    await ok("project", "create", "DATA", "--display-name", "Data");
    const file = join(configHome, "request.json");
    writeFileSync(file, JSON.stringify({ parent: "projects/DATA", issue: { title: "From a file" } }));
    expect(JSON.parse(await ok("call", "IssueService/CreateIssue", "--data", `@${file}`)).key).toBe("DATA-1");
    const piped = await tracker(["call", "tracker.v1.IssueService/GetIssue", "--data", "-"], {
      input: '{"name":"projects/DATA/issues/1"}',
    });
    expect(JSON.parse(piped.stdout).title).toBe("From a file");
    for (const protocol of ["connect", "grpc", "grpc-web"])
      expect(await ok("issue", "get", "DATA-1", "--protocol", protocol)).toMatch(/^title: +From a file$/m);
  }, 120_000);

  it("exits with 10 + the Connect code and prints the error with its field violations", async () => {
    await ok("project", "create", "EXIT", "--display-name", "Exits");
    await ok("issue", "create", "EXIT", "--title", "Open");
    const missing = await tracker(["issue", "get", "EXIT-999"]);
    expect(missing.code).toBe(15); // NOT_FOUND = 5
    expect(missing.stderr).toMatch(/^error: not_found: projects\/EXIT\/issues\/999 does not exist$/m);
    const invalid = await tracker(["project", "create", "bad", "--display-name", "Bad"]);
    expect(invalid.code).toBe(13); // INVALID_ARGUMENT = 3
    expect(invalid.stderr).toMatch(/^error: invalid_argument: /m);
    expect(invalid.stderr).toMatch(/^ {2}project_id: does not match regex pattern/m);
    const unclosed = await tracker(["issue", "close", "EXIT-1"]);
    expect(unclosed.code).toBe(13);
    expect(unclosed.stderr).toMatch(/^ {2}issue.close_reason: is required when the state is STATE_CLOSED$/m);
    expect(unclosed.stderr).toMatch(/^ {2}reason: CLOSE_REASON_REQUIRED$/m);
    const anonymous = await tracker(["project", "get", "EXIT"], { env: { TRACKER_TOKEN: "not-a-jwt" } });
    expect(anonymous.code).toBe(26); // UNAUTHENTICATED = 16
    const usage = await tracker(["issues", "list", "EXIT", "--colour", "red"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--colour");
    const badEnum = await tracker(["issues", "list", "EXIT", "--state", "done"]);
    expect(badEnum.code).toBe(2);
    expect(badEnum.stderr).toContain('"done" is not one of open, in_progress, closed');
  }, 120_000);

  it("watch prints an event created meanwhile and stops on SIGINT with its position", async () => {
    await ok("project", "create", "WATCH", "--display-name", "Watched");
    const watch = start(["watch", "WATCH"]);
    const { seen, exited } = capture(watch);
    await until(() => seen.stderr, /watching from position 0/, "start of the watch");
    await ok("issue", "create", "WATCH", "--title", "Seen live");
    await until(
      () => seen.stdout,
      /event\.issue=projects\/WATCH\/issues\/1 .*event\.kind=issue_created/,
      "event",
    );
    watch.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(seen.stderr).toMatch(/stopped at position 1; resume with --after 1/);
  }, 120_000);

  it("login saves a profile readable only by the user, under XDG_CONFIG_HOME, used by later calls", async () => {
    await ok("project", "create", "LOGIN", "--display-name", "Logins");
    const noTarget = { TRACKER_SERVER: undefined, TRACKER_TOKEN: undefined };
    const login = await tracker(["login", "--server", server.baseUrl, "--token-command", `echo ${token}`], {
      env: noTarget,
    });
    expect(login.code).toBe(0);
    expect(login.stderr).toMatch(/logged in to .* as users\/[0-9a-f-]+ \(alice@example.com\)/);
    const path = join(configHome, "tracker", "config.json");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      profiles: { default: { server: server.baseUrl, tokenCommand: `echo ${token}` } },
    });
    expect((await tracker(["project", "get", "LOGIN"], { env: noTarget })).stdout).toMatch(/projects\/LOGIN/);
    // a second profile, by token; the env overrides a profile's token
    const bob = await tokenFor("bob");
    expect(
      (
        await tracker(["login", "--profile", "bob", "--server", server.baseUrl, "--token", bob], {
          env: noTarget,
        })
      ).code,
    ).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await tracker(["project", "get", "LOGIN", "--profile", "bob"], { env: noTarget })).code).toBe(15);
    const overridden = await tracker(["project", "get", "LOGIN", "--profile", "bob"], {
      env: { TRACKER_SERVER: undefined, TRACKER_TOKEN: token },
    });
    expect(overridden.code).toBe(0);
  }, 120_000);
});

/**
 * A server that answers every Connect call with what `answer` says (a
 * compromised or hostile one), recording the headers it was sent.
 */
interface Hostile {
  url: string;
  seen: IncomingHttpHeaders[];
  answer: () => { status?: number; body: string | string[] };
}

/** Text no terminal should be handed raw (the line feeds between lines aside). */
const RAW = /(?!\n)[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

const detail = <Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>) => ({
  type: schema.typeName,
  value: Buffer.from(toBinary(schema, create(schema, init))).toString("base64"),
});

describe("tracker CLI against a hostile server", () => {
  let http: Server;
  const hostile: Hostile = { url: "", seen: [], answer: () => ({ status: 404, body: "{}" }) };
  let home: string;
  beforeAll(async () => {
    http = createServer((request, response) => {
      hostile.seen.push(request.headers);
      request.resume();
      request.on("end", () => {
        const { status = 200, body } = hostile.answer();
        // An array is sent chunked, with no content-length to go by.
        response.writeHead(status, {
          "content-type": "application/json",
          ...(!Array.isArray(body) && { "content-length": Buffer.byteLength(body) }),
        });
        for (const chunk of Array.isArray(body) ? body : [body]) response.write(chunk);
        response.end();
      });
    });
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    hostile.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    home = mkdtempSync(join(tmpdir(), "tracker-cli-hostile-"));
  });
  afterAll(async () => {
    rmSync(home, { recursive: true, force: true });
    await new Promise((resolve) => http.close(resolve));
  });
  afterEach(() => {
    hostile.seen = [];
    rmSync(join(home, "tracker"), { recursive: true, force: true });
  });

  /** The CLI pointed at the hostile server, with a config directory of its own. */
  const against = (args: string[]) =>
    tracker(args, { env: { XDG_CONFIG_HOME: home, TRACKER_SERVER: hostile.url } });

  it("writes control characters and bidi controls of errors, violations, reasons, page tokens and login out", async () => {
    const evil = "\u001b]0;PWNED\u0007\u001b[2J\r\nerror: fake\u009b31m\u202e\u2066\u200f\u061c\u2028\u007f";
    hostile.answer = () => ({
      status: 400,
      body: JSON.stringify({
        code: "invalid_argument",
        message: `bad ${evil}`,
        details: [
          detail(BadRequestSchema, {
            fieldViolations: [{ field: `field${evil}`, description: `desc${evil}` }],
          }),
          detail(ErrorInfoSchema, { reason: `REASON${evil}`, domain: "tracker" }),
        ],
      }),
    });
    const failed = await against(["project", "get", "EVIL"]);
    expect(failed.code).toBe(13);
    expect(failed.stderr).not.toMatch(RAW);
    expect(failed.stderr.split("\n").filter((text) => text.startsWith("error:"))).toEqual([
      "error: invalid_argument: bad \\u001b]0;PWNED\\u0007\\u001b[2J\\u000d\\u000aerror: fake\\u009b31m\\u202e\\u2066\\u200f\\u061c\\u2028\\u007f",
    ]);
    expect(failed.stderr).toMatch(/^ {2}field\\u001b.*: desc\\u001b/m);
    expect(failed.stderr).toMatch(/^ {2}reason: REASON\\u001b/m);

    hostile.answer = () => ({ body: JSON.stringify({ projects: [], nextPageToken: `next${evil}` }) });
    const paged = await against(["projects", "list"]);
    expect(paged.code).toBe(0);
    expect(paged.stderr).not.toMatch(RAW);
    expect(paged.stderr).toContain("more: --page-token next\\u001b]0;PWNED");

    hostile.answer = () => ({
      body: JSON.stringify({ name: `users/${evil}`, email: `mallory${evil}@example.com` }),
    });
    const login = await against(["login", "--server", hostile.url, "--token", "t"]);
    expect(login.code).toBe(0);
    expect(login.stderr).not.toMatch(RAW);
    expect(login.stderr).toContain("as users/\\u001b]0;PWNED");
  }, 60_000);

  it("--json writes C1, DEL, bidi controls and line separators as \\u escapes, the same JSON value", async () => {
    const displayName = "a\u0085b\u009bc\u202ed\u2028e\u2029f\u200eg\u007fh\u061ci\u2067j";
    hostile.answer = () => ({ body: JSON.stringify({ name: "projects/EVIL", displayName }) });
    for (const args of [
      ["project", "get", "EVIL", "--json"],
      ["call", "ProjectService/GetProject", "--data", '{"name":"projects/EVIL"}'],
    ]) {
      const run = await against(args);
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(RAW);
      expect(run.stdout).toContain("a\\u0085b");
      expect(JSON.parse(run.stdout).displayName).toBe(displayName);
    }
  }, 60_000);

  it("sends a profile's token only to the server it was saved for, unless one is given for this call", async () => {
    await ok("project", "create", "BOUND", "--display-name", "Bound");
    const mine = { XDG_CONFIG_HOME: home, TRACKER_SERVER: undefined, TRACKER_TOKEN: undefined };
    for (const saved of [
      ["--token", token],
      ["--token-command", `echo ${token}`],
    ]) {
      rmSync(join(home, "tracker"), { recursive: true, force: true });
      expect((await tracker(["login", "--server", server.baseUrl, ...saved], { env: mine })).code).toBe(0);
      expect((await tracker(["project", "get", "BOUND"], { env: mine })).code).toBe(0);
      for (const elsewhere of [
        { args: ["--server", hostile.url], env: mine },
        { args: [], env: { ...mine, TRACKER_SERVER: hostile.url } },
      ]) {
        const run = await tracker(["project", "get", "BOUND", ...elsewhere.args], { env: elsewhere.env });
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(
          `profile "default" holds a token for ${server.baseUrl}, not ${hostile.url}`,
        );
        expect(run.stderr).toContain(`tracker login --server ${hostile.url}`);
      }
      expect(hostile.seen).toEqual([]);
    }
    // a token given for this call goes where the call goes
    await tracker(["project", "get", "BOUND", "--server", hostile.url, "--token", "for-there"], {
      env: mine,
    });
    await tracker(["project", "get", "BOUND", "--server", hostile.url], {
      env: { ...mine, TRACKER_TOKEN: "env" },
    });
    expect(hostile.seen.map((headers) => headers.authorization)).toEqual(["Bearer for-there", "Bearer env"]);
  }, 120_000);

  it("caps the answer it reads at the server's message limit: resource_exhausted, exit 18", async () => {
    const big = "a".repeat(1024 * 1024);
    for (const body of [
      JSON.stringify({ name: "projects/EVIL", displayName: big.repeat(5) }),
      ['{"name":"projects/EVIL","displayName":"', ...Array.from({ length: 5 }, () => big), '"}'],
    ]) {
      hostile.answer = () => ({ body });
      const run = await against(["project", "get", "EVIL"]);
      expect(run.code).toBe(18);
      expect(run.stderr).toMatch(
        /^error: resource_exhausted: the server's answer is larger than the 4194304 bytes the CLI reads$/m,
      );
    }
  }, 60_000);

  it("stops --all when the pages do not end: a repeated page token, or more rows than it holds", async () => {
    hostile.answer = () => ({
      body: JSON.stringify({ projects: [{ name: "projects/LOOP" }], nextPageToken: "again" }),
    });
    const looping = await against(["projects", "list", "--all"]);
    expect(looping.code).toBe(1);
    expect(looping.stderr).toMatch(/^error: --all stopped: the server sent the same next_page_token twice$/m);
    expect(hostile.seen).toHaveLength(2);

    let page = 0;
    const rows = Array.from({ length: 1000 }, (_, index) => ({ name: `projects/P${index}` }));
    hostile.answer = () => ({ body: JSON.stringify({ projects: rows, nextPageToken: `page${++page}` }) });
    const endless = await against(["projects", "list", "--all"]);
    expect(endless.code).toBe(1);
    expect(endless.stderr).toMatch(/^error: --all stopped at 100000 rows \(it collects at most 100000\)/m);
    expect(page).toBe(100);
  }, 120_000);

  it("says an answer it cannot decode is the server's, internal (exit 23), not invalid_argument", async () => {
    for (const body of ['{"name": "projects/', '{"name": 42}', "<html>not JSON</html>"]) {
      hostile.answer = () => ({ body });
      const run = await against(["project", "get", "EVIL"]);
      expect(run.code).toBe(23);
      expect(run.stderr).toMatch(/^error: internal: the server's answer could not be decoded: /m);
      expect(run.stderr).not.toMatch(RAW);
    }
  }, 60_000);
});

describe("tracker CLI, the token and the profile on this machine", () => {
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), "tracker-cli-local-"));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const mine = () => ({ XDG_CONFIG_HOME: home, TRACKER_TOKEN: undefined });

  it("indents a body's further lines, so that a line of it cannot pass for a field", async () => {
    await ok("project", "create", "BODY", "--display-name", "Bodies");
    await ok(
      "issue",
      "create",
      "BODY",
      "--title",
      "Fake fields",
      "--body",
      "Steps:\nstate: closed\npriority: low",
    );
    const shown = await ok("issue", "get", "BODY-1");
    expect(shown).toMatch(/^state: +open$/m);
    expect(shown).not.toMatch(/^state: +closed$/m);
    expect(shown).not.toMatch(/^priority: +low$/m);
    expect(shown).toMatch(/^body: +Steps:\n {10,}state: closed\n {10,}priority: low$/m);
  }, 120_000);

  it("reads the token from --token-file or stdin (--token -), and --help says --token shows in ps", async () => {
    await ok("project", "create", "TOKENS", "--display-name", "Tokens");
    const file = join(home, "token");
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const fromFile = await tracker(["project", "get", "TOKENS", "--token-file", file], { env: mine() });
    expect(fromFile.stderr).toBe("");
    expect(fromFile.stdout).toMatch(/^name: +projects\/TOKENS$/m);
    const fromStdin = await tracker(["project", "get", "TOKENS", "--token", "-"], {
      env: mine(),
      input: token,
    });
    expect(fromStdin.stdout).toMatch(/^name: +projects\/TOKENS$/m);
    const both = await tracker(["call", "ProjectService/GetProject", "--token", "-", "--data", "-"], {
      env: mine(),
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--token - and --data - both read stdin");
    expect(await ok("--help")).toMatch(/--token TOKEN .*\n.*visible to other local users \(ps\)/);
    expect(await ok("--help")).toContain("--token-file PATH");
  }, 120_000);

  it("login writes the profile to a new 0600 file in a 0700 directory, never into the old file", async () => {
    const directory = join(home, "tracker");
    mkdirSync(directory, { mode: 0o755 });
    chmodSync(directory, 0o755);
    const path = join(directory, "config.json");
    writeFileSync(path, '{"profiles":{}}\n', { mode: 0o644 });
    chmodSync(path, 0o644);
    // What a reader who opened (or linked) the old file sees.
    const old = join(home, "old-config.json");
    linkSync(path, old);
    const login = await tracker(["login", "--server", server.baseUrl, "--token", token], { env: mine() });
    expect(login.code).toBe(0);
    expect(readFileSync(old, "utf8")).toBe('{"profiles":{}}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(path, "utf8")).profiles.default.token).toBe(token);
    expect(readdirSync(directory)).toEqual(["config.json"]);
  }, 120_000);
});
