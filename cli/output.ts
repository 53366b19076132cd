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

/** One value as people read it: enums in lower case without their prefix, times to the second. */
/**
 * Control characters (but line breaks and tabs) and bidirectional overrides
 * written out as `\u…`: a body someone else wrote must not retitle the
 * terminal, clear it, or hide text by escape sequences.
 */
const printable = (text: string) =>
  text.replace(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu, (char) =>
    char === "\n" || char === "\t" ? char : `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );

export function cell(field: DescField, value: JsonValue | undefined): string {
  return printable(rawCell(field, value));
}

function rawCell(field: DescField, value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.map((item) => rawCell(field, item)).join(", ");
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
    ...rows.map((row) => columns.map((field) => oneLine(cell(field, row[field.jsonName])))),
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

/** One resource: every field that is set, one per line. */
export function fields(schema: DescMessage, json: JsonObject): string {
  const present = schema.fields.filter((field) => json[field.jsonName] !== undefined);
  const width = Math.max(0, ...present.map((field) => field.name.length));
  return present
    .map((field) => `${`${field.name}:`.padEnd(width + 1)}  ${cell(field, json[field.jsonName])}`)
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
      return [`${prefix}${field.name}=${cell(field, value)}`];
    })
    .filter((part) => part !== "")
    .join(" ");
}

/** Whether a streamed message carries any sub-message; those that do not are heartbeats. */
export const carriesMessage = (schema: DescMessage, json: JsonObject) =>
  schema.fields.some((field) => field.fieldKind === "message" && json[field.jsonName] !== undefined);
