import { randomUUID } from "node:crypto";
import { create, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { FieldMaskSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssueEvent_Kind, IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { type Label, type LabelSchema, LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { codePoint, JOINED, REFUSED_IN_ONE_LINE } from "./support/fixtures.js";
import { inProcessTransport } from "./support/in-process.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, type Protocol, transportFor } from "./support/transports.js";

let server: TestServer;
// In process (the handler tier) where the protocol does not matter; over
// every protocol, on a socket, in "LabelService over ...".
let labels: Client<typeof LabelService>;
let projects: Client<typeof ProjectService>;
beforeAll(async () => {
  server = await startTestServer();
  labels = createClient(LabelService, inProcessTransport(server.ctx));
  projects = createClient(ProjectService, inProcessTransport(server.ctx));
});
afterAll(() => server.close());

const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });

const clientsOver = (protocol: Protocol) => ({
  labels: createClient(LabelService, transportFor(protocol, server.baseUrl)),
  projects: createClient(ProjectService, transportFor(protocol, server.baseUrl)),
});

// Every test works in projects of its own, as all share one database.
let sequence = 0;
async function newProject(): Promise<string> {
  const key = `L${(sequence++).toString(36).toUpperCase().padStart(4, "0")}${Math.floor(Math.random() * 1e4)}`;
  const project = await projects.createProject({ projectId: key, project: { displayName: key } });
  return project.name;
}

async function newLabel(
  parent: string,
  labelId = "bug",
  label: MessageInitShape<typeof LabelSchema> = {},
): Promise<Label> {
  return labels.createLabel({ parent, labelId, label: { displayName: "Bug", ...label } });
}

describe.each(PROTOCOLS)("LabelService over %s", (protocol) => {
  let client: Client<typeof LabelService>;
  beforeAll(() => {
    client = clientsOver(protocol).labels;
  });

  it("creates a label named after its id and gets it back", async () => {
    const parent = await newProject();
    const created = await client.createLabel({
      parent,
      labelId: "good-first-issue",
      label: { displayName: "Good first issue", description: "Small and well described.", color: "#00ff7F" },
    });
    expect(created).toMatchObject({
      name: `${parent}/labels/good-first-issue`,
      displayName: "Good first issue",
      description: "Small and well described.",
      color: "#00ff7F",
      etag: expect.stringMatching(/.+/),
    });
    expect(created.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.createTime?.seconds).toBeGreaterThan(0n);
    expect(created.updateTime).toEqual(created.createTime);
    expect(await client.getLabel({ name: created.name })).toEqual(created);
  });

  it("lists a project's labels by id", async () => {
    const parent = await newProject();
    for (const id of ["ux", "bug", "docs"]) await newLabel(parent, id);
    const response = await client.listLabels({ parent });
    expect(response.labels.map((label) => label.name)).toEqual(
      ["bug", "docs", "ux"].map((id) => `${parent}/labels/${id}`),
    );
    expect(response.nextPageToken).toBe("");
  });

  it("updates the fields in the mask and gives the label a new etag", async () => {
    const label = await newLabel(await newProject(), "bug", { description: "Broken", color: "#ff0000" });
    const updated = await client.updateLabel({
      label: { ...label, displayName: "Defect", description: "ignored", color: "#00ff00" },
      updateMask: mask("display_name", "color"),
    });
    expect(updated).toMatchObject({
      name: label.name,
      uid: label.uid,
      displayName: "Defect",
      description: "Broken",
      color: "#00ff00",
      createTime: label.createTime,
    });
    expect(updated.etag).not.toBe(label.etag);
    expect(updated.updateTime?.seconds).toBeGreaterThanOrEqual(label.updateTime?.seconds ?? 0n);
    expect(updated.updateTime).not.toEqual(label.updateTime);
    expect(await client.getLabel({ name: label.name })).toEqual(updated);
  });

  it("deletes a label for good", async () => {
    const label = await newLabel(await newProject());
    expect(await client.deleteLabel({ name: label.name, etag: label.etag })).toEqual(expect.anything());
    await expectError(client.getLabel({ name: label.name }), Code.NotFound, "RESOURCE_NOT_FOUND");
  });

  it("refuses line breaks, bidirectional controls and invisible characters in a display name, naming label.display_name, and keeps joiners", async () => {
    const parent = await newProject();
    for (const character of REFUSED_IN_ONE_LINE) {
      const error = await expectError(
        client.createLabel({ parent, labelId: "bug", label: { displayName: `bug ${character}exe` } }),
        Code.InvalidArgument,
        "INVALID_ARGUMENT",
      );
      expect(violatedFields(error), codePoint(character)).toEqual(["label.display_name"]);
    }
    const displayName = `\u05D1\u05D0\u05D2 ${JOINED}`;
    const label = await client.createLabel({ parent, labelId: "bug", label: { displayName } });
    expect(label.displayName).toBe(displayName);
    const error = await expectError(
      client.updateLabel({
        label: { ...label, displayName: "\u2066urgent\u2069" },
        updateMask: mask("display_name"),
      }),
      Code.InvalidArgument,
      "INVALID_ARGUMENT",
    );
    expect(violatedFields(error)).toEqual(["label.display_name"]);
  });
});

describe("CreateLabel", () => {
  it("ignores output-only fields sent on create", async () => {
    const parent = await newProject();
    const created = await labels.createLabel({
      parent,
      labelId: "bug",
      label: { name: "projects/OTHER/labels/x", uid: randomUUID(), displayName: "Bug", etag: "999" },
    });
    expect(created.name).toBe(`${parent}/labels/bug`);
    expect(created.etag).not.toBe("999");
  });

  it("refuses a second label with the same id in a project: ALREADY_EXISTS", async () => {
    const parent = await newProject();
    await newLabel(parent, "bug", { displayName: "First" });
    await expectError(
      newLabel(parent, "bug", { displayName: "Second" }),
      Code.AlreadyExists,
      "LABEL_ALREADY_EXISTS",
    );
    expect((await labels.getLabel({ name: `${parent}/labels/bug` })).displayName).toBe("First");
  });

  it("allows the same id in another project", async () => {
    const first = await newLabel(await newProject());
    const second = await newLabel(await newProject());
    expect(second.uid).not.toBe(first.uid);
  });

  it("returns NOT_FOUND for a project that does not exist", async () => {
    const error = await expectError(newLabel("projects/NOPE"), Code.NotFound, "RESOURCE_NOT_FOUND");
    expect(error.rawMessage).toBe("projects/NOPE does not exist");
  });

  it.each([
    ["a malformed parent", { parent: "CORE", labelId: "bug", label: { displayName: "x" } }, ["parent"]],
    [
      "an upper-case id",
      { parent: "projects/CORE", labelId: "Bug", label: { displayName: "x" } },
      ["label_id"],
    ],
    [
      "an id starting with a digit",
      { parent: "projects/CORE", labelId: "1bug", label: { displayName: "x" } },
      ["label_id"],
    ],
    [
      "an id of 64 characters",
      { parent: "projects/CORE", labelId: "b".repeat(64), label: { displayName: "x" } },
      ["label_id"],
    ],
    ["no id", { parent: "projects/CORE", label: { displayName: "x" } }, ["label_id"]],
    ["no label", { parent: "projects/CORE", labelId: "bug" }, ["label"]],
    [
      "a display name of 51 characters",
      { parent: "projects/CORE", labelId: "bug", label: { displayName: "x".repeat(51) } },
      ["label.display_name"],
    ],
    [
      "a control character in the display name",
      { parent: "projects/CORE", labelId: "bug", label: { displayName: "a\nb" } },
      ["label.display_name"],
    ],
    [
      "a description of 501 characters",
      { parent: "projects/CORE", labelId: "bug", label: { displayName: "x", description: "d".repeat(501) } },
      ["label.description"],
    ],
    [
      "a color that is no #rrggbb",
      { parent: "projects/CORE", labelId: "bug", label: { displayName: "x", color: "red" } },
      ["label.color"],
    ],
    [
      "a request_id that is no UUID",
      { parent: "projects/CORE", labelId: "bug", label: { displayName: "x" }, requestId: "42" },
      ["request_id"],
    ],
  ])("rejects %s with INVALID_ARGUMENT naming the field", async (_, request, fields) => {
    const error = await expectError(labels.createLabel(request), Code.InvalidArgument, "INVALID_ARGUMENT");
    expect(violatedFields(error)).toEqual(fields);
  });

  it("requires a display name: INVALID_ARGUMENT naming it", async () => {
    for (const label of [{ displayName: "" }, { description: "No name" }]) {
      const error = await expectError(
        labels.createLabel({ parent: "projects/CORE", labelId: "bug", label }),
        Code.InvalidArgument,
        "INVALID_ARGUMENT",
      );
      expect(violatedFields(error)).toEqual(["label.display_name"]);
    }
  });

  it("replays a retried create with the same request_id instead of creating twice", async () => {
    const request = {
      parent: await newProject(),
      labelId: "bug",
      label: { displayName: "Bug" },
      requestId: randomUUID(),
    };
    const first = await labels.createLabel(request);
    expect(await labels.createLabel(request)).toEqual(first);
  });

  it("creates exactly one label when the same request arrives 10 times at once", async () => {
    const parent = await newProject();
    const request = { parent, labelId: "racy", label: { displayName: "Racy" }, requestId: randomUUID() };
    const results = await Promise.all(Array.from({ length: 10 }, () => labels.createLabel(request)));
    expect(new Set(results.map((label) => label.uid)).size).toBe(1);
    const listed = await labels.listLabels({ parent });
    expect(listed.labels.map((label) => label.uid)).toEqual([results[0]?.uid]);
  });

  it("refuses a request_id reused for a different request", async () => {
    const parent = await newProject();
    const requestId = randomUUID();
    await labels.createLabel({ parent, labelId: "a", label: { displayName: "A" }, requestId });
    const error = await expectError(
      labels.createLabel({ parent, labelId: "b", label: { displayName: "B" }, requestId }),
      Code.InvalidArgument,
      "REQUEST_ID_REUSED",
    );
    expect(violatedFields(error)).toEqual(["request_id"]);
  });
});

describe("GetLabel", () => {
  it("returns NOT_FOUND for a label that does not exist, also in a project that does not", async () => {
    const parent = await newProject();
    for (const name of [`${parent}/labels/nope`, "projects/NOPE/labels/bug"]) {
      const error = await expectError(labels.getLabel({ name }), Code.NotFound, "RESOURCE_NOT_FOUND");
      expect(error.rawMessage).toBe(`${name} does not exist`);
    }
  });

  it.each(["projects/CORE", "projects/CORE/labels/Bug", "projects/core/labels/bug", "labels/bug"])(
    "rejects the malformed name %s with INVALID_ARGUMENT",
    async (name) => {
      const error = await expectError(labels.getLabel({ name }), Code.InvalidArgument, "INVALID_ARGUMENT");
      expect(violatedFields(error)).toEqual(["name"]);
    },
  );
});

describe("ListLabels", () => {
  async function listAll(parent: string, pageSize: number, onPage?: () => Promise<void>): Promise<string[]> {
    const names: string[] = [];
    let pageToken = "";
    for (;;) {
      const response = await labels.listLabels({ parent, pageSize, pageToken });
      expect(response.labels.length).toBeLessThanOrEqual(pageSize);
      names.push(...response.labels.map((label) => label.name));
      if (response.nextPageToken === "") return names;
      pageToken = response.nextPageToken;
      await onPage?.();
    }
  }

  it("pages through every label once, by id, ending with an empty token", async () => {
    const parent = await newProject();
    const ids = Array.from({ length: 8 }, (_, n) => `label-${n}`);
    for (const id of [...ids].reverse()) await newLabel(parent, id);
    expect(await listAll(parent, 3)).toEqual(ids.map((id) => `${parent}/labels/${id}`));
  });

  it("neither repeats nor skips a label while labels are created between pages", async () => {
    const parent = await newProject();
    const ids = Array.from({ length: 6 }, (_, n) => `m-${n}`);
    for (const id of ids) await newLabel(parent, id);
    let added = 0;
    // Ids sorting before and after the cursor: the listing must still hold each original once.
    const seen = await listAll(parent, 2, async () => {
      await newLabel(parent, `a-${added}`);
      await newLabel(parent, `z-${added++}`);
    });
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(`${parent}/labels/${id}`);
  });

  it("lists only the labels of its project", async () => {
    const parent = await newProject();
    await newLabel(await newProject(), "elsewhere");
    expect((await labels.listLabels({ parent })).labels).toEqual([]);
  });

  it("returns NOT_FOUND for a project that does not exist", async () => {
    await expectError(labels.listLabels({ parent: "projects/NOPE" }), Code.NotFound, "RESOURCE_NOT_FOUND");
  });

  it("rejects a negative page size", async () => {
    const error = await expectError(
      labels.listLabels({ parent: "projects/CORE", pageSize: -1 }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual(["page_size"]);
  });

  it("rejects a page token of another project", async () => {
    const parent = await newProject();
    for (const id of ["a", "b"]) await newLabel(parent, id);
    const { nextPageToken } = await labels.listLabels({ parent, pageSize: 1 });
    const error = await expectError(
      labels.listLabels({ parent: await newProject(), pageToken: nextPageToken }),
      Code.InvalidArgument,
      "PAGE_TOKEN_MISMATCH",
    );
    expect(violatedFields(error)).toEqual(["page_token"]);
  });
});

describe("UpdateLabel", () => {
  it("changes nothing for an empty mask and returns the label as it is", async () => {
    const label = await newLabel(await newProject());
    const result = await labels.updateLabel({ label: { ...label, displayName: "Changed" } });
    expect(result).toEqual(label);
    expect(await labels.getLabel({ name: label.name })).toEqual(label);
  });

  it("replaces every writable field for *, clearing those left empty", async () => {
    const label = await newLabel(await newProject(), "bug", { description: "Broken", color: "#ff0000" });
    const updated = await labels.updateLabel({
      label: { name: label.name, displayName: "Defect" },
      updateMask: mask("*"),
    });
    expect(updated).toMatchObject({ displayName: "Defect", description: "", color: "" });
    expect(updated.etag).not.toBe(label.etag);
  });

  it("needs no display name when the mask leaves it out", async () => {
    const label = await newLabel(await newProject(), "bug", { displayName: "Bug" });
    const updated = await labels.updateLabel({
      label: { name: label.name, description: "Only this" },
      updateMask: mask("description"),
    });
    expect(updated).toMatchObject({ displayName: "Bug", description: "Only this" });
  });

  it.each([
    ["display_name", mask("display_name")],
    ["*", mask("*")],
  ])("requires a display name when the mask is %s", async (_, updateMask) => {
    const label = await newLabel(await newProject());
    const error = await expectError(
      labels.updateLabel({ label: { ...label, displayName: "" }, updateMask }),
      Code.InvalidArgument,
      "INVALID_ARGUMENT",
    );
    expect(violatedFields(error)).toEqual(["label.display_name"]);
    expect(await labels.getLabel({ name: label.name })).toEqual(label);
  });

  it("gives every change a new etag", async () => {
    const label = await newLabel(await newProject());
    const once = await labels.updateLabel({
      label: { ...label, color: "#111111" },
      updateMask: mask("color"),
    });
    const twice = await labels.updateLabel({
      label: { ...once, color: "#222222" },
      updateMask: mask("color"),
    });
    expect(new Set([label.etag, once.etag, twice.etag]).size).toBe(3);
  });

  it("fails with ABORTED and changes nothing when the etag is stale", async () => {
    const label = await newLabel(await newProject());
    const changed = await labels.updateLabel({
      label: { ...label, color: "#123456" },
      updateMask: mask("color"),
    });
    const error = await expectError(
      labels.updateLabel({ label: { ...label, displayName: "Stale" }, updateMask: mask("display_name") }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    expect(error.rawMessage).toContain(label.name);
    expect(await labels.getLabel({ name: label.name })).toEqual(changed);
  });

  it("updates whatever the current version is when no etag is sent", async () => {
    const label = await newLabel(await newProject());
    const updated = await labels.updateLabel({
      label: { name: label.name, displayName: "No etag" },
      updateMask: mask("display_name"),
    });
    expect(updated.displayName).toBe("No etag");
  });

  it("returns NOT_FOUND for a label that does not exist", async () => {
    const name = `${await newProject()}/labels/nope`;
    const error = await expectError(
      labels.updateLabel({ label: { name, displayName: "x" }, updateMask: mask("display_name") }),
      Code.NotFound,
      "RESOURCE_NOT_FOUND",
    );
    expect(error.rawMessage).toBe(`${name} does not exist`);
  });

  it.each([
    ["an output-only path", mask("uid"), "update_mask"],
    ["the immutable name", mask("name"), "update_mask"],
    ["an unknown path", mask("colour"), "update_mask"],
  ])("rejects a mask with %s with INVALID_ARGUMENT", async (_, updateMask, field) => {
    const label = await newLabel(await newProject());
    const error = await expectError(labels.updateLabel({ label, updateMask }), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual([field]);
    expect(await labels.getLabel({ name: label.name })).toEqual(label);
  });

  it.each([
    ["no label", {}, ["label"]],
    ["a malformed name", { label: { name: "projects/CORE/bug", displayName: "x" } }, ["label"]],
    [
      "a color that is no #rrggbb",
      {
        label: { name: "projects/CORE/labels/bug", displayName: "x", color: "#fff" },
        updateMask: mask("color"),
      },
      ["label.color"],
    ],
  ])("rejects %s with INVALID_ARGUMENT naming the field", async (_, request, fields) => {
    const error = await expectError(labels.updateLabel(request), Code.InvalidArgument, "INVALID_ARGUMENT");
    expect(violatedFields(error)).toEqual(fields);
  });
});

describe("DeleteLabel", () => {
  it("fails with ABORTED and deletes nothing when the etag is stale", async () => {
    const label = await newLabel(await newProject());
    const changed = await labels.updateLabel({
      label: { ...label, color: "#123456" },
      updateMask: mask("color"),
    });
    await expectError(
      labels.deleteLabel({ name: label.name, etag: label.etag }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
    expect(await labels.getLabel({ name: label.name })).toEqual(changed);
  });

  it("returns NOT_FOUND for a label that does not exist, also when deleted twice", async () => {
    const label = await newLabel(await newProject());
    await labels.deleteLabel({ name: label.name });
    await expectError(labels.deleteLabel({ name: label.name }), Code.NotFound, "RESOURCE_NOT_FOUND");
  });

  it("frees the id for a new label", async () => {
    const label = await newLabel(await newProject());
    await labels.deleteLabel({ name: label.name });
    const again = await newLabel(label.name.split("/labels/")[0] ?? "", "bug");
    expect(again.name).toBe(label.name);
    expect(again.uid).not.toBe(label.uid);
  });

  it("rejects a malformed name with INVALID_ARGUMENT", async () => {
    const error = await expectError(labels.deleteLabel({ name: "projects/CORE" }), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual(["name"]);
  });
});

describe("DeleteLabel on labelled issues", () => {
  let issues: Client<typeof IssueService>;
  let alice: string;
  beforeAll(async () => {
    issues = createClient(IssueService, inProcessTransport(server.ctx));
    alice = (await createClient(UserService, inProcessTransport(server.ctx)).getCurrentUser({})).name;
  });

  const fileIssue = (parent: string, title: string, labelNames: string[]) =>
    issues.createIssue({ parent, issue: { title, labels: labelNames } });

  /** The issue's history after its creation, with change values in their JSON form. */
  async function updatesOf(issue: string) {
    const { events } = await issues.listIssueEvents({ parent: issue });
    return events
      .filter((event) => event.kind !== IssueEvent_Kind.ISSUE_CREATED)
      .map((event) => ({
        sequence: event.sequence,
        kind: event.kind,
        actor: event.actor,
        changes: event.changes.map((change) => ({
          field: change.field,
          old: change.oldValue && toJson(ValueSchema, change.oldValue),
          new: change.newValue && toJson(ValueSchema, change.newValue),
        })),
      }));
  }

  it("takes the label off every issue and records that in each issue's history", async () => {
    const parent = await newProject();
    const bug = await newLabel(parent, "bug");
    const docs = await newLabel(parent, "docs");
    const ux = await newLabel(parent, "ux");
    const several = await fileIssue(parent, "Several labels", [ux.name, bug.name, docs.name]);
    const onlyBug = await fileIssue(parent, "Only bug", [bug.name]);
    const untouched = await fileIssue(parent, "No bug", [ux.name]);
    const deleted = await issues.deleteIssue({ name: (await fileIssue(parent, "Deleted", [bug.name])).name });

    await labels.deleteLabel({ name: bug.name, etag: bug.etag });

    const [severalNow, onlyBugNow, untouchedNow, deletedNow] = await Promise.all(
      [several, onlyBug, untouched, deleted].map((issue) => issues.getIssue({ name: issue.name })),
    );
    expect(severalNow?.labels).toEqual([docs.name, ux.name]);
    expect(onlyBugNow?.labels).toEqual([]);
    expect(deletedNow?.labels).toEqual([]);
    for (const [before, after] of [
      [several, severalNow],
      [onlyBug, onlyBugNow],
      [deleted, deletedNow],
    ]) {
      expect(after?.etag).not.toBe(before?.etag);
      expect(after?.updateTime).not.toEqual(before?.updateTime);
    }
    expect(untouchedNow).toEqual(untouched);

    const [severalUpdate, ...noMore] = await updatesOf(several.name);
    expect(noMore).toEqual([]);
    expect(severalUpdate).toMatchObject({
      kind: IssueEvent_Kind.ISSUE_UPDATED,
      actor: alice,
      changes: [{ field: "labels", old: [bug.name, docs.name, ux.name], new: [docs.name, ux.name] }],
    });
    const [onlyBugUpdate] = await updatesOf(onlyBug.name);
    expect(onlyBugUpdate).toMatchObject({
      kind: IssueEvent_Kind.ISSUE_UPDATED,
      changes: [{ field: "labels", old: [bug.name], new: [] }],
    });
    // One event per issue, numbered in issue order.
    expect(onlyBugUpdate?.sequence).toBe((severalUpdate?.sequence ?? 0n) + 1n);
    expect(await updatesOf(untouched.name)).toEqual([]);
    const deletedHistory = await updatesOf(deleted.name);
    expect(deletedHistory.at(-1)?.changes).toEqual([{ field: "labels", old: [bug.name], new: [] }]);
  });

  it("changes no issue when the etag is stale", async () => {
    const parent = await newProject();
    const bug = await newLabel(parent, "bug");
    const issue = await fileIssue(parent, "Buggy", [bug.name]);
    await labels.updateLabel({ label: { ...bug, color: "#123456" }, updateMask: mask("color") });
    await expectError(labels.deleteLabel({ name: bug.name, etag: bug.etag }), Code.Aborted, "ETAG_MISMATCH");
    expect(await issues.getIssue({ name: issue.name })).toEqual(issue);
    expect(await updatesOf(issue.name)).toEqual([]);
  });
});

describe("labels of a deleted project", () => {
  it("can still be read but no longer changed: FAILED_PRECONDITION", async () => {
    const parent = await newProject();
    const label = await newLabel(parent, "bug");
    await projects.deleteProject({ name: parent });

    expect(await labels.getLabel({ name: label.name })).toEqual(label);
    expect((await labels.listLabels({ parent })).labels).toEqual([label]);
    await expectError(newLabel(parent, "new"), Code.FailedPrecondition, "PROJECT_DELETED");
    await expectError(
      labels.updateLabel({ label: { ...label, displayName: "x" }, updateMask: mask("display_name") }),
      Code.FailedPrecondition,
      "PROJECT_DELETED",
    );
    await expectError(labels.deleteLabel({ name: label.name }), Code.FailedPrecondition, "PROJECT_DELETED");
    expect(await labels.getLabel({ name: label.name })).toEqual(label);
  });
});
