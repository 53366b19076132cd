import { describe, expect, it } from "vitest";
import { handleCandidates, isHandle } from "../../src/domain/users/handles.js";

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
