import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  Issue_CloseReason as CloseReason,
  Issue_Priority as Priority,
  Issue_State as State,
} from "../../gen/proto/tracker/v1/issue_pb.js";
import { type IssueRow, snapshotOf, toIssue } from "../../src/domain/issues/issue-mapping.js";
import { assertSearchable, MAX_CHAINED_NEGATIONS } from "../../src/domain/issues/list-issues.js";
import { diffFields } from "../../src/domain/shared/issue-events.js";
import { maskedFields } from "../../src/domain/shared/update-mask.js";

// Mapping between rows and messages, and the small rules handlers rely on.

const ROW: IssueRow = {
  uid: "0b3c5f8e-0000-4000-8000-000000000001",
  project_uid: "0b3c5f8e-0000-4000-8000-000000000002",
  number: "42",
  title: "Crash on save",
  body: "steps...",
  state: "closed",
  close_reason: "duplicate",
  close_time: "2026-11-21 08:42:28.123456+00",
  priority: "high",
  reporter_uid: "0b3c5f8e-0000-4000-8000-000000000003",
  assignee_uid: null,
  label_keys: ["bug", "ui"],
  create_time: "2026-11-20 08:00:00+00",
  update_time: "2026-11-21 08:42:28.123456+00",
  delete_time: null,
  revision: 3,
  search: "",
  parent_uid: null,
  sub_issue_order: null,
  parent_number: null,
};

describe("toIssue", () => {
  it("names everything by resource name and keeps microseconds", () => {
    const issue = toIssue(ROW, "CORE");
    expect(issue.name).toBe("projects/CORE/issues/42");
    expect(issue.key).toBe("CORE-42");
    expect(issue.number).toBe(42n);
    expect(issue.state).toBe(State.CLOSED);
    expect(issue.closeReason).toBe(CloseReason.DUPLICATE);
    expect(issue.priority).toBe(Priority.HIGH);
    expect(issue.reporter).toBe(`users/${ROW.reporter_uid}`);
    expect(issue.assignee).toBe("");
    expect(issue.labels).toEqual(["projects/CORE/labels/bug", "projects/CORE/labels/ui"]);
    expect(issue.closeTime?.nanos).toBe(123_456_000);
    expect(issue.deleteTime).toBeUndefined();
    expect(issue.etag).toBe("3");
  });
});

describe("snapshotOf and diffFields", () => {
  it("records the fields the history shows, in the API's JSON form", () => {
    expect(snapshotOf(toIssue(ROW, "CORE"))).toEqual({
      title: "Crash on save",
      body: "steps...",
      state: "STATE_CLOSED",
      close_reason: "CLOSE_REASON_DUPLICATE",
      priority: "PRIORITY_HIGH",
      assignee: null,
      labels: ["projects/CORE/labels/bug", "projects/CORE/labels/ui"],
      parent: null,
      sub_issue_order: null,
    });
    const child = {
      ...ROW,
      parent_uid: "0b3c5f8e-0000-4000-8000-000000000009",
      parent_number: "7",
      sub_issue_order: 3,
    };
    expect(snapshotOf(toIssue(child, "CORE"))).toMatchObject({
      parent: "projects/CORE/issues/7",
      sub_issue_order: 3,
    });
  });

  it("lists only the fields that differ, old and new, with missing ones as null", () => {
    const before = snapshotOf(toIssue(ROW, "CORE"));
    const after = { ...before, title: "Crash on save as", labels: ["projects/CORE/labels/bug"] };
    expect(diffFields(before, after)).toEqual([
      { field: "title", old: "Crash on save", new: "Crash on save as" },
      { field: "labels", old: before.labels, new: ["projects/CORE/labels/bug"] },
    ]);
    expect(diffFields({}, { title: "new" })).toEqual([{ field: "title", old: null, new: "new" }]);
    expect(diffFields(before, before)).toEqual([]);
  });
});

describe("maskedFields", () => {
  const WRITABLE = ["title", "body", "state"] as const;
  const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });

  it("changes the mask's writable paths, all of them for *, none for an empty or missing mask", () => {
    expect([...maskedFields(mask("body"), WRITABLE)]).toEqual(["body"]);
    expect([...maskedFields(mask("*"), WRITABLE)]).toEqual([...WRITABLE]);
    expect(maskedFields(mask(), WRITABLE).size).toBe(0);
    expect(maskedFields(undefined, WRITABLE).size).toBe(0);
    expect([...maskedFields(mask("uid", "title"), WRITABLE)]).toEqual(["title"]);
  });
});

describe("assertSearchable", () => {
  it(`allows ${MAX_CHAINED_NEGATIONS} chained "-" and refuses more`, () => {
    expect(() => assertSearchable(`${"-".repeat(MAX_CHAINED_NEGATIONS)}crash`)).not.toThrow();
    expect(() => assertSearchable("crash -- save")).not.toThrow();
    expect(() => assertSearchable(`${"- ".repeat(MAX_CHAINED_NEGATIONS + 1)}crash`)).toThrow(/filter.query/);
    expect(() => assertSearchable(`${"-".repeat(MAX_CHAINED_NEGATIONS + 1)}crash`)).toThrow(/filter.query/);
  });
});
