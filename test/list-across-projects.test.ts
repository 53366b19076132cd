import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Issue, Issue_Priority as Priority } from "../gen/proto/tracker/v1/issue_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { expectError } from "./support/errors.js";
import { addMember, clientsFor, createProject, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

// ListIssues of `projects/-` (AIP-159): the issues of every project the
// caller is a member of, and nothing of any other.
//
//   SHARED: alice (admin), bob (reader)
//   ALICE:  alice only
//   BOB:    bob only
// Each test server has a database of its own, so these are all the projects
// alice and bob have, except those a test makes for itself (with words of
// its own, so the other tests' lists do not see them).

let server: TestServer;
let shared: string;
let aliceOnly: string;
let bobOnly: string;
let alice: string;
let bob: string;
const as = (user: string) => clientsFor(server, user).issues;
const labelsOf = (user: string) =>
  createClient(LabelService, transportFor("Connect binary over HTTP/2", server.baseUrl, user));
const keyOf = (name: string) => name.split("/")[1] as string;

/** Issues by project name, in the order filed. */
const filed = new Map<string, Issue[]>();

async function file(
  user: string,
  parent: string,
  title: string,
  fields: { priority?: Priority; assignee?: string; labels?: string[] } = {},
) {
  const issue = await as(user).createIssue({ parent, issue: { title, ...fields } });
  filed.set(parent, [...(filed.get(parent) ?? []), issue]);
  return issue;
}

/** Every page of a `projects/-` list for `user`. */
async function walk(user: string, request: Parameters<ReturnType<typeof as>["listIssues"]>[0]) {
  const names: string[] = [];
  let pageToken = "";
  let pages = 0;
  do {
    const page = await as(user).listIssues({ ...request, parent: "projects/-", pageToken });
    names.push(...page.issues.map((issue) => issue.name));
    pageToken = page.nextPageToken;
    pages += 1;
  } while (pageToken !== "" && pages < 100);
  return { names, pages };
}

beforeAll(async () => {
  server = await startTestServer();
  alice = await userNamed(server, "alice");
  bob = await userNamed(server, "bob");
  shared = await createProject(server, "alice");
  aliceOnly = await createProject(server, "alice");
  bobOnly = await createProject(server, "bob");
  await addMember(server, shared, "bob", "reader");
  for (const project of [shared, aliceOnly]) {
    await labelsOf("alice").createLabel({ parent: project, labelId: "bug", label: { displayName: "Bug" } });
  }
  await labelsOf("bob").createLabel({ parent: bobOnly, labelId: "bug", label: { displayName: "Bug" } });
  // Numbers repeat across projects (each has its own), so ties are broken by project key.
  await file("alice", shared, "Crash on login", {
    priority: Priority.HIGH,
    assignee: alice,
    labels: [`${shared}/labels/bug`],
  });
  await file("alice", aliceOnly, "Crash in the editor", { priority: Priority.HIGH, assignee: alice });
  await file("bob", bobOnly, "Crash on logout", { priority: Priority.HIGH, assignee: bob });
  await file("alice", shared, "Dark mode", { priority: Priority.LOW, assignee: bob });
  await file("alice", aliceOnly, "Docs", { priority: Priority.HIGH, labels: [`${aliceOnly}/labels/bug`] });
  await file("bob", bobOnly, "Slow search", { priority: Priority.LOW, labels: [`${bobOnly}/labels/bug`] });
  await file("alice", aliceOnly, "Onboarding", { priority: Priority.NONE, assignee: alice });
});
afterAll(() => server.close());

/** The names `user` can read, sorted as `number desc` across projects sorts them. */
function expectedNewestFirst(projects: string[]): string[] {
  return projects
    .flatMap((project) => filed.get(project) ?? [])
    .sort((a, b) => Number(b.number - a.number) || keyOf(b.name).localeCompare(keyOf(a.name)))
    .map((issue) => issue.name);
}

describe("ListIssues across projects (projects/-)", () => {
  it("lists the issues of every project the caller is a member of, each named in its own project", async () => {
    const forAlice = await as("alice").listIssues({ parent: "projects/-" });
    expect(forAlice.issues.map((issue) => issue.name)).toEqual(expectedNewestFirst([shared, aliceOnly]));
    expect(forAlice.nextPageToken).toBe("");
    for (const issue of forAlice.issues) {
      expect(issue.key).toBe(`${keyOf(issue.name)}-${issue.number}`);
    }
    // bob reads SHARED as a reader: any role counts; alice's own project never appears.
    const forBob = await as("bob").listIssues({ parent: "projects/-" });
    expect(forBob.issues.map((issue) => issue.name)).toEqual(expectedNewestFirst([shared, bobOnly]));
  });

  it("a caller in no project gets an empty list, not an error", async () => {
    const response = await as("nobody").listIssues({ parent: "projects/-" });
    expect(response.issues).toEqual([]);
    expect(response.nextPageToken).toBe("");
  });

  it.each(["number", "number desc", "create_time", "update_time desc", "priority", "priority desc"])(
    "pages of one issue in order %s hold the whole list once, in that order",
    async (orderBy) => {
      const whole = (await as("alice").listIssues({ parent: "projects/-", orderBy })).issues;
      const { names, pages } = await walk("alice", { orderBy, pageSize: 1 });
      expect(names).toEqual(whole.map((issue) => issue.name));
      expect(pages).toBe(whole.length);
      // Ties of the field are broken by project key, then number, in the same direction.
      const descending = orderBy.endsWith(" desc");
      const field = orderBy.split(" ")[0] as "number" | "createTime" | "updateTime" | "priority";
      const sortValue = (issue: Issue): string =>
        field === "number"
          ? String(issue.number).padStart(20, "0")
          : field === "priority"
            ? // The database's order: URGENT, HIGH, MEDIUM, LOW, NONE.
              String(
                [Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW, Priority.NONE].indexOf(
                  issue.priority,
                ),
              )
            : String(
                (issue[orderBy.startsWith("create") ? "createTime" : "updateTime"]?.seconds ?? 0n) *
                  1_000_000_000n +
                  BigInt(issue[orderBy.startsWith("create") ? "createTime" : "updateTime"]?.nanos ?? 0),
              ).padStart(30, "0");
      const keys = whole.map((issue) => [
        sortValue(issue),
        keyOf(issue.name),
        String(issue.number).padStart(20, "0"),
      ]);
      const sorted = [...keys].sort((a, b) => {
        for (let i = 0; i < 3; i++) {
          const c = (a[i] as string).localeCompare(b[i] as string);
          if (c !== 0) return descending ? -c : c;
        }
        return 0;
      });
      expect(keys).toEqual(sorted);
    },
  );

  it("a page never repeats or skips an issue when issues are filed meanwhile", async () => {
    const before = (await as("alice").listIssues({ parent: "projects/-", orderBy: "create_time" })).issues;
    const first = await as("alice").listIssues({ parent: "projects/-", orderBy: "create_time", pageSize: 3 });
    const added = await as("alice").createIssue({ parent: shared, issue: { title: "Filed meanwhile" } });
    const names = first.issues.map((issue) => issue.name);
    let pageToken = first.nextPageToken;
    while (pageToken !== "") {
      const page = await as("alice").listIssues({
        parent: "projects/-",
        orderBy: "create_time",
        pageSize: 3,
        pageToken,
      });
      names.push(...page.issues.map((issue) => issue.name));
      pageToken = page.nextPageToken;
    }
    expect(names).toEqual([...before.map((issue) => issue.name), added.name]);
    await as("alice").deleteIssue({ name: added.name });
  });

  it("searches every project the caller reads, and no other", async () => {
    const crash = async (user: string) =>
      (
        await as(user).listIssues({ parent: "projects/-", filter: { query: "crash" }, orderBy: "number" })
      ).issues
        .map((issue) => issue.name)
        .sort();
    const crashes = (projects: string[]) =>
      projects
        .flatMap((project) => filed.get(project) ?? [])
        .filter((issue) => /crash/i.test(issue.title))
        .map((issue) => issue.name)
        .sort();
    expect(await crash("alice")).toEqual(crashes([shared, aliceOnly]));
    expect(await crash("bob")).toEqual(crashes([shared, bobOnly]));
    expect(await crash("bob")).toHaveLength(2);
  });

  it("users/me in the filter is the caller: my issues across projects", async () => {
    const mine = async (user: string, filter: { assignees?: string[]; reporter?: string }) =>
      (await as(user).listIssues({ parent: "projects/-", filter })).issues.map((issue) => issue.name).sort();
    const assignedTo = (user: string, projects: string[]) =>
      projects
        .flatMap((project) => filed.get(project) ?? [])
        .filter((issue) => issue.assignee === user)
        .map((issue) => issue.name)
        .sort();
    expect(await mine("alice", { assignees: ["users/me"] })).toEqual(assignedTo(alice, [shared, aliceOnly]));
    expect(await mine("alice", { assignees: ["users/me"] })).toHaveLength(3);
    expect(await mine("bob", { assignees: ["users/me"] })).toEqual(assignedTo(bob, [shared, bobOnly]));
    expect(await mine("bob", { assignees: ["users/me"] })).toEqual(await mine("bob", { assignees: [bob] }));
    // Reported by bob: only his own project's; in one project, users/me works the same.
    expect(await mine("bob", { reporter: "users/me" })).toEqual(
      (filed.get(bobOnly) ?? []).map((issue) => issue.name).sort(),
    );
    const inShared = await as("bob").listIssues({ parent: shared, filter: { assignees: ["users/me"] } });
    expect(inShared.issues.map((issue) => issue.name)).toEqual(assignedTo(bob, [shared]));
  });

  it("each label of the filter applies in its own project; projects it names no label of are left out", async () => {
    const labelled = async (user: string, labels: string[]) =>
      (await as(user).listIssues({ parent: "projects/-", filter: { labels } })).issues
        .map((issue) => issue.name)
        .sort();
    const bugs = (projects: string[]) =>
      projects
        .flatMap((project) => filed.get(project) ?? [])
        .filter((issue) => issue.labels.length > 0)
        .map((issue) => issue.name)
        .sort();
    expect(await labelled("alice", [`${shared}/labels/bug`, `${aliceOnly}/labels/bug`])).toEqual(
      bugs([shared, aliceOnly]),
    );
    expect(await labelled("alice", [`${aliceOnly}/labels/bug`])).toEqual(bugs([aliceOnly]));
    expect(await labelled("alice", [`${aliceOnly}/labels/bug`])).toHaveLength(1);
    // A project alice is not a member of is no different from one that does not exist.
    expect(await labelled("alice", [`${bobOnly}/labels/bug`])).toEqual([]);
    expect(await labelled("alice", ["projects/NOSUCH/labels/bug"])).toEqual([]);
    expect(await labelled("alice", [`${shared}/labels/nosuch`])).toEqual([]);
    // For one project, a label of another stays a mistake.
    await expectError(
      as("alice").listIssues({ parent: shared, filter: { labels: [`${aliceOnly}/labels/bug`] } }),
      Code.InvalidArgument,
      "LABEL_OF_OTHER_PROJECT",
    );
  });

  it("filter.parent lists that issue's sub-issues, in their order, and nothing of other projects", async () => {
    const parent = await as("alice").createIssue({ parent: aliceOnly, issue: { title: "Epic" } });
    const first = await as("alice").createIssue({
      parent: aliceOnly,
      issue: { title: "Step one", parent: parent.name },
    });
    const second = await as("alice").createIssue({
      parent: aliceOnly,
      issue: { title: "Step two", parent: parent.name },
    });
    const subIssues = async (orderBy = "") =>
      (
        await as("alice").listIssues({ parent: "projects/-", filter: { parent: parent.name }, orderBy })
      ).issues.map((issue) => issue.name);
    // Filed in order, then the first moved after the second.
    await as("alice").updateIssue({
      issue: { name: first.name, subIssueOrder: 7 },
      updateMask: { paths: ["sub_issue_order"] },
    });
    expect(await subIssues()).toEqual([second.name, first.name]);
    expect(await subIssues("number")).toEqual([first.name, second.name]);
    // bob is not a member of alice's project: her epic has no sub-issues he can see.
    const forBob = await as("bob").listIssues({ parent: "projects/-", filter: { parent: parent.name } });
    expect(forBob.issues).toEqual([]);
    // With labels of another project than the parent's, nothing can match.
    const mixed = await as("alice").listIssues({
      parent: "projects/-",
      filter: { parent: parent.name, labels: [`${shared}/labels/bug`] },
    });
    expect(mixed.issues).toEqual([]);
    await expectError(
      as("alice").listIssues({ parent: "projects/-", orderBy: "sub_issue_order" }),
      Code.InvalidArgument,
      "ORDER_NEEDS_PARENT",
    );
    for (const issue of [first, second, parent]) await as("alice").deleteIssue({ name: issue.name });
  });

  it("a removed member's project disappears from the next call", async () => {
    const project = await createProject(server, "alice");
    const issue = await as("alice").createIssue({ parent: project, issue: { title: "Zebra crossing" } });
    await addMember(server, project, "bob", "reader");
    const zebras = async () =>
      (await as("bob").listIssues({ parent: "projects/-", filter: { query: "zebra" } })).issues.map(
        (i) => i.name,
      );
    expect(await zebras()).toEqual([issue.name]);
    const members = createClient(
      MemberService,
      transportFor("Connect binary over HTTP/2", server.baseUrl, "alice"),
    );
    await members.deleteMember({ name: `${project}/members/${bob.split("/")[1]}` });
    expect(await zebras()).toEqual([]);
  });

  it("a deleted project's issues are listed with show_deleted only", async () => {
    const project = await createProject(server, "alice");
    const issue = await as("alice").createIssue({ parent: project, issue: { title: "Walrus" } });
    const walruses = async (showDeleted: boolean) =>
      (
        await as("alice").listIssues({ parent: "projects/-", filter: { query: "walrus" }, showDeleted })
      ).issues.map((i) => i.name);
    expect(await walruses(false)).toEqual([issue.name]);
    await clientsFor(server, "alice").projects.deleteProject({ name: project });
    expect(await walruses(false)).toEqual([]);
    expect(await walruses(true)).toEqual([issue.name]);
  });

  it("a page token is bound to its parent: one for projects/- is refused for a project, and back", async () => {
    const across = await as("alice").listIssues({ parent: "projects/-", pageSize: 1 });
    expect(across.nextPageToken).not.toBe("");
    await expectError(
      as("alice").listIssues({ parent: shared, pageSize: 1, pageToken: across.nextPageToken }),
      Code.InvalidArgument,
      "PAGE_TOKEN_MISMATCH",
    );
    const one = await as("alice").listIssues({ parent: shared, pageSize: 1 });
    await expectError(
      as("alice").listIssues({ parent: "projects/-", pageSize: 1, pageToken: one.nextPageToken }),
      Code.InvalidArgument,
      "PAGE_TOKEN_MISMATCH",
    );
    // And to the rest of the query, as for one project.
    await expectError(
      as("alice").listIssues({
        parent: "projects/-",
        pageSize: 1,
        orderBy: "priority",
        pageToken: across.nextPageToken,
      }),
      Code.InvalidArgument,
      "PAGE_TOKEN_MISMATCH",
    );
    await expectError(
      as("alice").listIssues({ parent: "projects/-", pageToken: "not a token" }),
      Code.InvalidArgument,
      "INVALID_PAGE_TOKEN",
    );
  });

  it.each(["projects/--", "projects/-/issues", "projects/*", "projects/"])(
    "parent %s is INVALID_ARGUMENT",
    async (parent) => {
      await expectError(as("alice").listIssues({ parent }), Code.InvalidArgument);
    },
  );

  it("pages across projects end by bytes, and still hold every issue once", async () => {
    const big = "😀".repeat(65536); // 256 KiB of UTF-8
    const names: string[] = [];
    for (let i = 0; i < 2; i++) {
      const project = await createProject(server, "carol");
      for (let j = 0; j < 3; j++) {
        names.push(
          (await as("carol").createIssue({ parent: project, issue: { title: `big ${j}`, body: big } })).name,
        );
      }
    }
    const first = await as("carol").listIssues({ parent: "projects/-" });
    expect(first.issues.length).toBeGreaterThan(0);
    expect(first.issues.length).toBeLessThan(names.length);
    const { names: walked, pages } = await walk("carol", {});
    expect(pages).toBeGreaterThan(1);
    expect([...walked].sort()).toEqual([...names].sort());
  });
});
