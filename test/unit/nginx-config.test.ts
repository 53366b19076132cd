import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SHIPPED_CONFIG, substitute } from "../support/nginx.js";
import { watcherUpstreams } from "../topology/harness.js";

// The topology suite runs deploy/nginx/tracker.conf with only addresses and
// ports replaced: these hold the substitution to that.

const shipped = readFileSync(SHIPPED_CONFIG, "utf8");
const options = {
  upstreams: ["10.9.9.11:8080", "10.9.9.12:8080", "10.9.9.13:8080"],
  httpPort: 1001,
  grpcPort: 1002,
  logPath: "/tmp/x.log",
};

describe("the shipped nginx config, as the topology suite runs it", () => {
  it("changes only upstream servers, listen ports and the log path", () => {
    const replaced = substitute(shipped, options);
    const before = shipped.split("\n").filter((line) => !/^\s*server \d|listen |access_log /.test(line));
    const after = replaced.split("\n").filter((line) => !/^\s*server \d|listen |access_log /.test(line));
    expect(after).toEqual(before);
    // Every upstream gets every host, with the shipped parameters.
    expect(replaced.match(/server 10\.9\.9\.1\d:8080 max_fails=1 fail_timeout=5s;/g)).toHaveLength(6);
    expect(replaced).toContain("listen 127.0.0.1:1001;");
    expect(replaced).toContain("listen 127.0.0.1:1002 http2;");
  });

  it("refuses a config it no longer knows where to substitute in", () => {
    expect(() => substitute(shipped.replace("listen 8443 http2;", "listen 9443 http2;"), options)).toThrow(
      /no place for listen 127.0.0.1:1002 http2;/,
    );
  });

  it("reads which host served each watcher stream from the access log", () => {
    const line = (upstream: string, agent: string) =>
      `127.0.0.1 [02/Dec/2026:06:00:00 +0000] "POST /tracker.v1.IssueService/WatchIssues HTTP/2.0" 200 640 1.1 upstream=${upstream} upstream_status=200 request_id=r "${agent}"`;
    const log = [
      line("10.0.0.11:8080", "topology-watcher-1"),
      line("10.0.0.11:8080, 10.0.0.12:8080", "topology-watcher-1"),
      line("10.0.0.12:8080", "connect-es/2.3.0"),
      "",
    ].join("\n");
    expect(watcherUpstreams(log)).toEqual(new Map([["watcher-1", ["10.0.0.11:8080", "10.0.0.12:8080"]]]));
  });
});
