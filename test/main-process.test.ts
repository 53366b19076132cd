import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createClient } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { transportFor } from "./support/transports.js";

// `npm start` as a user runs it: the real entry point, its embedded
// PostgreSQL and Atlas, in a process of its own.

const dataDir = mkdtempSync(join(tmpdir(), "tracker-main-"));
// As root, the embedded PostgreSQL runs as `postgres`, which must enter this directory.
chmodSync(dataDir, 0o755);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  baseUrl: string;
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

async function startMain(): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, DATABASE_URL: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
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

describe("the server process (npm start)", () => {
  it("serves on an embedded PostgreSQL, stops cleanly on SIGTERM and keeps its data across restarts", async () => {
    const first = await startMain();
    const listening = first.logs.find((entry) => typeof entry.address === "string");
    expect(listening?.database).toBe(`embedded PostgreSQL in ${join(dataDir, "postgres")}`);
    const created = await createClient(
      ProjectService,
      transportFor("Connect JSON over HTTP/1.1", first.baseUrl),
    ).createProject({
      projectId: "KEEP",
      project: { displayName: "Survives restarts" },
    });
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.logs.map((entry) => entry.msg)).toContain("stopped");

    const second = await startMain();
    const client = createClient(ProjectService, transportFor("gRPC over HTTP/2", second.baseUrl));
    expect(await client.getProject({ name: "projects/KEEP" })).toEqual(created);
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
  });
});
