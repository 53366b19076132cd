import { randomUUID } from "node:crypto";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { codePoint, JOINED, REFUSED_IN_ONE_LINE } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, transportFor } from "./support/transports.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

// Keys are unique per protocol run, as all four share one database.
let sequence = 0;
const newKey = () =>
  `P${(sequence++).toString(36).toUpperCase().padStart(4, "0")}${Math.floor(Math.random() * 1e4)}`;

describe.each(PROTOCOLS)("ProjectService over %s", (protocol) => {
  let client: Client<typeof ProjectService>;
  beforeAll(() => {
    client = createClient(ProjectService, transportFor(protocol, server.baseUrl));
  });

  it("creates a project named after its key and gets it back", async () => {
    const key = newKey();
    const created = await client.createProject({
      projectId: key,
      project: { displayName: "Core platform", description: "The *core*." },
    });
    expect(created).toMatchObject({
      name: `projects/${key}`,
      displayName: "Core platform",
      description: "The *core*.",
      etag: expect.stringMatching(/.+/),
    });
    expect(created.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.createTime?.seconds).toBeGreaterThan(0n);
    expect(created.updateTime).toEqual(created.createTime);

    const fetched = await client.getProject({ name: created.name });
    expect(fetched).toEqual(created);
  });

  it("ignores output-only fields sent on create", async () => {
    const key = newKey();
    const created = await client.createProject({
      projectId: key,
      project: { name: "projects/OTHER", uid: randomUUID(), displayName: "X", etag: "999" },
    });
    expect(created.name).toBe(`projects/${key}`);
    expect(created.etag).not.toBe("999");
  });

  it("refuses a second project with the same key: ALREADY_EXISTS", async () => {
    const key = newKey();
    await client.createProject({ projectId: key, project: { displayName: "First" } });
    await expectError(
      client.createProject({ projectId: key, project: { displayName: "Second" } }),
      Code.AlreadyExists,
      "PROJECT_ALREADY_EXISTS",
    );
    expect((await client.getProject({ name: `projects/${key}` })).displayName).toBe("First");
  });

  it.each([
    ["a lower-case key", { projectId: "core", project: { displayName: "x" } }, ["project_id"]],
    ["a one-letter key", { projectId: "C", project: { displayName: "x" } }, ["project_id"]],
    ["a key of 11 characters", { projectId: "ABCDEFGHIJK", project: { displayName: "x" } }, ["project_id"]],
    ["a key starting with a digit", { projectId: "1CORE", project: { displayName: "x" } }, ["project_id"]],
    ["no project", { projectId: "CORE" }, ["project"]],
    ["an empty display name", { projectId: "CORE", project: { displayName: "" } }, ["project.display_name"]],
    [
      "a display name of 101 chars",
      { projectId: "CORE", project: { displayName: "x".repeat(101) } },
      ["project.display_name"],
    ],
    [
      "a control character in the display name",
      { projectId: "CORE", project: { displayName: "a\u0007b" } },
      ["project.display_name"],
    ],
    [
      "a description over 10000 chars",
      { projectId: "CORE", project: { displayName: "x", description: "d".repeat(10_001) } },
      ["project.description"],
    ],
    [
      "a request_id that is no UUID",
      { projectId: "CORE", project: { displayName: "x" }, requestId: "42" },
      ["request_id"],
    ],
  ])("rejects %s with INVALID_ARGUMENT naming the field", async (_, request, fields) => {
    const error = await expectError(client.createProject(request), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual(fields);
  });

  it("returns NOT_FOUND for a project that does not exist", async () => {
    const error = await expectError(
      client.getProject({ name: "projects/NOPE" }),
      Code.NotFound,
      "RESOURCE_NOT_FOUND",
    );
    expect(error.rawMessage).toBe("projects/NOPE does not exist");
  });

  it("rejects a malformed name with INVALID_ARGUMENT", async () => {
    const error = await expectError(client.getProject({ name: "CORE" }), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual(["name"]);
  });

  it("replays a retried create with the same request_id instead of creating twice", async () => {
    const requestId = randomUUID();
    const request = { projectId: newKey(), project: { displayName: "Once" }, requestId };
    const first = await client.createProject(request);
    const retry = await client.createProject(request);
    expect(retry).toEqual(first);
  });

  it("refuses a request_id reused for a different request", async () => {
    const requestId = randomUUID();
    await client.createProject({ projectId: newKey(), project: { displayName: "A" }, requestId });
    const error = await expectError(
      client.createProject({ projectId: newKey(), project: { displayName: "B" }, requestId }),
      Code.InvalidArgument,
      "REQUEST_ID_REUSED",
    );
    expect(violatedFields(error)).toEqual(["request_id"]);
  });

  it("refuses line breaks, bidirectional controls and invisible characters in a display name, naming project.display_name, and keeps joiners", async () => {
    for (const character of REFUSED_IN_ONE_LINE) {
      const error = await expectError(
        client.createProject({ projectId: newKey(), project: { displayName: `Core ${character}eroc` } }),
        Code.InvalidArgument,
        "INVALID_ARGUMENT",
      );
      expect(violatedFields(error), codePoint(character)).toEqual(["project.display_name"]);
    }
    const displayName = `\u05DC\u05D9\u05D1\u05D4 ${JOINED}`;
    const project = await client.createProject({ projectId: newKey(), project: { displayName } });
    expect(project.displayName).toBe(displayName);
    const error = await expectError(
      client.updateProject({
        project: { name: project.name, displayName: "\u202Dcore" },
        updateMask: { paths: ["display_name"] },
      }),
      Code.InvalidArgument,
      "INVALID_ARGUMENT",
    );
    expect(violatedFields(error)).toEqual(["project.display_name"]);
  });
});

describe("CreateProject idempotency under concurrency", () => {
  it("creates exactly one project when the same request arrives 10 times at once", async () => {
    const client = createClient(ProjectService, transportFor("Connect binary over HTTP/2", server.baseUrl));
    const request = { projectId: newKey(), project: { displayName: "Racy" }, requestId: randomUUID() };
    const results = await Promise.all(Array.from({ length: 10 }, () => client.createProject(request)));
    expect(new Set(results.map((project) => project.uid)).size).toBe(1);
    const rows = await server.database.db
      .selectFrom("projects")
      .select("uid")
      .where("key", "=", request.projectId)
      .execute();
    expect(rows).toHaveLength(1);
  });

  it("lets exactly one of 10 concurrent creates of one key win; the rest get ALREADY_EXISTS", async () => {
    const client = createClient(ProjectService, transportFor("gRPC over HTTP/2", server.baseUrl));
    const projectId = newKey();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        client.createProject({ projectId, project: { displayName: `Try ${i}` } }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected")
        await expectError(Promise.reject(outcome.reason), Code.AlreadyExists);
    }
  });
});

describe("UpdateProject, DeleteProject, UndeleteProject", () => {
  const client = () =>
    createClient(ProjectService, transportFor("Connect JSON over HTTP/1.1", server.baseUrl));

  it("updates the masked fields with a new etag; empty mask changes nothing", async () => {
    const created = await client().createProject({
      projectId: newKey(),
      project: { displayName: "Old", description: "d" },
    });
    expect(await client().updateProject({ project: { name: created.name, displayName: "ignored" } })).toEqual(
      created,
    );
    const updated = await client().updateProject({
      project: { name: created.name, displayName: "New", etag: created.etag },
      updateMask: { paths: ["display_name"] },
    });
    expect(updated).toMatchObject({ displayName: "New", description: "d" });
    expect(updated.etag).not.toBe(created.etag);
    const all = await client().updateProject({
      project: { name: created.name, displayName: "All", description: "" },
      updateMask: { paths: ["*"] },
    });
    expect(all).toMatchObject({ displayName: "All", description: "" });
  });

  it("rejects output-only mask paths, empty display names and stale etags", async () => {
    const created = await client().createProject({ projectId: newKey(), project: { displayName: "P" } });
    const badPath = await expectError(
      client().updateProject({ project: { name: created.name }, updateMask: { paths: ["uid"] } }),
      Code.InvalidArgument,
    );
    expect(violatedFields(badPath)).toEqual(["update_mask"]);
    const emptyName = await expectError(
      client().updateProject({
        project: { name: created.name, displayName: "" },
        updateMask: { paths: ["display_name"] },
      }),
      Code.InvalidArgument,
    );
    expect(violatedFields(emptyName)).toEqual(["project.display_name"]);
    await client().updateProject({
      project: { name: created.name, description: "x" },
      updateMask: { paths: ["description"] },
    });
    await expectError(
      client().updateProject({
        project: { name: created.name, description: "y", etag: created.etag },
        updateMask: { paths: ["description"] },
      }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    expect((await client().getProject({ name: created.name })).description).toBe("x");
    const badName = await expectError(
      client().updateProject({ project: { name: "CORE" } }),
      Code.InvalidArgument,
    );
    expect(violatedFields(badName)).toEqual(["project"]);
  });

  it("soft-deletes: hidden from ListProjects unless show_deleted, readable, restorable", async () => {
    const created = await client().createProject({ projectId: newKey(), project: { displayName: "Doomed" } });
    const names = async (showDeleted: boolean) => {
      const all: string[] = [];
      let pageToken = "";
      do {
        const page = await client().listProjects({ showDeleted, pageToken, pageSize: 1000 });
        all.push(...page.projects.map((project) => project.name));
        pageToken = page.nextPageToken;
      } while (pageToken);
      return all;
    };
    const deleted = await client().deleteProject({ name: created.name, etag: created.etag });
    expect(deleted.deleteTime).toBeDefined();
    expect(await names(false)).not.toContain(created.name);
    expect(await names(true)).toContain(created.name);
    expect(await client().getProject({ name: created.name })).toEqual(deleted);
    await expectError(
      client().deleteProject({ name: created.name }),
      Code.FailedPrecondition,
      "PROJECT_DELETED",
    );
    await expectError(
      client().updateProject({
        project: { name: created.name, displayName: "x" },
        updateMask: { paths: ["display_name"] },
      }),
      Code.FailedPrecondition,
      "PROJECT_DELETED",
    );
    const restored = await client().undeleteProject({ name: created.name });
    expect(restored.deleteTime).toBeUndefined();
    expect(await names(false)).toContain(created.name);
    await expectError(
      client().undeleteProject({ name: created.name }),
      Code.FailedPrecondition,
      "PROJECT_NOT_DELETED",
    );
    await expectError(client().deleteProject({ name: "projects/NOPE" }), Code.NotFound);
  });
});
