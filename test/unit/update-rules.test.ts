import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { IssueSchema } from "../../gen/proto/tracker/v1/issue_pb.js";
import { DomainError } from "../../src/domain/errors.js";
import { deletionChanges } from "../../src/domain/issues/issue-mapping.js";
import { issueNumbersIn } from "../../src/domain/issues/issue-rules.js";
import { labelChanges } from "../../src/domain/labels/label-mapping.js";
import { projectChanges } from "../../src/domain/projects/project-mapping.js";

// What the update handlers write, decided without a database.

/** The DomainError `run` throws. */
function thrownBy(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error("did not throw");
}

describe("labelChanges", () => {
  const label = { displayName: "Bug", description: "", color: "#ff0000" };

  it("writes the masked fields only, an emptied description too", () => {
    expect(labelChanges(label, new Set(["description", "color"]))).toEqual({
      description: "",
      color: "#ff0000",
    });
    expect(labelChanges(label, new Set(["display_name"]))).toEqual({ display_name: "Bug" });
  });

  it("writes nothing for an empty mask", () => {
    expect(labelChanges({ ...label, displayName: "" }, new Set())).toEqual({});
  });

  it("refuses to empty the display name", () => {
    const error = thrownBy(() => labelChanges({ ...label, displayName: "" }, new Set(["display_name"])));
    expect(error.fieldViolations).toEqual([
      { field: "label.display_name", description: "is required", reason: "required" },
    ]);
  });
});

describe("projectChanges", () => {
  const row = { display_name: "Tracker", description: "issues" };

  it("keeps what the mask leaves out", () => {
    expect(
      projectChanges(row, { displayName: "New", description: "ignored" }, new Set(["display_name"])),
    ).toEqual({
      display_name: "New",
      description: "issues",
    });
    expect(projectChanges(row, { displayName: "", description: "" }, new Set(["description"]))).toEqual({
      display_name: "Tracker",
      description: "",
    });
  });

  it("changes nothing when the values are the same, or the mask is empty", () => {
    expect(
      projectChanges(
        row,
        { displayName: "Tracker", description: "issues" },
        new Set(["display_name", "description"]),
      ),
    ).toBeUndefined();
    expect(projectChanges(row, { displayName: "Other", description: "" }, new Set())).toBeUndefined();
  });

  it("refuses to empty the display name", () => {
    const error = thrownBy(() => projectChanges(row, undefined, new Set(["display_name"])));
    expect(error.fieldViolations[0]?.field).toBe("project.display_name");
  });
});

describe("issueNumbersIn", () => {
  it("gives the numbers of the project's issues, in order", () => {
    expect(issueNumbersIn("tr", "projects/tr", ["projects/tr/issues/7", "projects/tr/issues/2"])).toEqual([
      "7",
      "2",
    ]);
  });

  it("refuses an issue of another project, naming its index", () => {
    const error = thrownBy(() =>
      issueNumbersIn("tr", "projects/tr", ["projects/tr/issues/1", "projects/xy/issues/1"]),
    );
    expect(error.reason).toBe("ISSUE_OF_OTHER_PROJECT");
    expect(error.fieldViolations[0]?.field).toBe("names[1]");
    expect(error.message).toBe("names[1]: is not an issue of projects/tr");
  });
});

describe("deletionChanges", () => {
  it("records the delete time as the history's JSON: an RFC 3339 time, or null", () => {
    const live = create(IssueSchema, {});
    const deleted = create(IssueSchema, { deleteTime: timestampFromDate(new Date("2026-01-02T03:04:05Z")) });
    expect(deletionChanges(live, deleted)).toEqual([
      { field: "delete_time", old: null, new: "2026-01-02T03:04:05Z" },
    ]);
    expect(deletionChanges(deleted, live)).toEqual([
      { field: "delete_time", old: "2026-01-02T03:04:05Z", new: null },
    ]);
  });
});
