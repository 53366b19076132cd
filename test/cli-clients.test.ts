import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor } from "./support/transports.js";

// The real command-line clients users run: grpcurl through server
// reflection (no .proto files) and curl speaking Connect JSON.

const run = promisify(execFile);
const GRPCURL = ".tools/bin/grpcurl";

let server: TestServer;
let address: string;
beforeAll(async () => {
  server = await startTestServer();
  address = `127.0.0.1:${server.port}`;
});
afterAll(() => server.close());

const grpcurl = async (...args: string[]) =>
  (await run(GRPCURL, ["-plaintext", "-H", `authorization: Bearer ${await tokenFor("alice")}`, ...args]))
    .stdout;

describe.runIf(existsSync(GRPCURL))("grpcurl via reflection", () => {
  it("lists the services", async () => {
    const services = (await grpcurl(address, "list")).trim().split("\n");
    expect(services).toEqual(
      expect.arrayContaining([
        "tracker.v1.ProjectService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it("describes a message with its validation rules", async () => {
    const description = await grpcurl(address, "describe", "tracker.v1.Project");
    expect(description).toContain("message Project {");
    expect(description).toContain("string display_name = 3");
    expect(description).toContain("max_len: 100");
  });

  it("describes a service and a method", async () => {
    expect(await grpcurl(address, "describe", "tracker.v1.ProjectService")).toContain(
      "rpc CreateProject ( .tracker.v1.CreateProjectRequest ) returns ( .tracker.v1.Project );",
    );
    expect(await grpcurl(address, "describe", "tracker.v1.ProjectService.GetProject")).toContain(
      "rpc GetProject",
    );
  });

  it("creates, gets and lists a project", async () => {
    const created = JSON.parse(
      await grpcurl(
        "-d",
        '{"projectId":"GRPCURL","project":{"displayName":"From grpcurl"}}',
        address,
        "tracker.v1.ProjectService/CreateProject",
      ),
    );
    expect(created).toMatchObject({ name: "projects/GRPCURL", displayName: "From grpcurl" });
    const fetched = JSON.parse(
      await grpcurl("-d", '{"name":"projects/GRPCURL"}', address, "tracker.v1.ProjectService/GetProject"),
    );
    expect(fetched.uid).toBe(created.uid);
    const listed = JSON.parse(await grpcurl("-d", "{}", address, "tracker.v1.ProjectService/ListProjects"));
    expect(listed.projects.map((project: { name: string }) => project.name)).toContain("projects/GRPCURL");
  });

  it("shows a validation error with its field violations", async () => {
    const failure = await grpcurl(
      "-d",
      '{"projectId":"bad"}',
      address,
      "tracker.v1.ProjectService/CreateProject",
    ).then(
      () => expect.fail("expected grpcurl to fail"),
      (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
    );
    expect(failure).toContain("Code: InvalidArgument");
    expect(failure).toContain('"field": "project_id"');
    expect(failure).toContain('"domain": "tracker"');
  });

  it("checks health", async () => {
    expect(JSON.parse(await grpcurl(address, "grpc.health.v1.Health/Check"))).toEqual({ status: "SERVING" });
    const serviceHealth = await grpcurl(
      "-d",
      '{"service":"tracker.v1.ProjectService"}',
      address,
      "grpc.health.v1.Health/Check",
    );
    expect(JSON.parse(serviceHealth)).toEqual({ status: "SERVING" });
  });
});

describe("curl with Connect JSON", () => {
  const curl = async (path: string, body: string, ...extra: string[]) => {
    const { stdout } = await run("curl", [
      "-s",
      ...extra,
      "-H",
      "Content-Type: application/json",
      "-H",
      `authorization: Bearer ${await tokenFor("alice")}`,
      "-d",
      body,
      `http://${address}${path}`,
    ]);
    return JSON.parse(stdout);
  };

  it("creates and gets a project over HTTP/1.1 and HTTP/2", async () => {
    const created = await curl(
      "/tracker.v1.ProjectService/CreateProject",
      '{"projectId":"CURL","project":{"displayName":"From curl"}}',
    );
    expect(created.name).toBe("projects/CURL");
    const fetched = await curl(
      "/tracker.v1.ProjectService/GetProject",
      '{"name":"projects/CURL"}',
      "--http2-prior-knowledge",
    );
    expect(fetched).toEqual(created);
  });

  it("gets ALREADY_EXISTS with an ErrorInfo reason for a duplicate key", async () => {
    const body = '{"projectId":"CURLDUP","project":{"displayName":"x"}}';
    await curl("/tracker.v1.ProjectService/CreateProject", body);
    const error = await curl("/tracker.v1.ProjectService/CreateProject", body);
    expect(error.code).toBe("already_exists");
    expect(error.details[0].debug).toEqual({ reason: "PROJECT_ALREADY_EXISTS", domain: "tracker" });
  });
});
