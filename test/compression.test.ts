import http from "node:http";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BROTLI_RESPONSE_QUALITY,
  COMPRESS_ON_EVENT_LOOP_MAX_BYTES,
  GZIP_RESPONSE_LEVEL,
} from "../src/server/compression.js";
import { clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor } from "./support/transports.js";

// Responses are compressed as the client asks, at a cost bounded per byte:
// brotli at Node's default quality would cost a hundred times gzip's CPU.
// Small answers are compressed in the event loop, large ones in the thread
// pool: the same bytes either way.

let server: TestServer;
/** A project whose first page is small, and one whose page is past COMPRESS_ON_EVENT_LOOP_MAX_BYTES. */
let small: string;
let large: string;
beforeAll(async () => {
  server = await startTestServer();
  small = await createProject(server);
  large = await createProject(server);
  const { issues } = clientsFor(server);
  for (let i = 0; i < 8; i++) {
    await issues.createIssue({
      parent: small,
      issue: { title: `Compressed ${i}`, body: "A body worth compressing. ".repeat(20) },
    });
  }
  for (let i = 0; i < 4; i++) {
    await issues.createIssue({
      parent: large,
      issue: { title: `Large ${i}`, body: `Paragraph ${i} of a long report. `.repeat(1000) },
    });
  }
});
afterAll(() => server.close());

/** ListIssues over Connect JSON, as raw bytes with the response's Content-Encoding. */
async function listIssuesAccepting(encoding: string, parent = small) {
  const body = JSON.stringify({ parent, pageSize: 50 });
  const token = await tokenFor("alice");
  return new Promise<{ status: number; encoding: string | undefined; bytes: Buffer }>((resolve, reject) => {
    const request = http.request(
      `${server.baseUrl}/tracker.v1.IssueService/ListIssues`,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "accept-encoding": encoding,
          authorization: `Bearer ${token}`,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            encoding: response.headers["content-encoding"],
            bytes: Buffer.concat(chunks),
          }),
        );
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

describe("response compression", () => {
  it("answers a client that accepts only br with brotli at the bounded quality", async () => {
    const { status, encoding, bytes } = await listIssuesAccepting("br");
    expect(status).toBe(200);
    expect(encoding).toBe("br");
    const json = zlib.brotliDecompressSync(bytes);
    expect(JSON.parse(json.toString()).issues).toHaveLength(8);
    // The same bytes as brotli at that quality makes them (at 11 they differ).
    const atQuality = (quality: number) =>
      zlib.brotliCompressSync(json, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality } });
    expect(bytes.equals(atQuality(BROTLI_RESPONSE_QUALITY))).toBe(true);
    expect(bytes.equals(atQuality(11))).toBe(false);
  });

  it("answers gzip at the bounded level, small pages and large ones alike", async () => {
    for (const [parent, count] of [
      [small, 8],
      [large, 4],
    ] as const) {
      const gzip = await listIssuesAccepting("gzip", parent);
      expect(gzip.encoding).toBe("gzip");
      const json = zlib.gunzipSync(gzip.bytes);
      expect(JSON.parse(json.toString()).issues).toHaveLength(count);
      expect(json.length > COMPRESS_ON_EVENT_LOOP_MAX_BYTES).toBe(parent === large);
      expect(gzip.bytes.equals(zlib.gzipSync(json, { level: GZIP_RESPONSE_LEVEL }))).toBe(true);
    }
    const br = await listIssuesAccepting("br", large);
    const json = zlib.brotliDecompressSync(br.bytes);
    expect(json.length).toBeGreaterThan(COMPRESS_ON_EVENT_LOOP_MAX_BYTES);
    expect(
      br.bytes.equals(
        zlib.brotliCompressSync(json, {
          params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_RESPONSE_QUALITY },
        }),
      ),
    ).toBe(true);
  });

  it("refuses a truncated compressed request with INVALID_ARGUMENT, not INTERNAL", async () => {
    const token = await tokenFor("alice");
    const body = JSON.stringify({ parent: small, pageSize: 50 });
    for (const [encoding, compressed] of [
      ["gzip", zlib.gzipSync(body)],
      ["br", zlib.brotliCompressSync(body)],
    ] as const) {
      const response = await fetch(`${server.baseUrl}/tracker.v1.IssueService/ListIssues`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-encoding": encoding,
          authorization: `Bearer ${token}`,
        },
        body: compressed.subarray(0, compressed.length - 6),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe("invalid_argument");
    }
  });

  it("answers nothing compressed when the client accepts nothing", async () => {
    const plain = await listIssuesAccepting("identity");
    expect(plain.encoding).toBeUndefined();
    expect(JSON.parse(plain.bytes.toString()).issues).toHaveLength(8);
  });
});
