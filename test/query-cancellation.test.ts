import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abandonedError } from "../src/db/cancellation.js";
import { clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import type { Protocol } from "./support/transports.js";

// A caller that gives up (cancels, or reaches its deadline) while its
// statement waits on a lock must not keep that statement, or its pool
// connection, until STATEMENT_TIMEOUT_MS (a minute here): the pool would
// stay full for callers still waiting. db/cancellation.ts says how.

const POOL = 10;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    settings: { STATEMENT_TIMEOUT_MS: "60000", DATABASE_POOL_MAX: String(POOL) },
  });
});
afterAll(() => server?.close());

let sequence = 0;
const newSubject = () => `cancel-${process.pid}-${sequence++}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The server's statements now waiting on a lock (not `locker`'s). */
async function lockWaiters(locker: pg.Client): Promise<number> {
  const { rows } = await locker.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`,
  );
  return rows[0]?.count ?? 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

/** Runs `body` while a transaction of another client holds the issues table. */
async function whileIssuesLocked(body: (locker: pg.Client) => Promise<void>) {
  const locker = new pg.Client({ connectionString: server.databaseUrl });
  await locker.connect();
  try {
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE issues IN ACCESS EXCLUSIVE MODE");
    await body(locker);
  } finally {
    await locker.query("ROLLBACK");
    await locker.end();
  }
}

const codeOf = (thrown: unknown) => ConnectError.from(thrown).code;

describe("a call whose caller gives up", () => {
  for (const protocol of ["Connect JSON over HTTP/1.1", "gRPC over HTTP/2"] satisfies Protocol[]) {
    it(`stops its statement and frees its connection when the client cancels (${protocol})`, async () => {
      const subject = newSubject();
      const project = await createProject(server, subject);
      const { issues } = clientsFor(server, subject, protocol);
      const { name } = await issues.createIssue({ parent: project, issue: { title: "locked" } });
      await whileIssuesLocked(async (locker) => {
        // More calls than connections: the last ones queue for the pool.
        const clients = Array.from({ length: POOL + 4 }, () => new AbortController());
        const calls = clients.map((client) =>
          issues.getIssue({ name }, { signal: client.signal }).then(() => "answered" as const, codeOf),
        );
        // (Over HTTP/1.1 the client sends fewer at once: it opens few connections.)
        await until("the calls wait on the lock", async () => (await lockWaiters(locker)) >= 2);
        await sleep(300);
        for (const client of clients) client.abort();
        expect(new Set(await Promise.all(calls))).toEqual(new Set([Code.Canceled]));
        await until("no statement of theirs waits any longer", async () => (await lockWaiters(locker)) === 0);
        // The queued calls got connections as the first ones left, and sent nothing that waits.
        await sleep(500);
        expect(await lockWaiters(locker)).toBe(0);
      });
      expect((await issues.getIssue({ name })).title).toBe("locked");
    });
  }

  it("stops its statements at the deadline, and the pool serves the next callers", async () => {
    const subject = newSubject();
    const project = await createProject(server, subject);
    const { issues, projects } = clientsFor(server, subject);
    const { name } = await issues.createIssue({ parent: project, issue: { title: "locked" } });
    await whileIssuesLocked(async (locker) => {
      const codes = await Promise.all(
        Array.from({ length: POOL * 2 }, () =>
          issues.getIssue({ name }, { timeoutMs: 1_000 }).then(() => "answered" as const, codeOf),
        ),
      );
      expect(new Set(codes)).toEqual(new Set([Code.DeadlineExceeded]));
      await until("no statement of theirs waits any longer", async () => (await lockWaiters(locker)) === 0);
      // A call that needs no lock on issues is served while the lock is still held.
      expect((await projects.getProject({ name: project }, { timeoutMs: 5_000 })).name).toBe(project);
    });
  });

  it("writes nothing when it is cancelled while its update waits", async () => {
    const subject = newSubject();
    const project = await createProject(server, subject);
    const { issues } = clientsFor(server, subject);
    const { name } = await issues.createIssue({ parent: project, issue: { title: "before" } });
    await whileIssuesLocked(async (locker) => {
      const client = new AbortController();
      const update = issues
        .updateIssue(
          { issue: { name, title: "after" }, updateMask: { paths: ["title"] } },
          { signal: client.signal },
        )
        .then(() => "answered" as const, codeOf);
      await until("the update waits on the lock", async () => (await lockWaiters(locker)) === 1);
      client.abort();
      expect(await update).toBe(Code.Canceled);
      await until("the update no longer waits", async () => (await lockWaiters(locker)) === 0);
    });
    // Had the update only been left waiting, it would have committed as the lock went.
    await sleep(300);
    const issue = await issues.getIssue({ name });
    expect(issue.title).toBe("before");
    expect(issue.updateTime).toEqual(issue.createTime);
  });
});

