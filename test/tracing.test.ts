import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type HrTime, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createNodeTransport } from "../client/node.js";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/proto/grpc/health/v1/health_pb.js";
import { Issue_State, IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { createTracing } from "../src/observability/tracing.js";
import { violatedFields } from "./support/errors.js";
import { createProject, uniqueProjectKey, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { actingAs, PROTOCOLS, type Protocol } from "./support/transports.js";

const exporter = new InMemorySpanExporter();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ tracing: createTracing({ serviceName: "t", exporter }) });
});
afterAll(async () => {
  await server.close();
  await server.ctx.tracing.shutdown();
});

/** A caller's span, as a W3C traceparent would name it. */
function callerSpan() {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

const sending =
  (headers: Record<string, string>): Interceptor =>
  (next) =>
  (req) => {
    for (const [key, value] of Object.entries(headers)) req.header.set(key, value);
    return next(req);
  };

/** A transport as alice over `protocol` that sends these headers with every call. */
function transport(protocol: Protocol, headers: Record<string, string> = {}): Transport {
  const baseUrl = server.baseUrl;
  const interceptors = [actingAs("alice"), sending(headers)];
  return createNodeTransport(protocol, baseUrl, interceptors);
}

const spansOf = (traceId: string) =>
  exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);

function serverSpanOf(traceId: string): ReadableSpan {
  const servers = spansOf(traceId).filter((span) => span.kind === SpanKind.SERVER);
  expect(servers).toHaveLength(1);
  return servers[0] as ReadableSpan;
}

const nanos = (time: HrTime) => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
const CLOCK_SLACK = 2_000_000n;

const rpcSystemOf = (protocol: Protocol) => (protocol.startsWith("Connect") ? "connect_rpc" : "grpc");

describe.each(PROTOCOLS)("tracing over %s", (protocol) => {
  it("makes a server span, child of the caller's, with the database queries as its children", async () => {
    const caller = callerSpan();
    const key = uniqueProjectKey();
    let responseHeader: Headers | undefined;
    await createClient(
      ProjectService,
      transport(protocol, { traceparent: caller.traceparent }),
    ).createProject(
      { projectId: key, project: { displayName: `Traced ${key}` } },
      { onHeader: (header) => (responseHeader = header) },
    );

    const span = serverSpanOf(caller.traceId);
    expect(span.name).toBe("tracker.v1.ProjectService/CreateProject");
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(span.parentSpanContext?.isRemote).toBe(true);
    expect(span.status.code).toBe(SpanStatusCode.OK);
    expect(span.attributes).toMatchObject({
      "rpc.system": rpcSystemOf(protocol),
      "rpc.service": "tracker.v1.ProjectService",
      "rpc.method": "CreateProject",
      "server.address": "127.0.0.1",
      "server.port": server.port,
    });
    if (rpcSystemOf(protocol) === "grpc") expect(span.attributes["rpc.grpc.status_code"]).toBe(0);
    expect(span.resource.attributes["service.name"]).toBe("t");

    const queries = spansOf(caller.traceId).filter((s) => s.kind === SpanKind.CLIENT);
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) {
      expect(query.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
      expect(query.attributes["db.system"]).toBe("postgresql");
      expect(query.attributes["db.system.name"]).toBe("postgresql");
      expect(query.attributes["db.query.text"]).toEqual(expect.any(String));
      // The SQL only: parameter values (the project's key and name) stay out.
      expect(JSON.stringify(query.attributes)).not.toContain(key);
      // Within the RPC (span clocks are anchored to Date.now(), so to a millisecond or so).
      expect(nanos(query.startTime)).toBeGreaterThanOrEqual(nanos(span.startTime) - CLOCK_SLACK);
      expect(nanos(query.endTime)).toBeLessThanOrEqual(nanos(span.endTime) + CLOCK_SLACK);
    }
    expect(queries.some((q) => /insert into "projects"/i.test(String(q.attributes["db.query.text"])))).toBe(
      true,
    );

    expect(responseHeader?.get("traceparent")).toBe(`00-${caller.traceId}-${span.spanContext().spanId}-01`);
  });

  it("marks a failed call's span as an error, with its code", async () => {
    const caller = callerSpan();
    const error = await createClient(ProjectService, transport(protocol, { traceparent: caller.traceparent }))
      .getProject({ name: "projects/NOSUCH" })
      .then(
        () => undefined,
        (reason: unknown) => ConnectError.from(reason),
      );
    expect(error?.code).toBe(Code.NotFound);

    const span = serverSpanOf(caller.traceId);
    expect(span.name).toBe("tracker.v1.ProjectService/GetProject");
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes["error.type"]).toBe("not_found");
    if (rpcSystemOf(protocol) === "grpc") {
      expect(span.attributes["rpc.grpc.status_code"]).toBe(Code.NotFound);
    } else {
      expect(span.attributes["rpc.connect_rpc.error_code"]).toBe("not_found");
    }
    // The error's metadata (headers, or gRPC trailers) names the server span too.
    expect(error?.metadata.get("traceparent")).toBe(`00-${caller.traceId}-${span.spanContext().spanId}-01`);
  });
});

