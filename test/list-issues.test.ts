import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Issue_CloseReason as CloseReason,
  IssueFilterSchema,
  Issue_Priority as Priority,
  Issue_State as State,
} from "../gen/proto/tracker/v1/issue_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { addMember, clientsFor, createProject, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";

type FilterInit = MessageInitShape<typeof IssueFilterSchema>;

let server: TestServer;
let parent: string;
let alice: string;
let bob: string;
const issues = () => clientsFor(server).issues;

// One project with a known set of issues, read by every test below.
const SEED = [
  {
    title: "Login page crashes on Safari",
    body: "Steps: open the login page.",
    priority: Priority.URGENT,
    by: "alice",
    assign: "bob",
  },
  {
    title: "Add dark mode",
    body: "Users ask for a dark theme.",
    priority: Priority.LOW,
    by: "bob",
    assign: "",
  },
  {
    title: "Crash when saving drafts",
    body: "Saving a draft crashes the editor.",
    priority: Priority.HIGH,
    by: "alice",
    assign: "alice",
  },
  {
    title: "Document the API",
    body: "Write the reference docs.",
    priority: Priority.NONE,
    by: "bob",
    assign: "",
  },
  {
    title: "Slow search",
    body: "Search takes seconds on big projects.",
    priority: Priority.MEDIUM,
    by: "alice",
    assign: "bob",
  },
] as const;

beforeAll(async () => {
  server = await startTestServer();
  parent = await createProject(server, "alice");
  await addMember(server, parent, "bob", "writer");
  alice = await userNamed(server, "alice");
  bob = await userNamed(server, "bob");
  for (const seed of SEED) {
    await clientsFor(server, seed.by).issues.createIssue({
      parent,
      issue: {
        title: seed.title,
        body: seed.body,
        priority: seed.priority,
        assignee: seed.assign === "alice" ? alice : seed.assign === "bob" ? bob : "",
      },
    });
  }
  // #2 is in progress, #4 closed.
  await issues().updateIssue({
    issue: { name: `${parent}/issues/2`, state: State.IN_PROGRESS },
    updateMask: { paths: ["state"] },
  });
  await issues().updateIssue({
    issue: { name: `${parent}/issues/4`, state: State.CLOSED, closeReason: CloseReason.COMPLETED },
    updateMask: { paths: ["state", "close_reason"] },
  });
});
afterAll(() => server.close());

async function numbers(filter: FilterInit = {}, orderBy = "number") {
  const response = await issues().listIssues({ parent, filter: create(IssueFilterSchema, filter), orderBy });
  return response.issues.map((issue) => Number(issue.number));
}