describe("calls abandoned among others", () => {
  it("cancel only their own statements: the calls beside them all succeed", async () => {
    const subject = newSubject();
    const project = await createProject(server, subject);
    const { issues } = clientsFor(server, subject);
    // The callers who leave have a connection of their own: a server ends an
    // HTTP/2 connection that resets streams this fast (the rapid-reset defence).
    const leaving = clientsFor(server, subject, "Connect JSON over HTTP/1.1").issues;
    const created = await Promise.all(
      Array.from({ length: 5 }, (_, n) =>
        issues.createIssue({ parent: project, issue: { title: `beside ${n}` } }),
      ),
    );
    const names = created.map((issue) => issue.name);
    let stop = false;
    const failures: string[] = [];
    let served = 0;
    // Callers who stay: reads and writes, one after another, on the same pool.
    const stayer = async (n: number) => {
      while (!stop) {
        const name = names[n % names.length] as string;
        try {
          const issue = await issues.getIssue({ name });
          await issues.updateIssue({
            issue: { name, body: `seen ${served}` },
            updateMask: { paths: ["body"] },
          });
          expect((await issues.listIssues({ parent: project, pageSize: 5 })).issues.length).toBeGreaterThan(
            0,
          );
          expect(issue.name).toBe(name);
          served++;
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    // Callers who leave at once, or a moment later, with their statements at every stage.
    const leaver = async (n: number) => {
      let left = 0;
      while (!stop) {
        const client = new AbortController();
        const call = leaving
          .updateIssue(
            {
              issue: { name: names[n % names.length], title: `left ${left}` },
              updateMask: { paths: ["title"] },
            },
            { signal: client.signal },
          )
          .catch(() => {});
        setTimeout(() => client.abort(), left % 7);
        await call;
        left++;
      }
    };
    const running = [
      ...Array.from({ length: 4 }, (_, n) => stayer(n)),
      ...Array.from({ length: 6 }, (_, n) => leaver(n)),
    ];
    await sleep(4_000);
    stop = true;
    await Promise.all(running);
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(20);
    // Every connection came back, and the pool is whole.
    await until(
      "the pool's connections are idle",
      async () => server.database.pool.idleCount === server.database.pool.totalCount,
    );
  });
});

describe("what an abandoned call's statement fails with", () => {
  const failureOf = (reason: unknown) => {
    const leaving = new AbortController();
    leaving.abort(reason);
    return abandonedError({ signal: leaving.signal, shutdown: new AbortController().signal, settled: false });
  };

  it("is CANCELED however the client left, even by an HTTP/2 reset with INTERNAL_ERROR", () => {
    expect(failureOf(new ConnectError("stream reset", Code.Internal)).code).toBe(Code.Canceled);
    expect(failureOf(new ConnectError("session closed", Code.Unavailable)).code).toBe(Code.Canceled);
    expect(failureOf(undefined).code).toBe(Code.Canceled);
  });

  it("is DEADLINE_EXCEEDED at the deadline", () => {
    expect(failureOf(new ConnectError("the operation timed out", Code.DeadlineExceeded)).code).toBe(
      Code.DeadlineExceeded,
    );
  });
});
