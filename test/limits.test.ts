import http from "node:http";
import net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { expectError } from "./support/errors.js";
import { addMember, clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { actingAs, PROTOCOLS, type Protocol, tokenFor, transportFor } from "./support/transports.js";

/** Rate limited: 5 requests a second, plus a burst of 5 more (a bucket of 10, refilled at 5 a second). */
let limited: TestServer;
/** At most 2 watch streams per user, deadlines of at most 2 s. */
let server: TestServer;
beforeAll(async () => {
  [limited, server] = await Promise.all([
    startTestServer({ limits: { ratePerSecond: 5, burst: 5 } }),
    startTestServer({ limits: { maxWatchStreamsPerUser: 2, maxDeadlineMs: 2_000 } }),
  ]);
});
afterAll(() => Promise.all([limited?.close(), server?.close()]));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let sequence = 0;
const newSubject = () => `limits-${process.pid}-${sequence++}`;

const usersAs = (target: TestServer, subject: string, protocol: Protocol = "Connect binary over HTTP/2") =>
  createClient(UserService, transportFor(protocol, target.baseUrl, subject));

/** Fires `count` GetCurrentUser calls at once; returns how many worked and the errors of the rest. */
async function burstOf(target: TestServer, subject: string, count: number, protocol?: Protocol) {
  const users = usersAs(target, subject, protocol);
  const results = await Promise.allSettled(Array.from({ length: count }, () => users.getCurrentUser({})));
  const errors = results.flatMap((result) =>
    result.status === "rejected" ? [ConnectError.from(result.reason)] : [],
  );
  return { ok: count - errors.length, errors };
}

/** The retry delay of a RATE_LIMITED error, in ms; checks the error's shape on the way. */
function retryDelayOf(error: ConnectError): number {
  expect(error.code, error.message).toBe(Code.ResourceExhausted);
  const [info] = error.findDetails(ErrorInfoSchema);
  expect(info?.domain).toBe("tracker");
  expect(info?.reason).toBe("RATE_LIMITED");
  const [retry] = error.findDetails(RetryInfoSchema);
  const delay = retry?.retryDelay;
  if (!delay) throw new Error("the error has no google.rpc.RetryInfo detail");
  const ms = Number(delay.seconds) * 1000 + delay.nanos / 1e6;
  expect(ms).toBeGreaterThan(0);
  expect(ms).toBeLessThanOrEqual(1_000); // the rate window is 1 s
  expect(error.metadata.get("retry-after")).toBe("1");
  return ms;
}

// The limiter is a token bucket of 10 (rate + burst), refilled at 5 a
// second. A quick volley thus gets the 10 through, and as many more as
// refill while it lasts (up to 5 in a second); never all of them.

describe.each(PROTOCOLS)("rate limiting over %s", (protocol) => {
  it("answers RESOURCE_EXHAUSTED / RATE_LIMITED with RetryInfo beyond rate + burst", async () => {
    const { ok, errors } = await burstOf(limited, newSubject(), 20, protocol);
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(15);
    expect(errors).toHaveLength(20 - ok);
    for (const error of errors) retryDelayOf(error);
  });
});

describe("rate limiting", () => {
  it("limits one user, not another, and lets the first call again after the window", async () => {
    const subject = newSubject();
    const { ok, errors } = await burstOf(limited, subject, 30);
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(15);
    expect(errors).toHaveLength(30 - ok);
    for (const error of errors) retryDelayOf(error);

    // Connect over HTTP: 429 with Retry-After, as a plain HTTP client sees it.
    // The bucket is empty and refills at 5 a second: a few more pass at most before a refusal.
    const token = await tokenFor(subject);
    let refused: Response | undefined;
    for (let attempt = 0; attempt < 7 && !refused; attempt++) {
      const response = await fetch(`${limited.baseUrl}/tracker.v1.UserService/GetCurrentUser`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
      });
      if (response.status === 429) refused = response;
      else expect(((await response.json()) as { name: string }).name).toMatch(/^users\//);
    }
    if (!refused) throw new Error("7 more calls were not refused");
    expect(refused.headers.get("retry-after")).toBe("1");
    const body = (await refused.json()) as { code: string; details: Array<{ type: string }> };
    expect(body.code).toBe("resource_exhausted");
    expect(body.details.map((detail) => detail.type).sort()).toEqual([
      "google.rpc.ErrorInfo",
      "google.rpc.RetryInfo",
    ]);

    // Someone else is not affected meanwhile.
    const other = await burstOf(limited, newSubject(), 5);
    expect(other.ok).toBe(5);

    // After the advertised delay, the bucket has refilled: served again.
    await sleep(Number(refused.headers.get("retry-after")) * 1000 + 50);
    const again = await burstOf(limited, subject, 3);
    expect(again.ok).toBe(3);
  });
});

/** Opens a WatchIssues stream and waits for its first message; throws if it is refused. */
async function openWatch(target: TestServer, user: string, parent: string, protocol?: Protocol) {
  const abort = new AbortController();
  const iterator = clientsFor(target, user, protocol)
    .issues.watchIssues({ parent }, { signal: abort.signal })
    [Symbol.asyncIterator]();
  const first = await iterator.next();
  expect(first.done).toBe(false);
  const rest = (async () => {
    try {
      while (!(await iterator.next()).done);
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  return {
    async close() {
      abort.abort();
      await rest;
    },
  };
}

type Watch = Awaited<ReturnType<typeof openWatch>>;

describe.each(PROTOCOLS)("the watch stream cap over %s", (protocol) => {
  it("refuses a 3rd stream with TOO_MANY_STREAMS and frees the slot when a stream closes", async () => {
    const project = await createProject(server);
    const [watcher, other] = [newSubject(), newSubject()];
    await addMember(server, project, watcher, "reader");
    await addMember(server, project, other, "reader");
    const open: Watch[] = [];
    try {
      open.push(await openWatch(server, watcher, project, protocol));
      open.push(await openWatch(server, watcher, project, protocol));
      const refused = await expectError(
        openWatch(server, watcher, project, protocol),
        Code.ResourceExhausted,
        "TOO_MANY_STREAMS",
      );
      expect(refused.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ limit: "2" });

      // Another user has slots of their own.
      open.push(await openWatch(server, other, project, protocol));

      // Closing one frees it, once the server notices the client left.
      await open.shift()?.close();
      const deadline = Date.now() + 5_000;
      for (;;) {
        try {
          open.push(await openWatch(server, watcher, project, protocol));
          break;
        } catch (error) {
          const reason = ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.reason;
          if (reason !== "TOO_MANY_STREAMS" || Date.now() > deadline) throw error;
          await sleep(25);
        }
      }
      // ...and only that one.
      await expectError(
        openWatch(server, watcher, project, protocol),
        Code.ResourceExhausted,
        "TOO_MANY_STREAMS",
      );
    } finally {
      await Promise.all(open.map((watch) => watch.close()));
    }
  });
});

describe("rate-limit headers", () => {
  it("come with every answer, counting down to the refusal, which says 0", async () => {
    const subject = newSubject();
    const token = await tokenFor(subject);
    const call = () =>
      fetch(`${limited.baseUrl}/tracker.v1.UserService/GetCurrentUser`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
      });
    const answers = [];
    for (let i = 0; i < 14; i++) {
      const response = await call();
      await response.arrayBuffer();
      answers.push({
        status: response.status,
        limit: response.headers.get("x-ratelimit-limit"),
        remaining: Number(response.headers.get("x-ratelimit-remaining")),
        reset: Number(response.headers.get("x-ratelimit-reset")),
        policy: response.headers.get("ratelimit-policy"),
        ratelimit: response.headers.get("ratelimit"),
      });
    }
    for (const answer of answers) {
      expect(answer.limit).toBe("10");
      expect(answer.policy).toBe('"user";q=10;w=2');
      expect(answer.ratelimit).toMatch(/^"user";r=\d+;t=\d+$/);
      expect(answer.reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 5);
    }
    const served = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 429);
    expect(served.length).toBeGreaterThanOrEqual(10);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) expect(answer.remaining).toBe(0);
    expect(served[0]?.remaining ?? 0).toBeGreaterThan(served.at(-1)?.remaining ?? 0);
  });
});

