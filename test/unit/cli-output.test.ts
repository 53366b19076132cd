import { describe, expect, it } from "vitest";
import { fields, jsonText, terminalSafe } from "../../cli/output.js";
import { IssueSchema } from "../../gen/proto/tracker/v1/issue_pb.js";

describe("the CLI's output for people", () => {
  it("writes every control character, bidirectional control and line separator out", () => {
    const hostile =
      "\u001b]0;PWNED\u0007\u001b[2J\u001b[31mred\r\nnext\tcol \u202egnp.exe\u0085\u009b\u007f\u2066\u200e\u061c\u2028";
    expect(terminalSafe(hostile)).toBe(
      "\\u001b]0;PWNED\\u0007\\u001b[2J\\u001b[31mred\\u000d\\u000anext\\u0009col \\u202egnp.exe\\u0085\\u009b\\u007f\\u2066\\u200e\\u061c\\u2028",
    );
    expect(terminalSafe("Ünïcödé, emoji 👩‍💻 and 中文 stay")).toBe("Ünïcödé, emoji 👩‍💻 and 中文 stay");
  });

  it("writes invisible characters out, and a backslash as two, so an escape cannot be faked", () => {
    expect(terminalSafe("ad\u200bmin\ufeff\u2060\u3164\u{e0041}")).toBe(
      "ad\\u200bmin\\ufeff\\u2060\\u3164\\udb40\\udc41",
    );
    // Six characters typed into a title, and a real ESC: no longer alike.
    expect(terminalSafe("\\u001b")).toBe("\\\\u001b");
    expect(terminalSafe("\u001b")).toBe("\\u001b");
    // The joiners emoji sequences and scripts need stay.
    expect(terminalSafe("\u0645\u06cc\u200c\u062e\u0648\u0627\u0645")).toBe(
      "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645",
    );
  });

  it("shows a multi-line body indented under its first line, each line terminal-safe", () => {
    expect(fields(IssueSchema, { title: "T", body: "one\nstate: closed\n\u001b[2J" })).toBe(
      "title:  T\nbody:   one\n        state: closed\n        \\u001b[2J",
    );
  });

  it("writes JSON with C1, DEL, bidi controls and line separators as \\u escapes, the same value", () => {
    const value = { text: "a\u0085b\u202ec\u2028d\u2029e\u007ff\u001bg\nh\u061ci\u{e0041}j\\k" };
    const text = jsonText(value, 2);
    expect(text).toBe(
      '{\n  "text": "a\\u0085b\\u202ec\\u2028d\\u2029e\\u007ff\\u001bg\\nh\\u061ci\\udb40\\udc41j\\\\k"\n}',
    );
    expect(JSON.parse(text)).toEqual(value);
  });
});
