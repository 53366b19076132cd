import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { mintDevToken } from "../src/auth/dev-issuer.js";
import { createTestDatabase } from "./support/database.js";

// `npm start` as a user runs it: the real entry point, its embedded
// PostgreSQL and Atlas, in a process of its own.

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), "tracker-main-"));
// As root, the embedded PostgreSQL runs as `postgres`, which must enter this directory.
chmodSync(dataDir, 0o755);
// A test that fails midway must not leave its server (and database) running.
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  baseUrl: string;
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

async function startMain(env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      DATABASE_URL: "",
      AUTH_MODE: "dev",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const logs: Array<Record<string, unknown>> = [];
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (typeof entry.address === "string") resolve(`http://${entry.address}`);
    });
    exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return { child, baseUrl, logs, exited };
}

/** A client of the server at `baseUrl` with a development token for alice. */
async function devClients(baseUrl: string) {
  const token = await mintDevToken(dataDir, { sub: "alice" });
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "2",
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  return { projects: createClient(ProjectService, transport), issues: createClient(IssueService, transport) };
}

describe("the server process (npm start)", () => {
  it("serves on an embedded PostgreSQL, stops cleanly on SIGTERM and keeps its data across restarts", async () => {
    const first = await startMain();
    const listening = first.logs.find((entry) => typeof entry.address === "string");
    expect(listening?.database).toBe(`embedded PostgreSQL in ${join(dataDir, "postgres")}`);
    // A token from `npm run token`, exactly as a user gets one.
    const { stdout } = await run(process.execPath, ["--import", "tsx", "tools/token.ts", "--sub", "alice"], {
      env: { ...process.env, DATA_DIR: dataDir },
    });
    const token = stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const asAlice = (baseUrl: string, httpVersion: "1.1" | "2") =>
      createClient(
        ProjectService,
        createConnectTransport({
          baseUrl,
          httpVersion,
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ],
        }),
      );
    await expect(
      createClient(
        ProjectService,
        createConnectTransport({ baseUrl: first.baseUrl, httpVersion: "1.1" }),
      ).getProject({
        name: "projects/KEEP",
      }),
    ).rejects.toMatchObject({ code: Code.Unauthenticated });
    const created = await asAlice(first.baseUrl, "1.1").createProject({
      projectId: "KEEP",
      project: { displayName: "Survives restarts" },
    });
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.logs.map((entry) => entry.msg)).toContain("stopped");

    const second = await startMain();
    // The development key survives restarts too, and with it the token.
    expect(await asAlice(second.baseUrl, "2").getProject({ name: "projects/KEEP" })).toEqual(created);
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  }, 60_000);

  it("refuses to start with an invalid configuration, naming every problem", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: { ...process.env, PORT: "eighty", DATABASE_URL: "mysql://nope", DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).not.toBe(0);
    expect(stderr).toContain("PORT");
    expect(stderr).toContain("DATABASE_URL");
    expect(stderr).toContain("OIDC_ISSUER: required when AUTH_MODE=oidc");
  });

  it("refuses development authentication when NODE_ENV=production", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: { ...process.env, AUTH_MODE: "dev", NODE_ENV: "production", DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).not.toBe(0);
    expect(stderr).toContain(
      "AUTH_MODE: dev mode trusts a local key and is refused when NODE_ENV=production",
    );
  });

  it("finishes all 50 calls in flight when SIGTERM arrives, then exits 0", async () => {
    const database = await createTestDatabase();
    try {
      // A pool large enough for every call to hold a connection while it waits.
      const server = await startMain({
        DATABASE_URL: database.url,
        DATABASE_POOL_MAX: "60",
        RATE_LIMIT_PER_SECOND: "1000",
      });
      const { projects, issues } = await devClients(server.baseUrl);
      const project = await projects.createProject({ projectId: "DRAIN", project: { displayName: "drain" } });
      // Hold the project's row lock, so 50 CreateIssue calls are surely in
      // flight (waiting on it inside the server) when SIGTERM arrives.
      const blocker = new pg.Client({ connectionString: database.url });
      await blocker.connect();
      await blocker.query("BEGIN");
      await blocker.query("SELECT 1 FROM projects WHERE key = 'DRAIN' FOR UPDATE");
      const monitor = new pg.Client({ connectionString: database.url });
      await monitor.connect();
      const calls = Array.from({ length: 50 }, (_, i) =>
        issues.createIssue({ parent: project.name, issue: { title: `in flight ${i}` } }),
      );
      let settledEarly = 0;
      for (const call of calls)
        call.then(
          () => settledEarly++,
          () => settledEarly++,
        );
      const deadline = Date.now() + 30_000;
      for (let waiting = 0; waiting < 50; ) {
        // A call that ended while the lock is held failed: stop waiting, the assertions below say how.
        if (settledEarly > 0 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
        // Asked outside the blocker's transaction, whose statistics snapshot would be stale.
        const { rows } = await monitor.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        );
        waiting = rows[0].n;
      }
      server.child.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 300));
      await blocker.query("ROLLBACK");
      await blocker.end();
      await monitor.end();
      const created = await Promise.all(calls);
      expect(created.map((issue) => Number(issue.number)).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      expect(await server.exited).toBe(0);
      expect(server.logs.map((entry) => entry.msg)).toEqual(
        expect.arrayContaining(["shutting down", "stopped"]),
      );
    } finally {
      await database.drop();
    }
  }, 60_000);
  it("runs WORKERS processes on one port, each serving, and SIGTERM drains them all", async () => {
    const database = await createTestDatabase();
    try {
      const server = await startMain({ DATABASE_URL: database.url, WORKERS: "2" });
      expect(server.logs.find((entry) => typeof entry.address === "string")?.workers).toBe(2);
      // A fresh HTTP/1.1 connection per call: the primary hands connections out round-robin.
      const token = await mintDevToken(dataDir, { sub: "alice" });
      for (let i = 0; i < 6; i++) {
        const response = await fetch(`${server.baseUrl}/tracker.v1.ProjectService/ListProjects`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            connection: "close",
          },
          body: "{}",
        });
        expect(response.status).toBe(200);
      }
      await expect
        .poll(() =>
          server.logs.filter((entry) => entry.procedure === "/tracker.v1.ProjectService/ListProjects"),
        )
        .toHaveLength(6);
      const servedBy = new Set(
        server.logs.filter((entry) => entry.procedure !== undefined).map((entry) => entry.pid),
      );
      expect(servedBy.size).toBe(2);
      expect(servedBy.has(server.child.pid)).toBe(false);
      // Whichever worker a scrape reaches, it counts the calls of both.
      for (let scrape = 0; scrape < 4; scrape++) {
        const metrics = await (
          await fetch(`${server.baseUrl}/metrics`, { headers: { connection: "close" } })
        ).text();
        expect(metrics).toMatch(
          /rpc_server_requests_total\{procedure="\/tracker\.v1\.ProjectService\/ListProjects",code="ok",protocol="connect"\} 6\n/,
        );
      }
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
      // Two workers and the primary each say so.
      expect(server.logs.filter((entry) => entry.msg === "stopped")).toHaveLength(3);
    } finally {
      await database.drop();
    }
  }, 60_000);
});

