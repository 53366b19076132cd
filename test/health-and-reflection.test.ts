import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../gen/proto/grpc/health/v1/health_pb.js";
import * as v1alpha from "../gen/proto/grpc/reflection/v1alpha/reflection_pb.js";
import { expectError } from "./support/errors.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe("grpc.health.v1.Health", () => {
  it("reports the server and each API service as SERVING", async () => {
    const health = createClient(Health, transportFor("gRPC over HTTP/2", server.baseUrl));
    expect((await health.check({})).status).toBe(Status.SERVING);
    expect((await health.check({ service: "tracker.v1.ProjectService" })).status).toBe(Status.SERVING);
    const { statuses } = await health.list({});
    expect(Object.keys(statuses).sort()).toEqual([
      "",
      "tracker.v1.AuditService",
      "tracker.v1.CommentService",
      "tracker.v1.IssueRelationService",
      "tracker.v1.IssueService",
      "tracker.v1.LabelService",
      "tracker.v1.MemberService",
      "tracker.v1.ProjectService",
      "tracker.v1.UserService",
    ]);
  });

  it("answers NOT_FOUND for a service it does not serve", async () => {
    const health = createClient(Health, transportFor("Connect JSON over HTTP/1.1", server.baseUrl));
    await expectError(health.check({ service: "tracker.v1.NoSuchService" }), Code.NotFound);
  });

  it("streams the current status on Watch, and SERVICE_UNKNOWN for unknown services", async () => {
    const health = createClient(Health, transportFor("Connect binary over HTTP/2", server.baseUrl));
    const abort = new AbortController();
    for await (const response of health.watch({}, { signal: abort.signal })) {
      expect(response.status).toBe(Status.SERVING);
      abort.abort();
      break;
    }
    const unknown = [];
    for await (const response of health.watch({ service: "nope" })) unknown.push(response.status);
    expect(unknown).toEqual([Status.SERVICE_UNKNOWN]);
  });

  it("reports NOT_SERVING when the database cannot be reached", async () => {
    const health = createClient(Health, transportFor("gRPC-Web over HTTP/1.1", server.baseUrl));
    const { isReachable } = server.database;
    server.database.isReachable = async () => false;
    try {
      expect((await health.check({})).status).toBe(Status.NOT_SERVING);
    } finally {
      server.database.isReachable = isReachable;
    }
    expect((await health.check({})).status).toBe(Status.SERVING);
  });
});

describe("grpc.reflection.v1alpha.ServerReflection", () => {
  it("lists services and returns a file with its dependencies, over a bidi stream", async () => {
    const reflection = createClient(
      v1alpha.ServerReflection,
      transportFor("gRPC over HTTP/2", server.baseUrl),
    );
    async function* requests() {
      yield create(v1alpha.ServerReflectionRequestSchema, {
        messageRequest: { case: "listServices", value: "" },
      });
      yield create(v1alpha.ServerReflectionRequestSchema, {
        messageRequest: { case: "fileContainingSymbol", value: "tracker.v1.ProjectService.CreateProject" },
      });
      yield create(v1alpha.ServerReflectionRequestSchema, {
        messageRequest: { case: "fileByFilename", value: "no/such/file.proto" },
      });
    }
    const responses = [];
    for await (const response of reflection.serverReflectionInfo(requests()))
      responses.push(response.messageResponse);
    expect(responses).toHaveLength(3);
    const [services, file, missing] = responses;
    expect(services?.case).toBe("listServicesResponse");
    expect(file?.case).toBe("fileDescriptorResponse");
    if (file?.case === "fileDescriptorResponse") {
      // The file itself, then google/protobuf/timestamp.proto, buf/validate/validate.proto, ...
      expect(file.value.fileDescriptorProto.length).toBeGreaterThanOrEqual(5);
    }
    expect(missing).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
  });
});
