import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../gen/proto/grpc/health/v1/health_pb.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { applyMigrations } from "../src/db/atlas.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../src/db/embedded-postgres.js";
import { createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor, transportFor } from "./support/transports.js";

/** A pino logger whose lines the test can read. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

describe("request ids, logs and operator endpoints", () => {
  let server: TestServer;
  const { logger, lines } = capturedLogger();
  beforeAll(async () => {
    server = await startTestServer({ logger });
  });
  afterAll(() => server.close());

  it("honours a sane x-request-id, makes one up otherwise, and returns it", async () => {
    const call = (id?: string) =>
      fetch(`${server.baseUrl}/grpc.health.v1.Health/Check`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(id === undefined ? {} : { "x-request-id": id }) },
        body: "{}",
      });
    expect((await call("trace-me-42")).headers.get("x-request-id")).toBe("trace-me-42");
    expect((await call()).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call("no spaces allowed")).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("logs one line per RPC with request id, procedure, protocol, code, duration and principal, and no token", async () => {
    const token = await tokenFor("logged-user");
    const response = await fetch(`${server.baseUrl}/tracker.v1.ProjectService/GetProject`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${token}`,
        "x-request-id": "log-line-1",
      },
      body: JSON.stringify({ name: "projects/NOPE" }),
    });
    expect(response.status).toBe(404);
    const line = lines.find((entry) => entry.requestId === "log-line-1");
    expect(line).toMatchObject({
      msg: "rpc",
      procedure: "/tracker.v1.ProjectService/GetProject",
      protocol: "connect",
      code: "not_found",
      principal: "logged-user",
    });
    expect(typeof line?.durationMs).toBe("number");
    expect(JSON.stringify(lines)).not.toContain(token);
  });

  it("answers /healthz and /readyz, and /readyz agrees with grpc.health.v1", async () => {
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
    const health = createClient(Health, transportFor("gRPC over HTTP/2", server.baseUrl, ""));
    const { isReachable } = server.database;
    server.database.isReachable = async () => false;
    try {
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(503);
      expect((await health.check({})).status).toBe(Status.NOT_SERVING);
      expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    } finally {
      server.database.isReachable = isReachable;
    }
  });

  it("turns a bug in a handler into INTERNAL with the request id, logs its stack, and keeps serving", async () => {
    const parent = await createProject(server);
    const issues = createClient(IssueService, transportFor("Connect JSON over HTTP/1.1", server.baseUrl));
    const version = server.ctx.issueEvents.version.bind(server.ctx.issueEvents);
    server.ctx.issueEvents.version = () => {
      throw new TypeError("a bug for the test");
    };
    try {
      const error = await (async () => {
        for await (const _ of issues.watchIssues({ parent }, { headers: { "x-request-id": "bug-1" } })) break;
      })().then(
        () => expect.fail("the stream should fail"),
        (thrown: unknown) => ConnectError.from(thrown),
      );
      expect(error.code).toBe(Code.Internal);
      expect(error.rawMessage).toContain("bug-1");
      expect(error.rawMessage).not.toContain("a bug for the test");
      expect(error.findDetails(ErrorInfoSchema)[0]?.metadata.request_id).toBe("bug-1");
    } finally {
      server.ctx.issueEvents.version = version;
    }
    const logged = lines.find((entry) => entry.msg === "handler failed" && entry.requestId === "bug-1");
    expect(String((logged?.err as { stack?: string } | undefined)?.stack)).toContain("a bug for the test");
    expect((await issues.listIssues({ parent })).issues).toEqual([]);
  });
});

describe("the database going away and coming back", () => {
  let postgres: EmbeddedDatabase;
  let server: TestServer;
  let dataDir: string;
  let port: number;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "tracker-outage-"));
    chmodSync(dataDir, 0o755);
    postgres = await startEmbeddedPostgres(join(dataDir, "pg"));
    port = Number(new URL(postgres.adminUrl).port);
    await postgres.createDatabase("tracker");
    await applyMigrations(postgres.urlFor("tracker"));
    server = await startTestServer({ databaseUrl: postgres.urlFor("tracker") });
  });
  afterAll(async () => {
    await server.close();
    await postgres.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("fails fast with UNAVAILABLE and not-ready while it is down, and recovers without a restart", async () => {
    const projects = createClient(ProjectService, transportFor("Connect binary over HTTP/2", server.baseUrl));
    const created = await projects.createProject({ projectId: "OUTAGE", project: { displayName: "before" } });

    await postgres.stop();
    const started = Date.now();
    const error = await projects.getProject({ name: created.name }).then(
      () => expect.fail("the database is down"),
      (thrown: unknown) => ConnectError.from(thrown),
    );
    expect(error.code).toBe(Code.Unavailable);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("DATABASE_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(503);

    postgres = await startEmbeddedPostgres(join(dataDir, "pg"), { port });
    let recovered = false;
    for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
      recovered = await projects.getProject({ name: created.name }).then(
        () => true,
        () => new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200)),
      );
    }
    expect(recovered).toBe(true);
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
  }, 60_000);
});
