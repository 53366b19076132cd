import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";

// h2spec, the HTTP/2 conformance suite (pinned in tools/go.mod, built by
// `node tools/install.mjs h2spec`), against the one port over h2c. It runs on
// GET /healthz, which answers with a body: on a path that answers none (the
// health RPC refuses GET with an empty 405) h2spec skips the flow-control
// cases that need response DATA.

const H2SPEC = ".tools/bin/h2spec";
const run = promisify(execFile);

/**
 * The cases Node's HTTP/2 (nghttp2 under node:http2) or the one-port design
 * cannot pass, by h2spec id (`h2spec http2/5.1/8` runs one). Any other case
 * failing, or one of these starting to pass, fails the test.
 */
const KNOWN_FAILURES: Record<string, string> = {
  // By design: a connection whose first bytes are not the HTTP/2 preface is
  // HTTP/1.1 on the one port, which answers 400 instead of just closing.
  "http2/3.5/2": "invalid connection preface: served as HTTP/1.1",
  // RFC 9113 §5.1 lets an endpoint ignore frames on a stream it has reset or
  // forgotten; nghttp2 does, where h2spec (RFC 7540) wants STREAM_CLOSED.
  "http2/5.1/8": "DATA after RST_STREAM: ignored, not STREAM_CLOSED",
  "http2/5.1/9": "HEADERS after RST_STREAM: ignored, not STREAM_CLOSED",
  "http2/5.1/11": "DATA on a closed stream: ignored, not STREAM_CLOSED",
  "http2/5.1/12": "HEADERS on a closed stream: ignored, not STREAM_CLOSED",
  // nghttp2 answers the first stream, then drops the HEADERS of the lower id
  // without a GOAWAY.
  "http2/5.1.1/2": "a stream id lower than the previous one: ignored, not PROTOCOL_ERROR",
  // The nghttp2 of Node 24 follows RFC 9113, which deprecates the RFC 7540
  // priority scheme: PRIORITY frames are ignored, never a PROTOCOL_ERROR.
  "http2/5.3.1/2": "a PRIORITY frame that depends on its own stream: ignored (RFC 9113 §5.3.2)",
  "http2/6.3/1": "a PRIORITY frame on stream 0: ignored (RFC 9113 §5.3.2)",
  // Node ends the session on a PING ACK it did not ask for.
  "http2/6.7/2": "an unsolicited PING ACK: Node sends GOAWAY and closes",
  // Node resets the stream with INTERNAL_ERROR where h2spec wants FLOW_CONTROL_ERROR.
  "http2/6.9.1/3": "a stream window above 2^31-1: INTERNAL_ERROR, not FLOW_CONTROL_ERROR",
};

/**
 * Cases whose outcome depends on when the frames arrive, seen both ways on a
 * loaded 2-core machine under Node 24.22: allowed to fail, never required to.
 * GET /healthz is answered as soon as its HEADERS arrive, so a frame h2spec
 * sends right after may find the stream already closed, which nghttp2 ignores
 * (as in the §5.1 cases above) instead of answering with the error h2spec wants.
 */
const UNSTABLE: Record<string, string> = {
  "http2/5.1/5": "DATA on a half-closed (remote) stream: STREAM_CLOSED, or ignored once the answer closed it",
  "http2/5.1/6":
    "HEADERS on a half-closed (remote) stream: STREAM_CLOSED, or ignored once the answer closed it",
  "http2/6.1/2": "DATA on a half-closed (remote) stream: STREAM_CLOSED, or ignored once the answer closed it",
  "http2/6.9/2": "a WINDOW_UPDATE of 0 on a stream: PROTOCOL_ERROR, or ignored once the answer closed it",
  // Malformed requests (RFC 9113 §8.1.1): RST_STREAM PROTOCOL_ERROR, or the
  // stream is answered before the malformed frame is read.
  "http2/8.1/1": "a second HEADERS without END_STREAM: PROTOCOL_ERROR, or answered first",
};
const isUnstable = (id: string) => id in UNSTABLE || id.startsWith("http2/8.1.2");

interface Case {
  id: string;
  description: string;
  outcome: "passed" | "failed" | "skipped";
}

/** h2spec's JUnit report: one testsuite per section, its cases numbered in order as h2spec numbers them. */
function casesOf(junit: string): Case[] {
  const cases: Case[] = [];
  for (const suite of junit.matchAll(/<testsuite [^>]*package="([^"]+)"[^>]*>([\s\S]*?)<\/testsuite>/g)) {
    const [, section = "", body = ""] = suite;
    let number = 0;
    for (const testcase of body.matchAll(/<testcase [^>]*classname="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g)) {
      number += 1;
      const [, description = "", children = ""] = testcase;
      const outcome = /<(failure|error)\b/.test(children)
        ? "failed"
        : /<skipped\b/.test(children)
          ? "skipped"
          : "passed";
      cases.push({ id: `${section}/${number}`, description, outcome });
    }
  }
  return cases;
}

let server: TestServer;
let reportDir: string;
beforeAll(async () => {
  server = await startTestServer();
  reportDir = mkdtempSync(join(tmpdir(), "tracker-h2spec-"));
});
afterAll(async () => {
  await server?.close();
  if (reportDir) rmSync(reportDir, { recursive: true, force: true });
});

describe.runIf(existsSync(H2SPEC))("h2spec (HTTP/2 conformance)", () => {
  it("passes every case but the known ones", async () => {
    const report = join(reportDir, "h2spec.xml");
    // h2spec exits non-zero when any case fails: the report says which.
    await run(
      H2SPEC,
      // -o: seconds per case before h2spec calls it failed (its default of 2 is
      // not enough on a loaded 2-core machine, which made correct answers late).
      ["-h", "127.0.0.1", "-p", String(server.port), "-P", "/healthz", "-o", "5", "--junit-report", report],
      { maxBuffer: 16 * 1024 * 1024 },
    ).catch(() => undefined);
    const cases = casesOf(readFileSync(report, "utf8"));
    expect(cases.length).toBe(145);
    const notPassed = cases
      .filter((testCase) => testCase.outcome !== "passed" && !isUnstable(testCase.id))
      .map(({ id, description, outcome }) => `${id} ${outcome}: ${description}`);
    expect(notPassed).toEqual(
      Object.keys(KNOWN_FAILURES).map((id) => expect.stringContaining(`${id} failed: `)),
    );
    // The known failures each wait out h2spec's timeout.
  }, 120_000);
});
