import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { uniqueProjectKey } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** GET /metrics, without a token. */
async function scrape(): Promise<{ contentType: string | null; body: string }> {
  const response = await fetch(`${server.baseUrl}/metrics`);
  expect(response.status).toBe(200);
  return { contentType: response.headers.get("content-type"), body: await response.text() };
}

/** The value of the sample `series` (name and labels, as prom-client prints them), if present. */
function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Scrapes until `check` holds (gauges settle just after the stream's last byte). */
async function eventually(check: (body: string) => boolean, timeoutMs = 5_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await scrape();
    if (check(body) || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const CREATE = "/tracker.v1.ProjectService/CreateProject";
const GET = "/tracker.v1.ProjectService/GetProject";
const WATCH = "/tracker.v1.IssueService/WatchIssues";

describe("GET /metrics", () => {
  it("serves the Prometheus text format without a token", async () => {
    const { contentType, body } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toContain("# TYPE rpc_server_duration_seconds histogram");
    expect(body).toContain("# TYPE rpc_server_requests_total counter");
    expect(body).toContain("# TYPE rpc_server_in_flight_requests gauge");
    expect(body).toContain("# TYPE rpc_server_active_streams gauge");
  });

  it("counts RPCs by procedure, code and protocol, and times them", async () => {
    const connect = transportFor("Connect JSON over HTTP/1.1", server.baseUrl);
    const grpc = transportFor("gRPC over HTTP/2", server.baseUrl);
    const key = uniqueProjectKey("M");
    const project = await createClient(ProjectService, connect).createProject({
      projectId: key,
      project: { displayName: key },
    });
    const missing = await createClient(ProjectService, grpc)
      .getProject({ name: "projects/NOSUCH" })
      .catch((error: unknown) => ConnectError.from(error));
    expect(missing).toBeInstanceOf(ConnectError);
    expect((missing as ConnectError).code).toBe(Code.NotFound);

    const { body } = await scrape();
    expect(
      sample(body, `rpc_server_requests_total{procedure="${CREATE}",code="ok",protocol="connect"}`),
    ).toBe(1);
    expect(
      sample(body, `rpc_server_requests_total{procedure="${GET}",code="not_found",protocol="grpc"}`),
    ).toBe(1);
    const notFound = `procedure="${GET}",code="not_found",protocol="grpc"`;
    expect(sample(body, `rpc_server_duration_seconds_count{${notFound}}`)).toBe(1);
    expect(sample(body, `rpc_server_duration_seconds_bucket{le="10",${notFound}}`)).toBe(1);
    expect(sample(body, `rpc_server_duration_seconds_bucket{le="+Inf",${notFound}}`)).toBe(1);
    expect(sample(body, `rpc_server_duration_seconds_sum{${notFound}}`)).toBeGreaterThan(0);
    expect(sample(body, `rpc_server_in_flight_requests{procedure="${CREATE}"}`)).toBe(0);
    expect(sample(body, `rpc_server_in_flight_requests{procedure="${GET}"}`)).toBe(0);
    expect(project.name).toMatch(/^projects\//);
  });

  it("counts a WatchIssues stream as active while it is open, and as ended after", async () => {
    const connect = transportFor("Connect binary over HTTP/2", server.baseUrl);
    const key = uniqueProjectKey("W");
    const project = await createClient(ProjectService, connect).createProject({
      projectId: key,
      project: { displayName: key },
    });
    const abort = new AbortController();
    const stream = createClient(IssueService, connect).watchIssues(
      { parent: project.name },
      { signal: abort.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // The first message says the stream is open.
    const open = await eventually(
      (body) => sample(body, `rpc_server_active_streams{procedure="${WATCH}"}`) === 1,
    );
    expect(sample(open, `rpc_server_active_streams{procedure="${WATCH}"}`)).toBe(1);
    expect(sample(open, `rpc_server_in_flight_requests{procedure="${WATCH}"}`)).toBe(1);

    abort.abort();
    await iterator.next().catch(() => undefined);
    const closed = await eventually(
      (body) => sample(body, `rpc_server_active_streams{procedure="${WATCH}"}`) === 0,
    );
    expect(sample(closed, `rpc_server_active_streams{procedure="${WATCH}"}`)).toBe(0);
    expect(sample(closed, `rpc_server_in_flight_requests{procedure="${WATCH}"}`)).toBe(0);
    const ended = closed
      .split("\n")
      .filter((line) => line.startsWith(`rpc_server_requests_total{procedure="${WATCH}",`));
    expect(ended).toEqual([
      `rpc_server_requests_total{procedure="${WATCH}",code="canceled",protocol="connect"} 1`,
    ]);
  });

  it("reports the database pool and the process", async () => {
    const { body } = await scrape();
    for (const state of ["total", "idle", "waiting"]) {
      expect(sample(body, `db_pool_connections{state="${state}"}`)).toBeGreaterThanOrEqual(0);
    }
    expect(sample(body, 'db_pool_connections{state="total"}')).toBeGreaterThan(0);
    expect(sample(body, "db_pool_max")).toBe(10);
    expect(body).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });
});
