import { create, toJson } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { type Command, commands, expandName } from "../../cli/commands.js";
import { contract, loadContract } from "../../cli/contract.js";
import { buildRequest, UsageError } from "../../cli/request.js";
import { ResourceDescriptorSchema } from "../../gen/proto/google/api/resource_pb.js";

// The CLI's commands come from the contract's descriptors (gen/descriptors,
// gen/proto): these check the derivation itself, with no server.

beforeAll(async () => {
  await loadContract();
});

const pattern = (...patterns: string[]) => create(ResourceDescriptorSchema, { pattern: patterns });
const project = pattern("projects/{project}");
const issue = pattern("projects/{project}/issues/{issue}");
const label = pattern("projects/{project}/labels/{label}");

function command(group: string, verb: string): Command {
  const found = commands().find((one) => one.group.singular === group && one.verb === verb);
  if (!found) throw new Error(`no ${group} ${verb}`);
  return found;
}

const requestJson = (found: Command, values: Record<string, string | string[]>, positionals: string[] = []) =>
  toJson(found.method.input, buildRequest(found, values, positionals), { registry: contract().registry });

describe("short resource names", () => {
  it.each([
    ["CORE", project, new Map(), "projects/CORE"],
    ["projects/CORE", project, new Map(), "projects/CORE"],
    ["CORE-42", issue, new Map(), "projects/CORE/issues/42"],
    ["CORE/42", issue, new Map(), "projects/CORE/issues/42"],
    ["CORE-42", issue, new Map([["{project}", "CORE"]]), "projects/CORE/issues/42"],
    ["bug", label, new Map([["{project}", "CORE"]]), "projects/CORE/labels/bug"],
    ["good-first", label, new Map([["{project}", "CORE"]]), "projects/CORE/labels/good-first"],
    ["CORE/good-first", label, new Map(), "projects/CORE/labels/good-first"],
    // not a name of that resource: left for the server to refuse
    ["a/b/c", project, new Map(), "a/b/c"],
    ["42", issue, new Map(), "42"],
  ])("%s as a %s name", (value, names, known, expected) => {
    expect(expandName(value, names, known)).toBe(expected);
  });
});

describe("commands derived from the RPCs", () => {
  it("gives every AIP-named RPC of tracker.v1 a command, with distinct flag names", () => {
    const aip = /^(BatchGet|Get|List|Create|Update|Delete|Undelete|Search|Watch)[A-Z]/;
    const rpcs = contract()
      .services.filter((service) => service.typeName.startsWith("tracker."))
      .flatMap((service) => service.methods.filter((method) => aip.test(method.name)));
    expect(rpcs.length).toBeGreaterThan(30);
    for (const method of rpcs) expect(commands().some((one) => one.method === method)).toBe(true);
    for (const one of commands()) {
      const names = one.flags.flatMap((flag) => [flag.name, ...flag.aliases]);
      expect(new Set(names).size, `${one.group.singular} ${one.verb}`).toBe(names.length);
    }
  });

  it("flattens a filter into singular flags and takes the parent as --project or the argument", () => {
    const list = command("issue", "list");
    expect(list.method.name).toBe("ListIssues");
    expect(list.positional?.name).toBe("project");
    expect(list.flags.map((flag) => flag.name)).toEqual(
      expect.arrayContaining([
        "project",
        "state",
        "assignee",
        "label",
        "query",
        "filter.create-time.start-time",
      ]),
    );
    expect(requestJson(list, { state: ["open,in-progress"], label: ["bug"] }, ["CORE"])).toEqual({
      parent: "projects/CORE",
      filter: { states: ["STATE_OPEN", "STATE_IN_PROGRESS"], labels: ["projects/CORE/labels/bug"] },
    });
    expect(() => requestJson(list, { state: ["done"] }, ["CORE"])).toThrow(UsageError);
  });

  it("masks an update to the fields given, and close is UpdateIssue with the state fixed", () => {
    expect(requestJson(command("issue", "update"), { title: "New", etag: "3" }, ["CORE-7"])).toEqual({
      issue: { name: "projects/CORE/issues/7", title: "New", etag: "3" },
      updateMask: "title",
    });
    const close = command("issue", "close");
    expect(close.method.name).toBe("UpdateIssue");
    expect(requestJson(close, { reason: "not-planned" }, ["CORE-7"])).toEqual({
      issue: {
        name: "projects/CORE/issues/7",
        state: "STATE_CLOSED",
        closeReason: "CLOSE_REASON_NOT_PLANNED",
      },
      updateMask: "closeReason,state",
    });
  });

  it("leaves output-only fields out of create and keeps the resource id as the argument", () => {
    const createProject = command("project", "create");
    const names = createProject.flags.map((flag) => flag.name);
    expect(names).toEqual(
      expect.arrayContaining(["display-name", "description", "project-id", "request-id"]),
    );
    expect(names).not.toContain("etag");
    expect(names).not.toContain("uid");
    expect(createProject.positional?.name).toBe("project-id");
  });
});