describe("tracing", () => {
  it("keeps concurrent calls' queries in their own traces", async () => {
    const callers = Array.from({ length: 8 }, callerSpan);
    await Promise.all(
      callers.map((caller) =>
        createClient(
          ProjectService,
          transport("Connect binary over HTTP/2", { traceparent: caller.traceparent }),
        ).createProject({ projectId: uniqueProjectKey(), project: { displayName: "Concurrent" } }),
      ),
    );
    for (const caller of callers) {
      const span = serverSpanOf(caller.traceId);
      const queries = spansOf(caller.traceId).filter((s) => s.kind === SpanKind.CLIENT);
      expect(
        queries.filter((q) => /insert into "projects"/.test(String(q.attributes["db.query.text"]))),
      ).toHaveLength(1);
      for (const query of queries) expect(query.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
    }
  });

  it("traces pg's callback-style queries too (the health check's)", async () => {
    const caller = callerSpan();
    const health = createClient(Health, transport("gRPC over HTTP/2", { traceparent: caller.traceparent }));
    await health.check({ service: "" });
    const span = serverSpanOf(caller.traceId);
    expect(span.name).toBe("grpc.health.v1.Health/Check");
    const queries = spansOf(caller.traceId).filter((s) => s.kind === SpanKind.CLIENT);
    expect(queries.map((q) => q.attributes["db.query.text"])).toEqual(["SELECT 1"]);
    expect(queries[0]?.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
  });

  it("starts a new trace when the caller sends none", async () => {
    let responseHeader: Headers | undefined;
    await createClient(ProjectService, transport("Connect binary over HTTP/2")).listProjects(
      {},
      { onHeader: (header) => (responseHeader = header) },
    );
    const [, traceId, spanId] = responseHeader?.get("traceparent")?.split("-") ?? [];
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const span = serverSpanOf(traceId as string);
    expect(span.name).toBe("tracker.v1.ProjectService/ListProjects");
    expect(span.spanContext().spanId).toBe(spanId);
    expect(span.parentSpanContext).toBeUndefined();
  });

  it("keeps the caller's tracestate", async () => {
    const caller = callerSpan();
    let responseHeader: Headers | undefined;
    await createClient(
      ProjectService,
      transport("Connect JSON over HTTP/1.1", { traceparent: caller.traceparent, tracestate: "vendor=abc" }),
    ).listProjects({}, { onHeader: (header) => (responseHeader = header) });
    expect(serverSpanOf(caller.traceId).spanContext().traceState?.get("vendor")).toBe("abc");
    expect(responseHeader?.get("tracestate")).toBe("vendor=abc");
  });

  it("ignores a malformed traceparent", async () => {
    let responseHeader: Headers | undefined;
    await createClient(
      ProjectService,
      transport("Connect JSON over HTTP/1.1", { traceparent: "00-not-a-trace-01" }),
    ).listProjects({}, { onHeader: (header) => (responseHeader = header) });
    const [, traceId] = responseHeader?.get("traceparent")?.split("-") ?? [];
    expect(serverSpanOf(traceId as string).parentSpanContext).toBeUndefined();
  });

  it("ends a server stream's span when the stream ends, its queries as children", async () => {
    const parent = await createProject(server);
    const caller = callerSpan();
    const abort = new AbortController();
    const stream = createClient(
      IssueService,
      transport("Connect binary over HTTP/2", { traceparent: caller.traceparent }),
    ).watchIssues({ parent }, { signal: abort.signal });
    for await (const message of stream) {
      expect(message.position).toBeGreaterThanOrEqual(0n);
      break; // the first message: the position, after the handler's first queries
    }
    abort.abort();

    const span = await vi.waitFor(() => serverSpanOf(caller.traceId), { timeout: 5_000 });
    expect(span.name).toBe("tracker.v1.IssueService/WatchIssues");
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    // The client hung up: the stream ends as cancelled.
    expect(span.attributes["rpc.connect_rpc.error_code"]).toBe("cancelled");
    const queries = spansOf(caller.traceId).filter((s) => s.kind === SpanKind.CLIENT);
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) expect(query.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
  });
});

describe("WatchIssues fan-out, as query spans show it", () => {
  it("answers all the watchers a commit wakes with one events query, not one each", async () => {
    const parent = await createProject(server);
    const watchers = 20;
    const client = createClient(IssueService, transport("Connect binary over HTTP/2"));
    const abort = new AbortController();
    let open = 0;
    const delivered: string[] = [];
    const streams = Array.from({ length: watchers }, async () => {
      let first = true;
      try {
        for await (const message of client.watchIssues({ parent }, { signal: abort.signal })) {
          if (first) open++;
          first = false;
          if (message.event) delivered.push(message.event.issue);
        }
      } catch {
        // aborted below
      }
    });
    await vi.waitFor(() => expect(open).toBe(watchers), { timeout: 10_000 });
    exporter.reset();
    await createClient(IssueService, transport("Connect binary over HTTP/2")).createIssue({
      parent,
      issue: { title: "seen by everyone" },
    });
    await vi.waitFor(() => expect(delivered).toHaveLength(watchers), { timeout: 10_000 });
    abort.abort();
    await Promise.all(streams);
    const eventQueries = exporter
      .getFinishedSpans()
      .filter(
        (s) =>
          s.kind === SpanKind.CLIENT && /from "issue_events"/i.test(String(s.attributes["db.query.text"])),
      );
    // One for the commit; a second at most, should a watcher wake a moment late.
    expect(eventQueries.length).toBeGreaterThanOrEqual(1);
    expect(eventQueries.length).toBeLessThanOrEqual(2);
  });
});

describe("reads' round trips, as query spans show them", () => {
  /**
   * IssueService as `user`, each call in a trace of its own; `queries()` lists
   * the SQL of the last call's handler: not the rate limiter's, which takes
   * tokens for a batch of calls now and then (shared/rate-limit.ts).
   */
  function issuesAs(user: string) {
    let traceId = "";
    const newTrace: Interceptor = (next) => (req) => {
      const caller = callerSpan();
      traceId = caller.traceId;
      req.header.set("traceparent", caller.traceparent);
      return next(req);
    };
    const client = createClient(
      IssueService,
      createNodeTransport("Connect binary over HTTP/2", server.baseUrl, [actingAs(user), newTrace]),
    );
    const queries = () =>
      spansOf(traceId)
        .filter((span) => span.kind === SpanKind.CLIENT)
        .map((span) => String(span.attributes["db.query.text"]))
        .filter((text) => !text.includes("rate_limit_buckets"));
    return { client, queries };
  }

  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => expect.fail("expected the call to fail"),
      (thrown: unknown) => {
        const error = ConnectError.from(thrown);
        return { code: error.code, message: error.rawMessage, fields: violatedFields(error) };
      },
    );

  it("takes one query for GetIssue, BatchGetIssues and ListIssues by a member, labels included", async () => {
    const parent = await createProject(server);
    const alice = issuesAs("alice");
    const a = await alice.client.createIssue({ parent, issue: { title: "a" } });
    const b = await alice.client.createIssue({ parent, issue: { title: "b" } });

    expect((await alice.client.getIssue({ name: a.name })).title).toBe("a");
    expect(alice.queries()).toHaveLength(1);
    const batch = await alice.client.batchGetIssues({ parent, names: [b.name, a.name] });
    expect(batch.issues.map((issue) => issue.title)).toEqual(["b", "a"]);
    expect(alice.queries()).toHaveLength(1);
    const first = await alice.client.listIssues({ parent, pageSize: 1 });
    expect(first.issues.map((issue) => issue.title)).toEqual(["b"]);
    expect(alice.queries()).toHaveLength(1);
    const second = await alice.client.listIssues({ parent, pageSize: 1, pageToken: first.nextPageToken });
    expect(second.issues.map((issue) => issue.title)).toEqual(["a"]);
    expect(alice.queries()).toHaveLength(1);
    // An empty page, and a deleted project (members still read it), are one query too.
    expect(
      (await alice.client.listIssues({ parent, filter: { states: [Issue_State.CLOSED] } })).issues,
    ).toEqual([]);
    expect(alice.queries()).toHaveLength(1);
    await createClient(ProjectService, transport("Connect binary over HTTP/2")).deleteProject({
      name: parent,
    });
    expect((await alice.client.listIssues({ parent })).issues).toHaveLength(2);
    expect(alice.queries()).toHaveLength(1);
  });

  it("tells a non-member, and anyone of a missing project, NOT_FOUND of the parent, whatever else is wrong", async () => {
    const parent = await createProject(server);
    const alice = issuesAs("alice");
    const { name } = await alice.client.createIssue({ parent, issue: { title: "secret" } });
    await userNamed(server, "bob"); // known, so his calls' only queries are the handler's
    const bob = issuesAs("bob");
    const missing = "projects/NOSUCH";
    const notFound = (resource: string) => ({
      code: Code.NotFound,
      message: `${resource} does not exist`,
      fields: [],
    });

    for (const [as, project] of [
      [bob, parent],
      [alice, missing],
    ] as const) {
      expect(await refusal(as.client.listIssues({ parent: project }))).toEqual(notFound(project));
      expect(as.queries()).toHaveLength(1);
      expect(
        await refusal(as.client.batchGetIssues({ parent: project, names: [`${project}/issues/1`] })),
      ).toEqual(notFound(project));
      expect(as.queries()).toHaveLength(1);
      // A request the read refuses before its query is checked for access first.
      expect(await refusal(as.client.listIssues({ parent: project, pageToken: "bad" }))).toEqual(
        notFound(project),
      );
      expect(
        await refusal(
          as.client.listIssues({ parent: project, filter: { labels: ["projects/OTHER/labels/x"] } }),
        ),
      ).toEqual(notFound(project));
      expect(
        await refusal(as.client.batchGetIssues({ parent: project, names: ["projects/OTHER/issues/1"] })),
      ).toEqual(notFound(project));
    }

    // A member is told what is wrong: the token before the filter.
    expect(
      await refusal(
        alice.client.listIssues({
          parent,
          pageToken: "bad",
          filter: { labels: ["projects/OTHER/labels/x"] },
        }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, fields: ["page_token"] });
    expect(
      await refusal(alice.client.listIssues({ parent, filter: { labels: ["projects/OTHER/labels/x"] } })),
    ).toMatchObject({ code: Code.InvalidArgument, fields: ["filter.labels"] });
    expect(
      await refusal(alice.client.batchGetIssues({ parent, names: [name, "projects/OTHER/issues/1"] })),
    ).toMatchObject({ code: Code.InvalidArgument, fields: ["names[1]"] });
    expect(
      await refusal(alice.client.batchGetIssues({ parent, names: [name, `${parent}/issues/9`] })),
    ).toEqual(notFound(`${parent}/issues/9`));
  });
});

describe("tracing to an OTLP endpoint", () => {
  it("batches spans to <endpoint>/v1/traces, flushed on shutdown", async () => {
    const received: Array<{ url: string; contentType: string; body: string }> = [];
    const collector = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received.push({
          url: req.url ?? "",
          contentType: req.headers["content-type"] ?? "",
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      const tracing = createTracing({ serviceName: "otlp-test", otlpEndpoint: `http://127.0.0.1:${port}/` });
      const health = createClient(
        Health,
        createRouterTransport(
          (router) =>
            router.service(Health, { check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }) }),
          { router: { interceptors: [tracing.interceptor] } },
        ),
      );
      await health.check({});
      expect(received).toEqual([]); // batched, not sent per span
      await tracing.shutdown();
      expect(received).toHaveLength(1);
      expect(received[0]?.url).toBe("/v1/traces");
      expect(received[0]?.contentType).toMatch(/^application\/json/);
      expect(received[0]?.body).toContain("grpc.health.v1.Health/Check");
      expect(received[0]?.body).toContain("otlp-test");
    } finally {
      collector.close();
    }
  });
});

describe("tracing off", () => {
  it("is a pass-through interceptor without a provider", async () => {
    const tracing = createTracing({ serviceName: "off" });
    const next = async () => {
      throw new Error("not called");
    };
    expect(tracing.interceptor(next)).toBe(next);
    await expect(tracing.shutdown()).resolves.toBeUndefined();
  });

  it("serves calls without spans or a traceparent", async () => {
    const off = await startTestServer();
    try {
      const caller = callerSpan();
      let responseHeader: Headers | undefined;
      const client = createClient(
        ProjectService,
        createConnectTransport({
          baseUrl: off.baseUrl,
          httpVersion: "2",
          interceptors: [actingAs("alice"), sending({ traceparent: caller.traceparent })],
        }),
      );
      await client.createProject(
        { projectId: uniqueProjectKey(), project: { displayName: "Untraced" } },
        { onHeader: (header) => (responseHeader = header) },
      );
      expect(responseHeader?.get("traceparent")).toBeNull();
      // Nor do its queries land in the other server's provider, though this process traces.
      expect(spansOf(caller.traceId)).toEqual([]);
    } finally {
      await off.close();
    }
  });
});