describe.each(PROTOCOLS)("deadlines over %s", (protocol) => {
  it("refuses a deadline above the server's maximum with INVALID_ARGUMENT, allows one below", async () => {
    const users = usersAs(server, newSubject(), protocol);
    const error = await users.getCurrentUser({}, { timeoutMs: 10_000 }).then(
      () => expect.fail("a 10 s deadline must be refused"),
      (thrown: unknown) => ConnectError.from(thrown),
    );
    expect(error.code, error.message).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("timeout 10000ms must be <= 2000");
    expect((await users.getCurrentUser({}, { timeoutMs: 1_500 })).name).toMatch(/^users\//);
  });

  it("ends a WatchIssues stream at its deadline with DEADLINE_EXCEEDED", async () => {
    // A user of its own: the cap of 2 streams is not shared with other tests.
    const subject = newSubject();
    const project = await createProject(server, subject);
    const started = Date.now();
    const error = await (async () => {
      for await (const _ of clientsFor(server, subject, protocol).issues.watchIssues(
        { parent: project },
        { timeoutMs: 500 },
      ));
    })().then(
      () => expect.fail("the stream must end with an error"),
      (thrown: unknown) => ConnectError.from(thrown),
    );
    expect(error.code, error.message).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("deadlines", () => {
  it("answer a unary call at its deadline while its statement still waits on a lock", async () => {
    const subject = newSubject();
    const project = await createProject(server, subject);
    const { issues } = clientsFor(server, subject);
    const { name } = await issues.createIssue({ parent: project, issue: { title: "locked" } });
    const locker = new pg.Client({ connectionString: server.databaseUrl });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE issues IN ACCESS EXCLUSIVE MODE");
      const started = Date.now();
      const error = await issues.getIssue({ name }, { timeoutMs: 1_000 }).then(
        () => expect.fail("the issue is locked: the call cannot be answered"),
        (thrown: unknown) => ConnectError.from(thrown),
      );
      expect(error.code, error.message).toBe(Code.DeadlineExceeded);
      // At the deadline, not when STATEMENT_TIMEOUT_MS (15 s) ends the statement.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }
    expect((await issues.getIssue({ name })).title).toBe("locked");
  });

  it("are enforced by the server itself, not only by the client", async () => {
    // A raw Connect streaming call whose client never gives up: the server
    // must end it at the deadline with an end-stream error.
    const subject = newSubject();
    const project = await createProject(server, subject);
    const request = Buffer.from(JSON.stringify({ parent: project }));
    const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), request]);
    envelope.writeUInt32BE(request.length, 1);
    const started = Date.now();
    const response = await fetch(`${server.baseUrl}/tracker.v1.IssueService/WatchIssues`, {
      method: "POST",
      headers: {
        "content-type": "application/connect+json",
        "connect-protocol-version": "1",
        "connect-timeout-ms": "500",
        authorization: `Bearer ${await tokenFor(subject)}`,
      },
      body: envelope,
      signal: AbortSignal.timeout(5_000),
    });
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    const frames: Array<{ flags: number; json: unknown }> = [];
    for (let at = 0; at < bytes.length; ) {
      const length = bytes.readUInt32BE(at + 1);
      frames.push({
        flags: bytes[at] ?? -1,
        json: JSON.parse(bytes.subarray(at + 5, at + 5 + length).toString()),
      });
      at += 5 + length;
    }
    const end = frames[frames.length - 1];
    expect(end?.flags).toBe(0b10);
    expect(end?.json).toMatchObject({ error: { code: "deadline_exceeded" } });
  });
});

/**
 * Clients of `protocol` for `user` whose HTTP/1.1 connections are never
 * reused: a connection that carried a too-large request is not shared with
 * the rest of the file (see the test below).
 */
function unpooledClientsFor(target: TestServer, user: string, protocol: Protocol) {
  const baseUrl = target.baseUrl;
  const interceptors = [actingAs(user)];
  const nodeOptions = { agent: new http.Agent({ keepAlive: false }) };
  const transport =
    protocol === "Connect JSON over HTTP/1.1"
      ? createConnectTransport({
          baseUrl,
          httpVersion: "1.1",
          useBinaryFormat: false,
          interceptors,
          nodeOptions,
        })
      : protocol === "gRPC-Web over HTTP/1.1"
        ? createGrpcWebTransport({
            baseUrl,
            httpVersion: "1.1",
            useBinaryFormat: true,
            interceptors,
            nodeOptions,
          })
        : transportFor(protocol, baseUrl, user);
  return { projects: createClient(ProjectService, transport), users: createClient(UserService, transport) };
}

const FIVE_MIB = 5 * 1024 * 1024;

describe.each(PROTOCOLS)("message size over %s", (protocol) => {
  it("refuses a 5 MiB request with RESOURCE_EXHAUSTED and keeps serving", async () => {
    const subject = newSubject();
    const { projects, users } = unpooledClientsFor(server, subject, protocol);
    const error = await projects
      .createProject({ projectId: "BIG", project: { displayName: "x".repeat(FIVE_MIB) } })
      .then(
        () => expect.fail("a 5 MiB request must be refused"),
        (thrown: unknown) => ConnectError.from(thrown),
      );
    expect(error.code, error.message).toBe(Code.ResourceExhausted);
    expect(error.rawMessage).toMatch(/^message size (\d+ )?is larger than configured readMaxBytes 4194304$/);
    // The same client goes on; the project was not created.
    expect((await users.getCurrentUser({})).name).toMatch(/^users\//);
    await expectError(projects.getProject({ name: "projects/BIG" }), Code.NotFound, "RESOURCE_NOT_FOUND");
  });
});

describe("message size over HTTP/1.1", () => {
  it("does not leave a keep-alive connection hanging after a too-large request", async () => {
    // What a keep-alive client does after a refused upload: the next request
    // on the same connection. The server must answer it or close the
    // connection, not leave it open and silent.
    const token = await tokenFor(newSubject());
    const socket = net.connect(server.port, "127.0.0.1");
    const head = (path: string, framing: string) =>
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\n${framing}\r\n`;
    const big = JSON.stringify({ projectId: "BIG", project: { displayName: "x".repeat(FIVE_MIB) } });
    // Chunked, as connect-node's HTTP/1.1 client sends it (no Content-Length).
    socket.write(head("/tracker.v1.ProjectService/CreateProject", "Transfer-Encoding: chunked\r\n"));
    socket.write(`${Buffer.byteLength(big).toString(16)}\r\n${big}\r\n0\r\n\r\n`);
    socket.write(`${head("/tracker.v1.UserService/GetCurrentUser", "Content-Length: 2\r\n")}{}`);
    let received = "";
    const statuses = () => [...received.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((match) => match[1]);
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve("open and silent"), 3_000);
      socket.on("data", (chunk) => {
        received += chunk.toString();
        if (statuses().length === 2) {
          clearTimeout(timer);
          resolve("answered");
        }
      });
      socket.on("error", () => {});
      socket.on("close", () => {
        clearTimeout(timer);
        resolve("closed");
      });
    });
    socket.destroy();
    expect(statuses()[0]).toBe("429");
    expect(outcome, "the next request got no answer, yet the connection stayed open").toMatch(
      /^(answered|closed)$/,
    );
    if (outcome === "answered") expect(statuses()[1]).toBe("200");
  });
});
