// What the CLI prints: proto JSON for scripts (`--json`, `tracker call`), and
// for people a table of a list's rows, a field-per-line view of one
// resource, and one line per streamed message.
import {
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
  toJson,
} from "@bufbuild/protobuf";
import { contract } from "./contract.js";
import { shortEnumName } from "./request.js";

/** The columns people want per resource; any other message shows its scalar fields. */
export const COLUMNS: Record<string, string[]> = {
  "tracker.v1.Issue": ["key", "title", "state", "priority", "assignee", "update_time"],
  "tracker.v1.Project": ["name", "display_name", "update_time", "delete_time"],
  "tracker.v1.Label": ["name", "display_name", "color"],
  "tracker.v1.Member": ["user", "role", "update_time"],
  "tracker.v1.Comment": ["name", "author", "body", "create_time"],
  "tracker.v1.IssueEvent": ["sequence", "issue", "kind", "actor", "create_time"],
  "tracker.v1.User": ["name", "display_name", "email"],
};

const MAX_CELL = 60;

export const jsonOf = (schema: DescMessage, message: Message): JsonObject =>
  toJson(schema, message, { registry: contract().registry }) as JsonObject;

/** The repeated message field a List/Search/BatchGet response carries its rows in. */
export function rowsField(schema: DescMessage): DescField | undefined {
  const lists = schema.fields.filter((field) => field.fieldKind === "list" && field.listKind === "message");
  return lists.length === 1 ? lists[0] : undefined;
}

const isScalarish = (field: DescField) =>
  field.fieldKind === "scalar" ||
  field.fieldKind === "enum" ||
  (field.fieldKind === "list" && field.listKind !== "message") ||
  (field.fieldKind === "message" && field.message.typeName === "google.protobuf.Timestamp");

function columnsOf(schema: DescMessage): DescField[] {
  const chosen = COLUMNS[schema.typeName];
  const fields = chosen
    ? chosen.flatMap((name) => schema.fields.filter((field) => field.name === name))
    : schema.fields.filter(isScalarish);
  return fields.length > 0 ? fields : schema.fields.filter(isScalarish);
}

/**
 * What a terminal must not be sent from text someone else wrote: C0 and C1
 * controls and DEL (escape sequences retitle or clear the terminal, a
 * carriage return overwrites a line, a line feed fakes a new one) and the
 * bidirectional controls and line separators that reorder or hide text.
 * Invisible characters too (zero-width space, word joiner, BOM, tag
 * characters, fillers): a name with one looks like a name without. The
 * joiners U+200C/U+200D stay, as emoji sequences and scripts need them.
 */
const UNSAFE =
  /[\p{Cc}\u061c\u115f\u1160\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu;

/** `\u` escapes of each UTF-16 unit (a tag character is two), as JSON writes them. */
const escaped = (char: string) =>
  [...Array(char.length).keys()]
    .map((index) => `\\u${char.charCodeAt(index).toString(16).padStart(4, "0")}`)
    .join("");

/**
 * Any server-supplied text as it may reach a terminal: every unsafe character
 * written out as `\u…`, and a backslash as `\\`, so that a title holding the
 * six characters `\u001b` cannot pass for an escaped ESC.
 */
export const terminalSafe = (text: string) => text.replace(/\\/g, "\\\\").replace(UNSAFE, escaped);

/**
 * Proto JSON for scripts, with the unsafe characters JSON.stringify leaves
 * raw (C1, DEL, bidirectional controls, U+2028/2029) as `\u` escapes: the
 * same value, safe to print. (Its only raw control is the indentation's
 * line feed: one inside a string is already `\n`.)
 */
export const jsonText = (json: JsonValue, indent?: number) =>
  JSON.stringify(json, null, indent).replace(UNSAFE, (char) => (char === "\n" ? char : escaped(char)));

/** One value as people read it (not yet terminal-safe): enums in lower case without their prefix, times to the second. */
export function cell(field: DescField, value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.map((item) => cell(field, item)).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  const text = String(value);
  const desc =
    field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")
      ? field.enum
      : undefined;
  if (desc) return shortEnumName(text, desc);
  if (field.fieldKind === "message" && field.message.typeName === "google.protobuf.Timestamp")
    return text.replace("T", " ").replace(/\.\d+Z$/, "Z");
  return text;
}

/** Prose on one line and cut short; names and ids (no spaces) whole, to be copied. */
const oneLine = (text: string) => {
  const line = text.split("\n")[0] ?? "";
  if (!/\s/.test(text)) return line;
  return line.length > MAX_CELL || text.includes("\n") ? `${line.slice(0, MAX_CELL - 1)}…` : line;
};

export function table(schema: DescMessage, rows: JsonObject[]): string {
  const columns = columnsOf(schema);
  const grid = [
    columns.map((field) => field.name.toUpperCase()),
    ...rows.map((row) => columns.map((field) => terminalSafe(oneLine(cell(field, row[field.jsonName]))))),
  ];
  const widths = columns.map((_, index) => Math.max(...grid.map((line) => (line[index] ?? "").length)));
  return grid
    .map((line) =>
      line
        .map((text, index) => (index === line.length - 1 ? text : text.padEnd(widths[index] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * One resource: every field that is set, one per line. A value's further
 * lines (a body's) are indented under its first, so that no line of it can
 * pass for a field (`state: closed` in a body someone wrote).
 */
export function fields(schema: DescMessage, json: JsonObject): string {
  const present = schema.fields.filter((field) => json[field.jsonName] !== undefined);
  const width = Math.max(0, ...present.map((field) => field.name.length));
  const continued = `\n${" ".repeat(width + 3)}`;
  return present
    .map((field) => {
      const lines = cell(field, json[field.jsonName]).split("\n").map(terminalSafe);
      return `${`${field.name}:`.padEnd(width + 1)}  ${lines.join(continued)}`;
    })
    .join("\n");
}

/** A streamed message on one line: its scalar fields and those of its sub-messages, `key=value`. */
export function line(schema: DescMessage, json: JsonObject, prefix = ""): string {
  return schema.fields
    .flatMap((field) => {
      const value = json[field.jsonName];
      if (value === undefined) return [];
      if (field.fieldKind === "message" && field.message.typeName !== "google.protobuf.Timestamp")
        return typeof value === "object" && value !== null && !Array.isArray(value)
          ? [line(field.message, value, `${prefix}${field.name}.`)]
          : [];
      if (field.fieldKind === "list" && field.listKind === "message") return [];
      return [`${prefix}${field.name}=${terminalSafe(cell(field, value))}`];
    })
    .filter((part) => part !== "")
    .join(" ");
}

/** Whether a streamed message carries any sub-message; those that do not are heartbeats. */
export const carriesMessage = (schema: DescMessage, json: JsonObject) =>
  schema.fields.some((field) => field.fieldKind === "message" && json[field.jsonName] !== undefined);
