import { describe, expect, it } from "vitest";
import { cell, fields } from "../../cli/output.js";
import { IssueSchema } from "../../gen/proto/tracker/v1/issue_pb.js";

describe("the CLI's output for people", () => {
  const body = IssueSchema.fields.find((field) => field.name === "body");
  if (!body) throw new Error("Issue has no body field");

  it("writes control characters and bidirectional overrides out, keeping line breaks and tabs", () => {
    const hostile = "\u001b]0;PWNED\u0007\u001b[2J\u001b[31mred\nnext\tcol \u202egnp.exe";
    const shown = cell(body, hostile);
    for (const raw of ["\u001b", "\u0007", "\u202e"]) expect(shown).not.toContain(raw);
    expect(shown).toBe("\\u001b]0;PWNED\\u0007\\u001b[2J\\u001b[31mred\nnext\tcol \\u202egnp.exe");
    expect(fields(IssueSchema, { body: hostile })).not.toContain("\u001b");
  });
});
