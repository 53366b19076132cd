// The board's development sign-in (src/server/dev-sign-in.ts): present in
// AUTH_MODE=dev only, for this machine only, JSON only, small bodies only,
// and only for subjects that are handles.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHostNetwork, type HostNetwork, hostNetworkUnavailable } from "./support/netns.js";
import { startTestServer, type TestServer } from "./support/server.js";

let dataDir: string;
let dev: TestServer;
let oidc: TestServer;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tracker-dev-sign-in-"));
  [dev, oidc] = await Promise.all([
    startTestServer({ settings: { AUTH_MODE: "dev", DATA_DIR: dataDir } }),
    startTestServer(),
  ]);
});
afterAll(async () => {
  await Promise.all([dev?.close(), oidc?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

const signIn = (server: TestServer, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.baseUrl}/dev/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/** A request with exactly these headers (fetch will not send another Host). */
function rawRequest(port: number, method: string, headers: Record<string, string>, body = "") {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method, path: "/dev/sign-in", headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    },
  );
}

describe("development sign-in", () => {
  it("mints a token the server accepts, whose subject becomes the new user's handle", async () => {
    expect((await fetch(`${dev.baseUrl}/dev/sign-in`)).status).toBe(200);
    const answer = await signIn(dev, {
      subject: "newcomer",
      email: "new@example.com",
      displayName: "New Comer",
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    const { token } = (await answer.json()) as { token: string };
    const me = await fetch(`${dev.baseUrl}/tracker.v1.UserService/GetCurrentUser`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: "{}",
    });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      handle: "newcomer",
      email: "new@example.com",
      displayName: "New Comer",
    });
  });

  it("is absent (404) in AUTH_MODE=oidc", async () => {
    expect((await fetch(`${oidc.baseUrl}/dev/sign-in`)).status).toBe(404);
    const answer = await signIn(oidc, { subject: "alice" });
    expect(answer.status).toBe(404);
    expect(await answer.json()).toEqual({
      error: "no development sign-in: the server is not in AUTH_MODE=dev",
    });
  });

  it("refuses bodies that are not JSON, which an HTML form or a simple CORS request would send", async () => {
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]) {
      const answer = await signIn(dev, '{"subject":"alice"}', { "content-type": type });
      expect(answer.status, type).toBe(415);
      expect(await answer.json()).toEqual({ error: "send the sign-in as Content-Type: application/json" });
    }
  });

  it("refuses a body over 4 KiB, announced or streamed", async () => {
    const big = JSON.stringify({ subject: "alice", displayName: "x".repeat(5000) });
    const announced = await signIn(dev, big);
    expect(announced.status).toBe(413);
    expect(await announced.json()).toEqual({ error: "the sign-in body may be at most 4096 bytes" });
    // No Content-Length: chunked, counted as it arrives.
    const streamed = await fetch(`${dev.baseUrl}/dev/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it("refuses a subject that is not a handle, saying what one is", async () => {
    for (const subject of ["Alice Smith", "me", "", "-alice", "a".repeat(40), 42, undefined]) {
      const answer = await signIn(dev, { subject });
      expect(answer.status, String(subject)).toBe(400);
      const body = (await answer.json()) as { error: string; field: string };
      expect(body.field).toBe("subject");
      expect(body.error).toMatch(/^subject: a handle like alice or ada-lovelace: 1 to 39 lower-case letters/);
    }
    expect((await signIn(dev, "{not json")).status).toBe(400);
    const badEmail = await signIn(dev, { subject: "alice", email: "not an address" });
    expect(await badEmail.json()).toMatchObject({ field: "email" });
    const extra = await signIn(dev, { subject: "alice", admin: true });
    expect(await extra.json()).toEqual({ error: 'unknown field "admin"', field: "admin" });
  });

  it("refuses pages of other origins, other Host names (DNS rebinding), and their preflights", async () => {
    const body = '{"subject":"alice"}';
    const json = { "content-type": "application/json" };
    const foreign = await rawRequest(dev.port, "POST", { ...json, origin: "https://evil.example" }, body);
    expect(foreign.status).toBe(403);
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await rawRequest(dev.port, "OPTIONS", {
      origin: "https://evil.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    const rebound = await rawRequest(dev.port, "POST", { ...json, host: `evil.example:${dev.port}` }, body);
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toEqual({
      error: "development sign-in answers only requests for localhost, 127.0.0.1 or [::1]",
    });
    // A page of this machine through `npm run web`'s proxy may; the answer
    // allows no other origin's script to read it.
    const local = await rawRequest(dev.port, "POST", { ...json, origin: "http://localhost:5173" }, body);
    expect(local.status).toBe(200);
    expect(local.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

// Another host: a network namespace of this test's own (test/support/netns.ts), which
// reaches the server at the bridge's address, so the server sees a peer that is not loopback.
const noHostNetwork = hostNetworkUnavailable();
if (noHostNetwork && process.env.CI) throw new Error(`CI needs host networks: ${noHostNetwork}`);
describe.skipIf(noHostNetwork)(
  `development sign-in from another host${noHostNetwork ? ` (skipped: ${noHostNetwork})` : ""}`,
  () => {
    let network: HostNetwork;
    let exposed: TestServer;
    beforeAll(async () => {
      network = createHostNetwork(1);
      exposed = await startTestServer({
        host: network.gateway,
        settings: { AUTH_MODE: "dev", DATA_DIR: dataDir },
      });
    });
    afterAll(async () => {
      await exposed?.close();
      network?.destroy();
    });

    it("is refused (403), even with a loopback Host header", async () => {
      const host = network.hosts[0] as HostNetwork["hosts"][number];
      // Node inside the namespace; the Host header claims localhost, which must not help.
      const script = `
        const http = require("node:http");
        const req = http.request({ host: ${JSON.stringify(network.gateway)}, port: ${exposed.port}, method: "POST",
          path: "/dev/sign-in", headers: { host: "localhost:${exposed.port}", "content-type": "application/json" } },
          (res) => { let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => console.log(JSON.stringify({ status: res.statusCode, body }))); });
        req.end('{"subject":"alice"}');`;
      const [command, ...args] = host.inside;
      const { stdout } = await promisify(execFile)(
        command as string,
        [...args, process.execPath, "-e", script],
        {
          timeout: 20_000,
        },
      );
      const { status, body } = JSON.parse(stdout) as { status: number; body: string };
      expect(status).toBe(403);
      expect(JSON.parse(body)).toEqual({
        error: "development sign-in answers only this machine (a loopback address)",
      });
    });
  },
);
