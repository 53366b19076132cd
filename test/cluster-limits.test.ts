import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { WatchStreamCap } from "../src/domain/issue-events/issue-watch.js";
import { expectError } from "./support/errors.js";
import { addMember, createProject } from "./support/fixtures.js";
import { testIssuer } from "./support/issuer.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

// Two processes of one deployment (two servers on one database, as two hosts
// or WORKERS=2 run) share one rate limit and one watch-stream cap per user,
// and a process killed with its streams open stops counting once its leases
// lapse.

/** A bucket of 20 refilled at 1 a second: a quick run of calls gets 20 and barely more. */
const LIMITS = { ratePerSecond: 1, burst: 19, maxWatchStreamsPerUser: 2 };

let first: TestServer;
let second: TestServer;
beforeAll(async () => {
  first = await startTestServer({ limits: LIMITS });
  second = await startTestServer({ sharedWith: first, limits: LIMITS });
});
afterAll(async () => {
  await second?.close();
  await first?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let sequence = 0;
const newSubject = () => `cluster-${process.pid}-${sequence++}`;

/** Calls GetCurrentUser `count` times, one after another, on the servers in turn. */
async function alternateCalls(servers: TestServer[], subject: string, count: number) {
  const clients = servers.map((server) =>
    createClient(UserService, transportFor("Connect binary over HTTP/2", server.baseUrl, subject)),
  );
  const served = servers.map(() => 0);
  const refused = servers.map(() => 0);
  const started = Date.now();
  for (let call = 0; call < count; call++) {
    const at = call % clients.length;
    try {
      await clients[at]?.getCurrentUser({});
      served[at] = (served[at] ?? 0) + 1;
    } catch (error) {
      const refusal = ConnectError.from(error);
      expect(refusal.code, refusal.message).toBe(Code.ResourceExhausted);
      expect(refusal.findDetails(ErrorInfoSchema)[0]?.reason).toBe("RATE_LIMITED");
      refused[at] = (refused[at] ?? 0) + 1;
    }
  }
  const total = served.reduce((sum, n) => sum + n, 0);
  return { served, refused, total, seconds: (Date.now() - started) / 1000 };
}

/** Opens a WatchIssues stream and waits for its first message; throws if it is refused. */
async function openWatch(baseUrl: string, user: string, parent: string) {
  const abort = new AbortController();
  const iterator = createClient(IssueService, transportFor("Connect binary over HTTP/2", baseUrl, user))
    .watchIssues({ parent }, { signal: abort.signal })
    [Symbol.asyncIterator]();
  const opening = await iterator.next();
  expect(opening.done).toBe(false);
  // Read on until closed; an error that is not the close is kept for close() to throw.
  const rest = (async () => {
    try {
      while (!(await iterator.next()).done);
    } catch (error) {
      if (!abort.signal.aborted) return error;
    }
    return undefined;
  })();
  return {
    async close() {
      abort.abort();
      const failure = await rest;
      if (failure) throw failure;
    },
  };
}

/**
 * Opens a stream, retrying while TOO_MANY_STREAMS for up to `withinMs` (a
 * freed lease is deleted just after its stream ends), 400 ms apart: each try
 * is a call, and the user's bucket holds 20.
 */
async function openWatchWithin(baseUrl: string, user: string, parent: string, withinMs: number) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await openWatch(baseUrl, user, parent);
    } catch (error) {
      const reason = ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.reason;
      if (reason !== "TOO_MANY_STREAMS" || Date.now() > deadline) throw error;
      await sleep(400);
    }
  }
}

describe("the rate limit across two processes", () => {
  it("counts a user's calls once, whichever process serves them: refused at the limit, not at twice it", async () => {
    const { served, refused, total, seconds } = await alternateCalls([first, second], newSubject(), 40);
    // Each process alone would serve 20 of its own (all 40); together they
    // serve the bucket's 20, and what refilled meanwhile (1 a second).
    expect(total).toBeGreaterThanOrEqual(20);
    expect(total).toBeLessThanOrEqual(20 + Math.ceil(seconds));
    for (const [at, count] of served.entries()) {
      expect(count, `server ${at} served`).toBeGreaterThan(0);
      expect(refused[at], `server ${at} refused`).toBeGreaterThan(0);
    }
  });

  it("falls back to a per-process limit while the database refuses the limiter's writes", async () => {
    const admin = new pg.Client({ connectionString: first.databaseUrl });
    await admin.connect();
    try {
      // Every take fails (the constraint refuses any new or changed row), as
      // with the database unreachable, while the calls themselves still work.
      await admin.query("ALTER TABLE rate_limit_buckets ADD CONSTRAINT refuse_all CHECK (false) NOT VALID");
      const subject = newSubject();
      const { served, total } = await alternateCalls([first, second], subject, 60);
      // Served, not failed: each process limits the user on its own (1 a
      // second plus 19 per 10 s each), so up to twice the shared limit.
      expect(total).toBeGreaterThan(20 + 4);
      expect(total).toBeLessThan(60);
      for (const count of served) expect(count).toBeGreaterThanOrEqual(20);
    } finally {
      await admin.query("ALTER TABLE rate_limit_buckets DROP CONSTRAINT IF EXISTS refuse_all");
      await admin.end();
    }
    // Once the database answers again (the limiter asks again a second
    // after a failure), the limit is shared again.
    await sleep(1_100);
    const { total, seconds } = await alternateCalls([first, second], newSubject(), 40);
    expect(total).toBeLessThanOrEqual(20 + Math.ceil(seconds));
  });
});