/** Runs a command to its end: its exit code and everything it printed. */
async function runToEnd(command: string, args: string[], env: Record<string, string>) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  // "close": after the exit and the last of its output.
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return { code, stdout, stderr };
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("errors a newcomer meets, in one line and no stack trace", () => {
  it("an invalid PORT stops `npm start` before anything is built", async () => {
    const { code, stdout, stderr } = await runToEnd("npm", ["start"], { PORT: "eighty", DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'invalid configuration: PORT: a port number from 0 to 65535 (0 for any free one), not "eighty"\n',
    );
    // Only npm's own banner: no tool or web build ran first.
    expect(stdout.trim().split("\n")).toEqual([
      "> tracker@0.1.0 start",
      expect.stringMatching(/^> AUTH_MODE=\S+ node --max-semi-space-size=16 --import tsx tools\/start\.ts$/),
    ]);
  }, 60_000);

  it("an unreachable DATABASE_URL is named, with its host and port, never its password", async () => {
    const port = await closedPort();
    const { code, stderr } = await runToEnd(process.execPath, ["--import", "tsx", "src/main.ts"], {
      DATABASE_URL: `postgres://tracker:hunter2@127.0.0.1:${port}/tracker`,
      AUTH_MODE: "dev",
      DATA_DIR: dataDir,
      PORT: "0",
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      `DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:${port}: connection refused (is PostgreSQL running and listening there?)\n`,
    );
  }, 60_000);

  it("an OpenID provider that cannot be reached is named (OIDC_ISSUER), and the embedded database stops", async () => {
    const port = await closedPort();
    const { code, stderr } = await runToEnd(process.execPath, ["--import", "tsx", "src/main.ts"], {
      DATABASE_URL: "",
      DATA_DIR: dataDir,
      PORT: "0",
      AUTH_MODE: "oidc",
      OIDC_ISSUER: `http://127.0.0.1:${port}`,
      OIDC_AUDIENCE: "tracker",
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      `OIDC_ISSUER: http://127.0.0.1:${port}/.well-known/openid-configuration cannot be fetched (ECONNREFUSED)\n`,
    );
    // Nothing left running on the data directory: the next test starts a server on it.
    const next = await startMain();
    expect((await fetch(`${next.baseUrl}/readyz`)).status).toBe(200);
    next.child.kill("SIGTERM");
    expect(await next.exited).toBe(0);
  }, 90_000);

  it("a second server on the same DATA_DIR says the directory is in use, and the first serves on", async () => {
    const first = await startMain();
    const second = await runToEnd(process.execPath, ["--import", "tsx", "src/main.ts"], {
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      DATABASE_URL: "",
      AUTH_MODE: "dev",
    });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      /^DATA_DIR: \S+ is in use: its PostgreSQL is already running as process \d+ \(another `npm start`\?\)\. Stop that server, or give this one another DATA_DIR\.\n$/,
    );
    expect(second.stderr).toContain(dataDir);
    expect((await fetch(`${first.baseUrl}/readyz`)).status).toBe(200);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
  }, 60_000);
});

/** The machine's own Node when it is older than 24 (as on a machine whose npm scripts bring 24). */
const olderNode = (() => {
  try {
    const version = execFileSync("/usr/bin/node", ["--version"], { encoding: "utf8" }).trim();
    return Number(version.slice(1).split(".")[0]) < 24 ? { path: "/usr/bin/node", version } : undefined;
  } catch {
    return undefined;
  }
})();

describe.runIf(olderNode)("started outside npm on an older Node", () => {
  const advice = `tracker needs Node.js 24 or newer, not ${olderNode?.version}: run it through npm (npm start, npm test, npm run ...), which uses the Node 24 that npm ci puts in node_modules/.bin, or install Node 24 (nvm install reads .nvmrc).\n`;

  it.each([
    ["the server", ["--import", "tsx", "src/main.ts"]],
    ["the tools installer", ["tools/install.mjs", "atlas"]],
  ])("%s says what to do, in one line, before anything else", async (_name, args) => {
    const { code, stdout, stderr } = await runToEnd(olderNode?.path ?? "", args, { DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(stderr).toBe(advice);
    expect(stdout).toBe("");
  });
});
