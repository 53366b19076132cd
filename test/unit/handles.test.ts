import { describe, expect, it } from "vitest";
import { displayNameFrom, emailFrom, handleCandidates, isHandle } from "../../src/domain/users/handles.js";
import { BLANK_LOOKING, codePoint } from "../support/fixtures.js";

describe("handleCandidates", () => {
  it.each<[string, string, string, string[]]>([
    [
      "a valid preferred_username, lower-cased, then the e-mail's",
      "Ada",
      "ada.l@example.com",
      ["ada", "ada-l"],
    ],
    ["the e-mail's local part once when it is the same", "ada", "ADA@example.com", ["ada"]],
    [
      "runs of other characters as one hyphen, none at the ends",
      "",
      "_Ada..Lovelace+tag_@x.org",
      ["ada-lovelace-tag"],
    ],
    ["the last @ ending the local part", "", '"a@b"@example.com', ["a-b"]],
    ["no e-mail candidate for an address without a local part", "", "@example.com", []],
    [
      "nothing from non-ASCII letters (the Kelvin sign is no k)",
      "\u212Aate",
      "\u212Aate@example.com",
      ["ate"],
    ],
    ["nothing from a Cyrillic а", "\u0430\u0430", "\u0430\u0430@example.com", []],
    [
      "a local part cut to 39 characters, without a trailing hyphen",
      "",
      `${"a".repeat(38)}-b@x.org`,
      ["a".repeat(38)],
    ],
    ["no preferred_username over 39 characters", "a".repeat(40), "", []],
  ])("%s", (_, preferred, email, expected) => {
    expect(handleCandidates(preferred, email)).toEqual(expected);
    for (const handle of expected) expect(isHandle(handle)).toBe(true);
  });
});

describe("displayNameFrom", () => {
  it.each([
    ["Ada Lovelace", "Ada Lovelace"],
    ["  Ada Lovelace \u3000", "Ada Lovelace"],
    ["Ada @ Example", "Ada @ Example"],
    ["ada@example.com", "ada@example.com"],
    ["\u0627\u0644\u0639\u0631\u0628\u064A\u0629", "\u0627\u0644\u0639\u0631\u0628\u064A\u0629"],
  ])("takes %j as %j", (claim, name) => {
    expect(displayNameFrom(claim)).toBe(name);
  });

  it.each([
    "@alice",
    " @alice",
    "\u3000@alice",
    "\u3164@alice", // Hangul filler: invisible, though a letter
    "\u200b@alice",
    "\uff20alice", // fullwidth at sign
    "\ufe6balice", // small at sign
    "@",
    "\u0301@alice",
    "\u0670@alice",
  ])("takes no display name from %j, which reads as a handle", (claim) => {
    expect(displayNameFrom(claim)).toBe("");
  });

  it("takes no display name with an at sign after any character that shows as a blank", () => {
    for (const blank of BLANK_LOOKING) {
      expect(displayNameFrom(`${blank}@admin`), codePoint(blank)).toBe("");
      expect(displayNameFrom(`${blank}${blank}\uFF20admin`), codePoint(blank)).toBe("");
    }
  });
});

describe("emailFrom", () => {
  it.each(["ada@example.com", "a.b+c@example.co.uk", "\u00e9l\u00e8ve@\u00e9cole.fr"])(
    "takes %j",
    (claim) => {
      expect(emailFrom(claim)).toBe(claim);
    },
  );

  it.each([
    "@alice",
    "\uff20alice",
    "\u2800@alice",
    "\u3164@alice",
    ...BLANK_LOOKING.map((blank) => `${blank}@alice`),
    "alice",
    "ada@",
    "ada@@example.com",
    "ada lovelace@example.com",
    "ada\uff20example.com",
    "\u0301@alice", // a combining mark with nothing to combine with
    "\u0670@alice",
    "\u115f\u0301@alice",
  ])("takes no e-mail from %j, which is not an address or reads as a handle", (claim) => {
    expect(emailFrom(claim)).toBe("");
  });
});
