import http from "node:http";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROTLI_RESPONSE_QUALITY } from "../src/server/compression.js";
import { clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor } from "./support/transports.js";

// Responses are compressed as the client asks, at a cost bounded per byte:
// brotli at Node's default quality would cost a hundred times gzip's CPU.

let server: TestServer;
let parent: string;
beforeAll(async () => {
  server = await startTestServer();
  parent = await createProject(server);
  const { issues } = clientsFor(server);
  for (let i = 0; i < 8; i++) {
    await issues.createIssue({
      parent,
      issue: { title: `Compressed ${i}`, body: "A body worth compressing. ".repeat(20) },
    });
  }
});
afterAll(() => server.close());

/** ListIssues over Connect JSON, as raw bytes with the response's Content-Encoding. */
async function listIssuesAccepting(encoding: string) {
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

  it("still answers gzip, and nothing when the client accepts nothing", async () => {
    const gzip = await listIssuesAccepting("gzip");
    expect(gzip.encoding).toBe("gzip");
    expect(JSON.parse(zlib.gunzipSync(gzip.bytes).toString()).issues).toHaveLength(8);
    const plain = await listIssuesAccepting("identity");
    expect(plain.encoding).toBeUndefined();
    expect(JSON.parse(plain.bytes.toString()).issues).toHaveLength(8);
  });
});