describe("ListIssues filters", () => {
  it.each<[string, FilterInit, number[]]>([
    ["no filter", {}, [1, 2, 3, 4, 5]],
    ["states", { states: [State.OPEN] }, [1, 3, 5]],
    ["several states", { states: [State.IN_PROGRESS, State.CLOSED] }, [2, 4]],
    ["priorities", { priorities: [Priority.URGENT, Priority.HIGH] }, [1, 3]],
    ["unassigned", { unassigned: true }, [2, 4]],
    ["full-text words (stemmed)", { query: "crash" }, [1, 3]],
    ["full-text phrase", { query: '"dark mode"' }, [2]],
    ["full-text or", { query: "safari or drafts" }, [1, 3]],
    ["full-text exclusion", { query: "crash -safari" }, [3]],
    ["full-text exclusion alone", { query: "-crash" }, [2, 4, 5]],
    ["full-text of stop words only, nothing", { query: "the" }, []],
    ["full-text over the body", { query: "theme" }, [2]],
    ["conditions together", { states: [State.OPEN], query: "crash", priorities: [Priority.HIGH] }, [3]],
  ])("%s", async (_, filter, expected) => {
    expect(await numbers(filter)).toEqual(expected);
  });

  it("searches the project's issues only, by words or by exclusion", async () => {
    const other = await createProject(server);
    await issues().createIssue({ parent: other, issue: { title: "Crash in another project" } });
    expect(await numbers({ query: "crash" })).toEqual([1, 3]);
    expect(await numbers({ query: "-safari" })).toEqual([2, 3, 4, 5]);
    const there = await issues().listIssues({ parent: other, filter: { query: "crash" } });
    expect(there.issues.map((issue) => issue.title)).toEqual(["Crash in another project"]);
  });

  it("assignees, with or without unassigned", async () => {
    expect(await numbers({ assignees: [bob] })).toEqual([1, 5]);
    expect(await numbers({ assignees: [alice, bob] })).toEqual([1, 3, 5]);
    expect(await numbers({ assignees: [alice], unassigned: true })).toEqual([2, 3, 4]);
  });

  it("reporter", async () => {
    expect(await numbers({ reporter: bob })).toEqual([2, 4]);
  });

  it("users/me is the caller, in assignees and as reporter", async () => {
    // The issues above are listed as alice.
    expect(await numbers({ assignees: ["users/me"] })).toEqual([3]);
    expect(await numbers({ assignees: ["users/me", bob] })).toEqual([1, 3, 5]);
    expect(await numbers({ reporter: "users/me" })).toEqual([1, 3, 5]);
    const asBob = await clientsFor(server, "bob").issues.listIssues({
      parent,
      filter: { assignees: ["users/me"], reporter: "users/me" },
      orderBy: "number",
    });
    expect(asBob.issues.map((issue) => Number(issue.number))).toEqual([]);
    const bobsAssigned = await clientsFor(server, "bob").issues.listIssues({
      parent,
      filter: { assignees: ["users/me"] },
      orderBy: "number",
    });
    expect(bobsAssigned.issues.map((issue) => issue.assignee)).toEqual([bob, bob]);
  });

  it("create time range", async () => {
    const all = (await issues().listIssues({ parent, orderBy: "number" })).issues;
    const third = all[2]?.createTime;
    expect(await numbers({ createTime: { startTime: third } })).toEqual([3, 4, 5]);
    expect(await numbers({ createTime: { endTime: third } })).toEqual([1, 2]);
    const future = timestampFromDate(new Date(Date.now() + 3_600_000));
    expect(await numbers({ createTime: { startTime: future } })).toEqual([]);
  });

  it("update time range finds the issues changed after seeding", async () => {
    const fifth = (await issues().getIssue({ name: `${parent}/issues/5` })).updateTime;
    expect(await numbers({ updateTime: { startTime: fifth } })).toEqual([2, 4, 5]);
  });

  it("rejects invalid filters with INVALID_ARGUMENT naming the field", async () => {
    const error = await expectError(
      issues().listIssues({ parent, filter: { states: [State.UNSPECIFIED] } }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual(["filter.states[0]"]);
    const badUser = await expectError(
      issues().listIssues({ parent, filter: { reporter: "alice" } }),
      Code.InvalidArgument,
    );
    expect(violatedFields(badUser)).toEqual(["filter.reporter"]);
  });
});

describe("ListIssues order", () => {
  it.each([
    ["", [5, 4, 3, 2, 1]],
    ["number", [1, 2, 3, 4, 5]],
    ["number desc", [5, 4, 3, 2, 1]],
    ["create_time", [1, 2, 3, 4, 5]],
    ["create_time desc", [5, 4, 3, 2, 1]],
    ["priority", [1, 3, 5, 2, 4]],
    ["priority desc", [4, 2, 5, 3, 1]],
    ["update_time", [1, 3, 5, 2, 4]],
  ])("order_by %j", async (orderBy, expected) => {
    expect(await numbers({}, orderBy)).toEqual(expected);
  });

  it("rejects an unknown order with INVALID_ARGUMENT", async () => {
    const error = await expectError(issues().listIssues({ parent, orderBy: "title" }), Code.InvalidArgument);
    expect(violatedFields(error)).toEqual(["order_by"]);
  });

  it.each(["number", "number desc", "priority", "priority desc", "update_time desc", "create_time"])(
    "pages in order %j give the same issues as one page",
    async (orderBy) => {
      const whole = await numbers({}, orderBy);
      const paged: number[] = [];
      let pageToken = "";
      do {
        const page = await issues().listIssues({ parent, orderBy, pageSize: 2, pageToken });
        paged.push(...page.issues.map((issue) => Number(issue.number)));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(paged).toEqual(whole);
    },
  );

  it("refuses a page token with another filter or order", async () => {
    const first = await issues().listIssues({ parent, pageSize: 2 });
    await expectError(
      issues().listIssues({ parent, pageSize: 2, pageToken: first.nextPageToken, orderBy: "priority" }),
      Code.InvalidArgument,
      "PAGE_TOKEN_MISMATCH",
    );
    await expectError(
      issues().listIssues({
        parent,
        pageSize: 2,
        pageToken: first.nextPageToken,
        filter: { query: "crash" },
      }),
      Code.InvalidArgument,
      "PAGE_TOKEN_MISMATCH",
    );
  });
});

describe("ListIssues pagination under writes", () => {
  it("neither repeats nor skips an issue while issues are filed between pages", async () => {
    const project = await createProject(server);
    const client = issues();
    for (let i = 0; i < 12; i++) await client.createIssue({ parent: project, issue: { title: `seed ${i}` } });
    for (const orderBy of ["number", "number desc", "create_time"]) {
      const seen: string[] = [];
      let pageToken = "";
      let filed = 0;
      do {
        const page = await client.listIssues({ parent: project, orderBy, pageSize: 5, pageToken });
        seen.push(...page.issues.map((issue) => issue.name));
        pageToken = page.nextPageToken;
        await client.createIssue({ parent: project, issue: { title: `during ${orderBy} ${filed++}` } });
      } while (pageToken);
      expect(new Set(seen).size).toBe(seen.length);
      const existing = (await client.listIssues({ parent: project, pageSize: 1000 })).issues.length;
      // Every issue that existed before the listing began was seen.
      expect(seen.length).toBeGreaterThanOrEqual(existing - filed);
    }
  });
});

describe("full-text queries that cannot hurt", () => {
  it.each([
    ["64 dashes", "-".repeat(64)],
    ['"- " 128 times', "- ".repeat(128)],
    ["dashes between punctuation", "-!".repeat(40)],
  ])("answers %s with INVALID_ARGUMENT naming filter.query, not INTERNAL", async (_, query) => {
    const error = await expectError(
      issues().listIssues({ parent, filter: { query } }),
      Code.InvalidArgument,
      "SEARCH_QUERY_TOO_COMPLEX",
    );
    expect(violatedFields(error)).toEqual(["filter.query"]);
  });

  it("still searches with a few dashes in a row", async () => {
    // Three negations are one: crash, not safari.
    expect(await numbers({ query: "crash ---safari" })).toEqual([3]);
  });

  it("answers every query of the web-search alphabet with OK or INVALID_ARGUMENT, on the real PostgreSQL", async () => {
    // Long runs of negations are what PostgreSQL's parser cannot take.
    const token = fc.oneof(
      fc.constantFrom(
        "-",
        " ",
        '"',
        "or",
        "crash",
        "safari",
        "!",
        "&",
        "|",
        "(",
        ")",
        ":",
        "*",
        "<",
        "'",
        "\\",
      ),
      fc.integer({ min: 2, max: 70 }).map((run) => "-".repeat(run)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(token, { maxLength: 128 }).map((parts) => parts.join("").slice(0, 256)),
        async (query) => {
          const outcome = await issues()
            .listIssues({ parent, filter: { query } })
            .then(
              () => "OK",
              (error: unknown) => Code[ConnectError.from(error).code],
            );
          expect(["OK", "InvalidArgument"], `${outcome} for ${JSON.stringify(query)}`).toContain(outcome);
        },
      ),
      { numRuns: 150 },
    );
  });
});
