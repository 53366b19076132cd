import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor } from "./support/transports.js";

// The Go client generated into gen/go, used as a Go program would: `go test`
// in test/go (its own module, on gen/go through a replace directive) walks the
// API journey against this real server over Connect and over gRPC. Skipped,
// saying why, where Go is not installed (.ci/run requires it).

const run = promisify(execFile);
const missing =
  spawnSync("go", ["version"], { stdio: "ignore" }).status === 0
    ? undefined
    : "Go is not installed (1.26 or newer)";

// The reason is in the name: vitest shows a skipped block's name, not why.
describe.skipIf(missing)(`the Go client${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  // The first run compiles the client's Go dependencies (17 s here, on 2
  // cores, with the module cache filled); later ones hit Go's build cache.
  it("creates, gets, lists, updates, conflicts, fails, and watches over Connect and gRPC", {
    timeout: 300_000,
  }, async () => {
    const env = { ...process.env, TRACKER_URL: server.baseUrl, TRACKER_TOKEN: await tokenFor("gopher") };
    // -count=1: a pass is never one go test remembers from an earlier run.
    const { stdout } = await run("go", ["test", "-count=1", "-v", "./..."], { cwd: "test/go", env }).catch(
      (error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`go test failed:\n${error.stdout ?? ""}${error.stderr ?? error.message}`);
      },
    );
    expect(stdout).toContain("--- PASS: TestJourney/Connect");
    expect(stdout).toContain("--- PASS: TestJourney/gRPC");
    expect(stdout).not.toContain("SKIP");
  });
});
