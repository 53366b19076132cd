import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { DEFAULT_TRANSPORT_LIMITS } from "../src/context.js";
import { writeEarlyError } from "../src/server/early-answer.js";
import { createOnePortServer, LINGER_BYTES } from "../src/server/one-port.js";
import { apiError } from "../src/shared/errors.js";
import { clientsFor, createProject } from "./support/fixtures.js";
import { connectRawH2, ERROR_CODE, errorCodeOf, FLAG, FRAME, type RawH2 } from "./support/raw-h2.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, type Protocol, tokenFor, transportFor } from "./support/transports.js";

// Issue 12, findings 3, 4, 6 and 7: the transport bounds every connection,
// whoever opens it, and every answer given before connect-node is one each
// protocol's clients read. Raw sockets and raw HTTP/2 frames, as an
// attacker's client would send them, against the real server with short
// limits. Assertions are on what the socket sees, never on how fast.

const LIMITS = {
  headersTimeoutMs: 500,
  requestTimeoutMs: 1_000,
  streamIdleTimeoutMs: 1_500,
  keepAliveTimeoutMs: 1_000,
  maxConcurrentStreams: 5,
};

let server: TestServer;
let token: string;
beforeAll(async () => {
  server = await startTestServer({ limits: LIMITS });
  token = await tokenFor("transport");
});
afterAll(() => server?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw TCP connection and everything the server sends on it. */
async function rawH1(port = server.port) {
  const socket = net.connect(port, "127.0.0.1");
  let received = "";
  let writeError = "";
  socket.on("data", (chunk) => {
    received += chunk;
  });
  socket.on("error", (error: NodeJS.ErrnoException) => {
    writeError = error.code ?? error.message;
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  /** The server's FIN (or a reset): it will read no more. */
  const ended = new Promise<void>((resolve) => {
    socket.once("end", () => resolve());
    socket.once("close", () => resolve());
  });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  return {
    socket,
    closed,
    ended,
    received: () => received,
    writeError: () => writeError,
    /** Writes `text` one byte every `everyMs` until the server closes; returns how many bytes went. */
    async drip(text: string, everyMs = 100) {
      let sent = 0;
      while (!socket.destroyed && socket.readyState === "open" && sent < text.length) {
        socket.write(text.charAt(sent));
        sent += 1;
        await Promise.race([sleep(everyMs), closed]);
      }
      return sent;
    },
    /** Sends a one-byte chunk every 100 ms, up to 1000, until the server closes; returns how many went. */
    async dripChunks() {
      let sent = 0;
      while (!socket.destroyed && socket.readyState === "open" && sent < 1_000) {
        socket.write("1\r\nx\r\n");
        sent += 1;
        await Promise.race([sleep(100), closed]);
      }
      return sent;
    },
  };
}

/** The status line of each response the server sent on a connection. */
const statusLines = (received: string) => received.match(/^HTTP\/1\.1 \d{3} .*$/gm) ?? [];
/** The first response's headers, lower-cased. */
const headOf = (received: string) => (received.split("\r\n\r\n")[0] ?? "").toLowerCase();

describe("HTTP/1.1 deadlines", () => {
  it("answers 408 and closes connections whose headers drip in a byte at a time", async () => {
    const header = `POST /tracker.v1.ProjectService/ListProjects HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(400)}\r\n\r\n`;
    const connections = await Promise.all(Array.from({ length: 20 }, () => rawH1()));
    const sent = await Promise.all(connections.map((connection) => connection.drip(header)));
    for (const [i, connection] of connections.entries()) {
      await connection.closed;
      expect(statusLines(connection.received())).toEqual(["HTTP/1.1 408 Request Timeout"]);
      expect(sent[i]).toBeLessThan(header.length);
    }
  });

  it("answers 408 and closes a connection that sends a request line, then nothing", async () => {
    const connection = await rawH1();
    connection.socket.write("GET /healthz HTTP/1.1\r\n");
    await connection.closed;
    expect(statusLines(connection.received())).toEqual(["HTTP/1.1 408 Request Timeout"]);
  });

  it("closes a connection whose first bytes (the HTTP/2 preface?) drip in", async () => {
    const connection = await rawH1();
    const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const sent = await connection.drip(preface);
    await connection.closed;
    expect(sent).toBeLessThan(preface.length);
    expect(connection.received()).toBe("");
  });

  it("answers 408 and closes a request whose chunked body never ends, with a valid token", async () => {
    const connection = await rawH1();
    connection.socket.write(
      `POST /tracker.v1.ProjectService/ListProjects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const chunks = await connection.dripChunks();
    await connection.closed;
    expect(statusLines(connection.received())).toEqual(["HTTP/1.1 408 Request Timeout"]);
    expect(chunks).toBeLessThan(1_000);
  });

  it("answers 401 at once to a chunked body that never ends without a token, and closes", async () => {
    const connection = await rawH1();
    connection.socket.write(
      "POST /tracker.v1.ProjectService/ListProjects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    const chunks = await connection.dripChunks();
    await connection.closed;
    // Answered and closed by the 401 itself, not by the request timeout (a 408 after it).
    expect(statusLines(connection.received())).toEqual(["HTTP/1.1 401 Unauthorized"]);
    expect(headOf(connection.received())).toContain("connection: close");
    expect(chunks).toBeLessThan(1_000);
  });

  it("closes a keep-alive connection that stays idle after its response", async () => {
    const connection = await rawH1();
    connection.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    await connection.closed;
    expect(statusLines(connection.received())).toEqual(["HTTP/1.1 200 OK"]);
    expect(headOf(connection.received())).toContain("connection: keep-alive");
  });
});

describe("unauthenticated requests are answered without reading their bodies", () => {
  const TEN_MIB = 10 * 1024 * 1024;

  it.each([
    ["Connect", "application/json", "HTTP/1.1 401 Unauthorized"],
    ["gRPC-Web", "application/grpc-web+proto", "HTTP/1.1 200 OK"],
  ])("HTTP/1.1, %s: answers, closes, and takes next to nothing of a 10 MiB body", async (_, type, status) => {
    const connection = await rawH1();
    connection.socket.write(
      `POST /tracker.v1.ProjectService/ListProjects HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${TEN_MIB}\r\n\r\n`,
    );
    connection.socket.write(Buffer.alloc(1024));
    // The answer and the server's FIN come while 10 MiB - 1 KiB are still to send.
    await connection.ended;
    expect(statusLines(connection.received())).toEqual([status]);
    expect(headOf(connection.received())).toContain("connection: close");
    if (type.startsWith("application/grpc")) expect(connection.received()).toContain("grpc-status: 16");
    // What the server still takes: the client writes on until the connection refuses.
    let accepted = 0;
    const chunk = Buffer.alloc(64 * 1024);
    while (accepted < TEN_MIB && !connection.writeError() && !connection.socket.destroyed) {
      const flushed = await new Promise<boolean>((resolve) =>
        connection.socket.write(chunk, (error) => resolve(!error)),
      );
      if (!flushed) break;
      accepted += chunk.length;
      await sleep(1);
    }
    await connection.closed;
    // The server had closed its socket: the kernel refuses at once (0 bytes when measured).
    expect(["EPIPE", "ECONNRESET"]).toContain(connection.writeError());
    expect(accepted).toBeLessThanOrEqual(256 * 1024);
  });

  it("HTTP/2, gRPC: a trailers-only answer, then RST_STREAM(NO_ERROR) and no window for the body", async () => {
    const h2 = await connectRawH2(server.port);
    h2.request(1, "/tracker.v1.ProjectService/ListProjects", {
      headers: { "content-type": "application/grpc", te: "trailers", "content-length": String(TEN_MIB) },
    });
    // The whole initial window (64 KiB - 1), in frames of 16 KiB.
    for (let sent = 0; sent < 65_535; sent += 16_384)
      h2.send(FRAME.DATA, 0, 1, Buffer.alloc(Math.min(16_384, 65_535 - sent)));
    const answer = await h2.next((frame) => frame.type === FRAME.HEADERS && frame.streamId === 1);
    expect(answer.flags & FLAG.END_STREAM).toBe(FLAG.END_STREAM);
    const reset = await h2.next((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === 1);
    expect(errorCodeOf(reset)).toBe(ERROR_CODE.NO_ERROR);
    await h2.roundTrip();
    // No DATA frame came before the trailers-only HEADERS, and the stream's window never grew.
    expect(h2.frames.filter((frame) => frame.streamId === 1).map((frame) => frame.type)).toEqual([
      FRAME.HEADERS,
      FRAME.RST_STREAM,
    ]);
    h2.socket.destroy();
  });

  it("HTTP/2, Connect: the whole 401 (DATA with END_STREAM) arrives before anything ends the stream", async () => {
    const h2 = await connectRawH2(server.port);
    h2.request(1, "/tracker.v1.ProjectService/ListProjects", {
      headers: { "content-type": "application/json", "content-length": String(TEN_MIB) },
    });
    for (let sent = 0; sent < 65_535; sent += 16_384)
      h2.send(FRAME.DATA, 0, 1, Buffer.alloc(Math.min(16_384, 65_535 - sent)));
    const answer = await h2.next((frame) => frame.type === FRAME.HEADERS && frame.streamId === 1);
    expect(answer.payload.length).toBeGreaterThan(0);
    await h2.next(
      (frame) => frame.type === FRAME.DATA && frame.streamId === 1 && (frame.flags & FLAG.END_STREAM) !== 0,
    );
    await h2.roundTrip();
    const onStream = h2.frames.filter((frame) => frame.streamId === 1).map((frame) => frame.type);
    // An early RST_STREAM would have dropped the DATA still queued (curl: "Stream error").
    expect(onStream[0]).toBe(FRAME.HEADERS);
    expect(onStream.filter((type) => type === FRAME.RST_STREAM)).toEqual([]);
    const body = Buffer.concat(
      h2.frames
        .filter((frame) => frame.type === FRAME.DATA && frame.streamId === 1)
        .map((frame) => frame.payload),
    );
    expect(JSON.parse(body.toString("utf8"))).toMatchObject({ code: "unauthenticated" });
    h2.socket.destroy();
  });
});

describe("HTTP/1.1 answers before the body: Expect: 100-continue and a lingering close", () => {
  const TEN_MIB = 10 * 1024 * 1024;
  const request = (headers: string) =>
    `POST /tracker.v1.ProjectService/ListProjects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n`;
  /** Whether `received` holds a whole response: its head, and its body to the last chunk or Content-Length byte. */
  const complete = (received: string) => {
    const end = received.indexOf("\r\n\r\n");
    if (end < 0) return false;
    const head = received.slice(0, end).toLowerCase();
    const body = received.slice(end + 4);
    if (head.includes("transfer-encoding: chunked")) return body.endsWith("\r\n0\r\n\r\n");
    return Buffer.byteLength(body) >= Number(/^content-length: (\d+)$/m.exec(head)?.[1]);
  };

  it("answers a refused request with Expect: 100-continue 401, never 100 Continue", async () => {
    const connection = await rawH1();
    connection.socket.write(
      request("Authorization: Bearer x.y.z\r\nExpect: 100-continue\r\nContent-Length: 1024\r\n"),
    );
    await connection.ended;
    expect(statusLines(connection.received())).toEqual(["HTTP/1.1 401 Unauthorized"]);
    expect(headOf(connection.received())).toContain("connection: close");
    connection.socket.destroy();
  });

  // curl, as the tester ran it: it gives up at the first failed write, so a
  // reset (a server closing with the body unread) loses the answer it had
  // not read yet. (A node:net client in this process reads before it writes,
  // and never showed the loss.)
  describe.runIf(existsSync("/usr/bin/curl"))("curl sending 10 MiB without a valid token", () => {
    const run = promisify(execFile);
    let bodyFile: string;
    beforeAll(() => {
      bodyFile = join(mkdtempSync(join(tmpdir(), "tracker-body-")), "body");
      writeFileSync(bodyFile, Buffer.alloc(TEN_MIB));
    });
    afterAll(() => rmSync(dirname(bodyFile), { recursive: true, force: true }));

    it.each([
      ["Expect: 100-continue (curl's default)", []],
      ["no Expect", ["-H", "Expect:"]],
    ])(
      "gets the 401 20 times in 20, with %s",
      async (_, expectHeader) => {
        const statuses: string[] = [];
        for (let attempt = 0; attempt < 20; attempt += 1) {
          const args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", ...expectHeader];
          args.push("-H", "Content-Type: application/json", "-H", "Authorization: Bearer x.y.z");
          args.push(
            "--data-binary",
            `@${bodyFile}`,
            `${server.baseUrl}/tracker.v1.ProjectService/ListProjects`,
          );
          statuses.push(
            await run("curl", args).then(
              ({ stdout }) => stdout,
              (error: { code: number; stdout: string }) => `curl exit ${error.code} after ${error.stdout}`,
            ),
          );
        }
        expect(statuses).toEqual(Array(20).fill("401"));
      },
      60_000,
    );
  });

  it("after the answer, reads at most LINGER_BYTES more of a body sent on regardless, then resets", async () => {
    // A client that keeps its side open and sends on after the server's FIN.
    const socket = net.connect({ port: server.port, host: "127.0.0.1", allowHalfOpen: true });
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk;
    });
    socket.on("error", () => {});
    const ended = new Promise<void>((resolve) => socket.once("end", resolve));
    socket.write(request(`Content-Length: ${TEN_MIB}\r\n`));
    await ended;
    expect(statusLines(received)).toEqual(["HTTP/1.1 401 Unauthorized"]);
    let accepted = 0;
    const chunk = Buffer.alloc(1024 * 1024);
    const sent = 2 * LINGER_BYTES;
    while (accepted < sent) {
      const flushed = await new Promise<boolean>((resolve) =>
        socket.write(chunk, (error) => resolve(!error)),
      );
      if (!flushed) break;
      accepted += chunk.length;
    }
    // Some MiB of it the kernel buffers on the way; the server read at most LINGER_BYTES before it went.
    expect(accepted).toBeLessThan(sent);
    socket.destroy();
  });

  it("answers an authenticated request with Expect: 100-continue 100, then reads its body", async () => {
    const connection = await rawH1();
    connection.socket.write(
      request(`Authorization: Bearer ${token}\r\nExpect: 100-continue\r\nContent-Length: 2\r\n`),
    );
    while (!connection.received().includes("\r\n\r\n")) await sleep(10);
    expect(statusLines(connection.received())).toEqual(["HTTP/1.1 100 Continue"]);
    connection.socket.write("{}");
    while (!complete(connection.received().slice(connection.received().indexOf("\r\n\r\n") + 4)))
      await sleep(10);
    expect(statusLines(connection.received())).toEqual(["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]);
    connection.socket.destroy();
  });
});

describe("HTTP/2 streams", () => {
  it("advertises SETTINGS_MAX_CONCURRENT_STREAMS", async () => {
    const session = http2.connect(server.baseUrl);
    const settings = await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
    expect(settings.maxConcurrentStreams).toBe(LIMITS.maxConcurrentStreams);
    session.close();
  });

  it("accepts no stream beyond the limit from a client that ignores it", async () => {
    const h2 = await connectRawH2(server.port);
    const ids = Array.from({ length: 8 }, (_, i) => 2 * i + 1);
    for (const id of ids) {
      h2.request(id, "/grpc.health.v1.Health/Check", { headers: { "content-type": "application/grpc" } });
    }
    await h2.closed;
    // RFC 9113 §5.1.2: each stream over the limit is refused (RST_STREAM
    // REFUSED_STREAM or PROTOCOL_ERROR), or the connection ends with a
    // GOAWAY that excludes it. nghttp2 does the latter; Node reports its
    // PROTOCOL_ERROR as INTERNAL_ERROR (h2spec.test.ts, 5.1.2).
    const goaway = h2.frames.find((frame) => frame.type === FRAME.GOAWAY);
    const lastAccepted = goaway ? goaway.payload.readUInt32BE(0) & 0x7fffffff : Number.POSITIVE_INFINITY;
    for (const id of ids.slice(LIMITS.maxConcurrentStreams)) {
      const reset = h2.frames.find((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === id);
      if (reset) expect([ERROR_CODE.REFUSED_STREAM, ERROR_CODE.PROTOCOL_ERROR]).toContain(errorCodeOf(reset));
      else expect(id).toBeGreaterThan(lastAccepted);
    }
    expect(lastAccepted).toBeLessThanOrEqual(ids[LIMITS.maxConcurrentStreams - 1] ?? 0);
  });

  it("resets streams whose request never ends, though their body trickles in, and serves on", async () => {
    const h2 = await connectRawH2(server.port);
    const ids = [1, 3, 5];
    for (const id of ids) {
      h2.request(id, "/grpc.health.v1.Health/Check", { headers: { "content-type": "application/grpc" } });
    }
    // A byte on each stream every 200 ms: never idle, never complete.
    const resets = ids.map((id) =>
      h2.next((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === id),
    );
    let done = false;
    const trickle = (async () => {
      while (!done) {
        for (const id of ids) h2.send(FRAME.DATA, 0, id, Buffer.alloc(1));
        await sleep(200);
      }
    })();
    const codes = (await Promise.all(resets)).map(errorCodeOf);
    done = true;
    await trickle;
    expect(codes).toEqual([ERROR_CODE.CANCEL, ERROR_CODE.CANCEL, ERROR_CODE.CANCEL]);
    // The connection serves on: a whole request on a new stream is answered.
    h2.request(7, "/grpc.health.v1.Health/Check", {
      headers: { "content-type": "application/grpc" },
      endStream: true,
    });
    const answer = await h2.next((frame) => frame.type === FRAME.HEADERS && frame.streamId === 7);
    expect(answer.streamId).toBe(7);
    h2.socket.destroy();
  });

  it("closes a connection with no stream open after the keep-alive timeout, though it PINGs", async () => {
    const h2 = await connectRawH2(server.port);
    let closed = false;
    h2.closed.then(() => {
      closed = true;
    });
    while (!closed) {
      h2.send(FRAME.PING, 0, 0, Buffer.alloc(8));
      await Promise.race([sleep(200), h2.closed]);
    }
    const goaway = h2.frames.find((frame) => frame.type === FRAME.GOAWAY);
    expect(goaway && errorCodeOf(goaway)).toBe(ERROR_CODE.NO_ERROR);
  });

  it("closes a connection that sends a frame a byte at a time, with no stream open", async () => {
    const h2 = await connectRawH2(server.port);
    // A HEADERS frame of 1000 bytes, announced, then dripped in.
    const header = Buffer.alloc(9);
    header.writeUIntBE(1_000, 0, 3);
    header.writeUInt8(FRAME.HEADERS, 3);
    header.writeUInt8(FLAG.END_HEADERS, 4);
    header.writeUInt32BE(1, 5);
    h2.socket.write(header);
    let sent = 0;
    let closed = false;
    h2.closed.then(() => {
      closed = true;
    });
    while (!closed && sent < 1_000) {
      h2.socket.write(Buffer.from([0]));
      sent += 1;
      await Promise.race([sleep(100), h2.closed]);
    }
    expect(sent).toBeLessThan(1_000);
    expect(h2.frames.some((frame) => frame.type === FRAME.GOAWAY)).toBe(true);
  });

  it("after GOAWAY, streams still holding their request open are reset, and the connection ends", async () => {
    const draining = await startTestServer({ limits: LIMITS, drainTimeoutMs: 120_000 });
    let h2: RawH2 | undefined;
    try {
      h2 = await connectRawH2(draining.port);
      for (const id of [1, 3, 5]) {
        h2.request(id, "/grpc.health.v1.Health/Check", { headers: { "content-type": "application/grpc" } });
      }
      await h2.roundTrip();
      const closing = draining.close();
      const raw = h2;
      await raw.next((frame) => frame.type === FRAME.GOAWAY);
      await Promise.all(
        [1, 3, 5].map((id) => raw.next((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === id)),
      );
      await raw.closed;
      await closing;
    } finally {
      h2?.socket.destroy();
    }
  });
});

describe.each(["Connect JSON over HTTP/1.1", "Connect binary over HTTP/2"] as const satisfies Protocol[])(
  "a watch stream over %s",
  (protocol) => {
    it("outlives the request timeout while it has traffic, and is reset once idle", async () => {
      const project = await createProject(server);
      const { issues } = clientsFor(server, "alice", protocol);
      const received: string[] = [];
      const watch = (async () => {
        try {
          for await (const message of issues.watchIssues({ parent: project, after: 0n })) {
            if (message.event) received.push(message.event.issue);
          }
          return undefined;
        } catch (error) {
          return ConnectError.from(error);
        }
      })();
      // Traffic for three request timeouts, then none.
      const created: string[] = [];
      const until = Date.now() + 3 * LIMITS.requestTimeoutMs;
      while (Date.now() < until) {
        const issue = await issues.createIssue({
          parent: project,
          issue: { title: `busy ${created.length}` },
        });
        created.push(issue.name);
        await sleep(250);
      }
      const ended = await watch;
      expect(received).toEqual(created);
      // Ended by the server, not the client and not with OK.
      expect(ended).toBeInstanceOf(ConnectError);
    });
  },
);

describe("early answers in every protocol", () => {
  const GRPCURL = ".tools/bin/grpcurl";
  const run = promisify(execFile);

  describe.runIf(existsSync(GRPCURL))("grpcurl (grpc-go)", () => {
    it.each([
      ["no token", []],
      ["a bad token", ["-H", "authorization: Bearer not.a.jwt"]],
    ])("reads UNAUTHENTICATED with %s", async (_, auth) => {
      const output = await run(GRPCURL, [
        "-plaintext",
        ...auth,
        "-d",
        "{}",
        `127.0.0.1:${server.port}`,
        "tracker.v1.ProjectService/ListProjects",
      ]).then(
        () => "",
        (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
      );
      expect(output).toContain("Code: Unauthenticated");
      expect(output).toContain('"reason": "UNAUTHENTICATED"');
    });
  });

  // An answer of the server's own before connect-node (a limit, the fallback for
  // a bug), on the real transport, as each client library reads it.
  let oneOff: ReturnType<typeof createOnePortServer>;
  let baseUrl: string;
  beforeAll(async () => {
    oneOff = createOnePortServer((req, res) => {
      res.setHeader("X-Request-Id", "early");
      writeEarlyError(req, res, apiError(Code.ResourceExhausted, "TOO_EARLY", "no, not now"));
    }, DEFAULT_TRANSPORT_LIMITS);
    baseUrl = `http://127.0.0.1:${(await oneOff.listen(0, "127.0.0.1")).port}`;
  });
  afterAll(() => oneOff?.close(1_000));

  it.each(PROTOCOLS)("over %s, with its code, message and details", async (protocol) => {
    const projects = createClient(ProjectService, transportFor(protocol, baseUrl));
    const error = await projects.listProjects({}).then(
      () => undefined,
      (reason: unknown) => ConnectError.from(reason),
    );
    expect(error?.code).toBe(Code.ResourceExhausted);
    expect(error?.rawMessage).toBe("no, not now");
    expect(error?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("TOO_EARLY");
  });
});
