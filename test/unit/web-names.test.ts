// What the board accepts where a person names an issue (links, sub-issues, "duplicate of").
import { describe, expect, it } from "vitest";
import { issueNameFrom, personName, projectOf } from "../../web/src/names.js";
import { BLANK_LOOKING, codePoint } from "../support/fixtures.js";

describe("issueNameFrom", () => {
  it.each([
    ["CORE-12", "projects/CORE/issues/12"],
    [" core-12 ", "projects/CORE/issues/12"],
    ["12", "projects/WEB/issues/12"],
    ["#12", "projects/WEB/issues/12"],
    ["projects/CORE/issues/3", "projects/CORE/issues/3"],
    ["https://tracker.example.com/projects/CORE/issues/3", "projects/CORE/issues/3"],
    ["/projects/CORE/issues/3", "projects/CORE/issues/3"],
  ])("reads %j", (typed, name) => {
    expect(issueNameFrom(typed, "projects/WEB")).toBe(name);
  });

  it.each([
    "",
    "0",
    "CORE-0",
    "C-1",
    "Fix the login page",
    "projects/core/issues/3",
    "projects/CORE/issues/3/comments/1",
    "https://tracker.example.com/",
    `${"9".repeat(19)}`,
  ])("refuses %j", (typed) => {
    expect(issueNameFrom(typed, "projects/WEB")).toBeUndefined();
  });

  it("names an issue's project", () => {
    expect(projectOf("projects/CORE/issues/12")).toBe("projects/CORE");
  });
});

describe("personName", () => {
  const person = (handle: string, displayName: string, email = "") => ({ handle, displayName, email });

  it.each([
    [person("ada", "Ada Lovelace"), "@ada"],
    [person("", "Ada Lovelace", "ada@example.com"), "Ada Lovelace"],
    [person("", "", "ada@example.com"), "ada at example.com"],
    // A visible mark before an at sign is no list's to refuse: no at sign shows but a handle's.
    [person("", "\u0640@alice"), "\u0640 at alice"],
    [person("", "", "\u02d1@alice"), "\u02d1 at alice"],
    [person("", "Ada @ Example"), "Ada at Example"],
    // Display names from before the server refused them never pass for a handle.
    [person("", "@alice"), "alice"],
    [person("", " \u200b@@alice"), "alice"],
    [person("", "\uff20alice"), "alice"],
    [person("", "@", "mallory@example.com"), "mallory at example.com"],
    // An e-mail stored before the server took none that is no address, or starts with a mark.
    [person("", "", "@alice"), "alice"],
    [person("", "", "\u0301@alice"), "alice"],
    [person("", "\u0670@alice", ""), "alice"],
  ])("names %j as %j", (user, shown) => {
    expect(personName(user)).toBe(shown);
  });

  it("shows no at sign after any character that shows as a blank at the start of a display name", () => {
    for (const blank of BLANK_LOOKING)
      expect(personName(person("", `${blank}@admin`)), codePoint(blank)).toBe("admin");
  });
});