describe("the watch-stream cap across two processes", () => {
  it("counts a user's streams in every process, and frees the slot of one that closes", async () => {
    // Each user has a bucket of 20 calls here: the project's admin is new too.
    const [admin, watcher] = [newSubject(), newSubject()];
    const project = await createProject(first, admin);
    await addMember(first, project, watcher, "reader", admin);
    const open = [await openWatch(first.baseUrl, watcher, project)];
    try {
      open.push(await openWatch(second.baseUrl, watcher, project));
      for (const server of [first, second]) {
        const refused = await expectError(
          openWatch(server.baseUrl, watcher, project),
          Code.ResourceExhausted,
          "TOO_MANY_STREAMS",
        );
        expect(refused.rawMessage).toBe("you already have 2 WatchIssues streams open; close one first");
        expect(refused.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ limit: "2" });
      }
      // The stream on the first closes; the second process may open one in its place...
      await open.shift()?.close();
      open.push(await openWatchWithin(second.baseUrl, watcher, project, 5_000));
      // ...and only one.
      await expectError(
        openWatch(first.baseUrl, watcher, project),
        Code.ResourceExhausted,
        "TOO_MANY_STREAMS",
      );
    } finally {
      await Promise.all(open.map((watch) => watch.close()));
    }
  });

  it("stops counting a killed process's streams once their leases lapse", async () => {
    // Each user has a bucket of 20 calls here: the project's admin is new too.
    const [admin, watcher] = [newSubject(), newSubject()];
    const project = await createProject(first, admin);
    await addMember(first, project, watcher, "reader", admin);
    const issuer = await testIssuer();
    const doomed = await startProcess({
      DATABASE_URL: first.databaseUrl,
      AUTH_MODE: "oidc",
      OIDC_ISSUER: issuer.url,
      OIDC_AUDIENCE: issuer.audience,
      OIDC_ALGORITHMS: "RS256",
      MAX_WATCH_STREAMS_PER_USER: "2",
      // Renewed every second; lapsed 3 s after the last renewal.
      WATCH_STREAM_LEASE_MS: "3000",
    });
    const watches = [
      await openWatch(doomed.baseUrl, watcher, project),
      await openWatch(doomed.baseUrl, watcher, project),
    ];
    await expectError(openWatch(first.baseUrl, watcher, project), Code.ResourceExhausted, "TOO_MANY_STREAMS");
    // No shutdown, no goodbye: the leases stay behind.
    doomed.child.kill("SIGKILL");
    await doomed.exited;
    await Promise.all(watches.map((watch) => watch.close().catch(() => {})));
    await expectError(openWatch(first.baseUrl, watcher, project), Code.ResourceExhausted, "TOO_MANY_STREAMS");
    // Within a lease (3 s) of the last renewal, both slots are free again.
    // Killed before its first renewal, the process leaves leases that lapse
    // as far apart as they were taken, so each is waited for.
    const freed = [
      await openWatchWithin(first.baseUrl, watcher, project, 10_000),
      await openWatchWithin(second.baseUrl, watcher, project, 10_000),
    ];
    await Promise.all(freed.map((watch) => watch.close()));
  }, 60_000);
});

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** The real entry point (src/main.ts) in a process of its own, on the given settings. */
async function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (typeof entry.address === "string") resolve(`http://${entry.address}`);
    });
    exited.then(() => reject(new Error(`the server exited: ${stderr}`)));
  });
  return { child, baseUrl, exited };
}

describe("the watch-stream cap under many takes at once", () => {
  const silent = pino({ level: "silent" });
  const userUid = () => randomUUID();

  it("gives each of 300 concurrent takes of one user a slot of its own when the cap allows them all", async () => {
    const cap = new WatchStreamCap(first.ctx.db, 1000, 30_000, silent);
    const user = userUid();
    try {
      const releases = await Promise.all(Array.from({ length: 300 }, () => cap.take(user)));
      const { rows } = await sql<{ leases: string; slots: string }>`
        SELECT count(*) AS leases, count(DISTINCT slot) AS slots FROM watch_stream_leases WHERE user_uid = ${user}`.execute(
        first.ctx.db,
      );
      expect(rows[0]).toEqual({ leases: "300", slots: "300" });
      await Promise.all(releases.map((release) => release()));
    } finally {
      await cap.close();
    }
  });

  it("never lets concurrent takes past the cap, across two processes' caps", async () => {
    const caps = [
      new WatchStreamCap(first.ctx.db, 40, 30_000, silent),
      new WatchStreamCap(second.ctx.db, 40, 30_000, silent),
    ];
    const user = userUid();
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 120 }, (_, i) => (caps[i % 2] as WatchStreamCap).take(user)),
      );
      const taken = outcomes.filter((outcome) => outcome.status === "fulfilled").length;
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") expect(String(outcome.reason)).toMatch(/close one first/);
      }
      const { rows } = await sql<{ leases: string }>`
        SELECT count(*) AS leases FROM watch_stream_leases WHERE user_uid = ${user}`.execute(first.ctx.db);
      expect(Number(rows[0]?.leases)).toBe(taken);
      expect(taken).toBeLessThanOrEqual(40);
      expect(taken).toBeGreaterThan(0);
    } finally {
      await Promise.all(caps.map((cap) => cap.close()));
    }
  });
});
