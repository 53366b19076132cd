import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RE2JS } from "@bufbuild/re2";
import { describe, expect, it } from "vitest";
import { isNativeSafePattern } from "../../src/shared/validator.js";

const PROTO_DIR = join(import.meta.dirname, "../../proto/tracker/v1");

/** Every regular expression in the contract: `string.pattern` rules and CEL `matches()` calls. */
function contractPatterns(): string[] {
  const patterns = new Set<string>();
  for (const file of readdirSync(PROTO_DIR).filter((name) => name.endsWith(".proto"))) {
    const text = readFileSync(join(PROTO_DIR, file), "utf8");
    for (const [, pattern] of text.matchAll(/string\.pattern = "((?:[^"\\]|\\.)*)"/g))
      patterns.add(pattern ?? "");
    for (const [, pattern] of text.matchAll(/matches\('((?:[^'\\]|\\.)*)'\)/g)) patterns.add(pattern ?? "");
  }
  return [...patterns];
}

/** Names and near misses: each sample, and each with one character dropped, doubled or replaced. */
function samples(): string[] {
  const uuid = "0b7f4a4e-4d7c-4b7e-9d2a-1f6a3c9e8b10";
  const seeds = [
    "",
    "CORE",
    "projects/CORE",
    "projects/CORE/issues/42",
    "projects/CORE/issues/0",
    `projects/CORE/issues/42/comments/${uuid}`,
    "projects/CORE/labels/needs-review",
    `projects/CORE/members/${uuid}`,
    `users/${uuid}`,
    "users/me",
    "ada-lovelace",
    "Ada-Lovelace",
    "a".repeat(39),
    "\u212Aate",
    "#a1B2c3",
    "update_time desc",
    "priority",
    "number asc",
    "needs-review",
    "projects/ÇORE/issues/1",
    "projects/CORE/issues/1\n",
  ];
  const out = new Set(seeds);
  for (const seed of seeds) {
    for (let i = 0; i < seed.length; i++) {
      out.add(seed.slice(0, i) + seed.slice(i + 1));
      out.add(seed.slice(0, i) + seed[i] + seed.slice(i));
      for (const replacement of ["A", "a", "0", "/", "-", " ", "é"]) {
        out.add(seed.slice(0, i) + replacement + seed.slice(i + 1));
      }
    }
  }
  return [...out];
}

describe("the request validator's regular expressions", () => {
  const patterns = contractPatterns();

  it("finds the contract's patterns", () => {
    expect(patterns.length).toBeGreaterThan(10);
    expect(patterns).toContain("^projects/[A-Z][A-Z0-9]{1,9}/issues/[1-9][0-9]{0,17}$");
  });

  it("matches every contract pattern natively: none has an unbounded repeat or an escape", () => {
    expect(patterns.filter((pattern) => !isNativeSafePattern(pattern))).toEqual([]);
  });

  it("gives the same answer as RE2 for every contract pattern", () => {
    const inputs = samples();
    const disagreements: string[] = [];
    for (const pattern of patterns) {
      const native = new RegExp(pattern, "u");
      const re2 = RE2JS.compile(pattern);
      for (const input of inputs) {
        if (native.test(input) !== re2.test(input))
          disagreements.push(`${pattern} on ${JSON.stringify(input)}`);
      }
    }
    expect(disagreements).toEqual([]);
  });

  it("leaves to RE2 what could backtrack or means something else in JavaScript", () => {
    for (const pattern of ["^(a+)+$", "^a*$", "^a{2,}$", "^\\d{3}$", "^(?:a|aa)*b$", "^\\bword$"]) {
      expect(isNativeSafePattern(pattern), pattern).toBe(false);
    }
    expect(isNativeSafePattern("^[a-z][a-z0-9-]{0,62}$")).toBe(true);
  });
});
