// From what was typed to a request message: flags and the positional argument
// become the request's proto JSON (enum values in any case, short names
// expanded, an update's mask from the fields given), which fromJson checks
// against the contract like the server would.
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type Message,
  ScalarType,
} from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import type { ResourceDescriptor } from "../gen/proto/google/api/resource_pb.js";
import { type Command, expandName, type Flag, variablesOf } from "./commands.js";
import { contract } from "./contract.js";

/** A mistake in what was typed: exit code 2, and a pointer to --help. */
export class UsageError extends Error {}

/** `in_progress` for STATE_IN_PROGRESS: the value without its enum's prefix, in lower case. */
/** `STATE_` for enum State (protobuf-es finds it in lower case). */
const prefixOf = (desc: DescEnum) => (desc.sharedPrefix ?? "").toUpperCase();

export function shortEnumName(name: string, desc: DescEnum): string {
  const prefix = prefixOf(desc);
  return (name.startsWith(prefix) ? name.slice(prefix.length) : name).toLowerCase();
}

export const enumChoices = (desc: DescEnum) =>
  desc.values.filter((value) => value.number !== 0).map((value) => shortEnumName(value.name, desc));

/** `open`, `in-progress`, `IN_PROGRESS` or `STATE_IN_PROGRESS` → `STATE_IN_PROGRESS`. */
export function enumValueName(input: string, desc: DescEnum): string {
  const upper = input.trim().toUpperCase().replace(/-/g, "_");
  const value = desc.values.find(
    (candidate) => candidate.name === upper || candidate.name === `${prefixOf(desc)}${upper}`,
  );
  if (!value) throw new UsageError(`"${input}" is not one of ${enumChoices(desc).join(", ")}`);
  return value.name;
}

const enumOf = (field: DescField): DescEnum | undefined =>
  field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")
    ? field.enum
    : undefined;

export const isBooleanFlag = (field: DescField) =>
  field.fieldKind === "scalar" && field.scalar === ScalarType.BOOL;

/** One typed value of `field` as proto JSON. */
function jsonOf(
  field: DescField,
  raw: string,
  names: ResourceDescriptor | undefined,
  known: Map<string, string>,
): JsonValue {
  const desc = enumOf(field);
  if (desc) return enumValueName(raw, desc);
  if (field.fieldKind === "message" && field.message.typeName === "google.protobuf.FieldMask")
    // Paths as people type them (`close_reason`, `close-reason`), in JSON's camelCase.
    return raw
      .split(",")
      .map((path) =>
        path
          .trim()
          .split(".")
          .map((part) => protoCamelCase(part.replace(/-/g, "_")))
          .join("."),
      )
      .join(",");
  if (isBooleanFlag(field)) return raw === "true";
  if (!names) return raw;
  const name = expandName(raw, names, known);
  for (const [variable, value] of variablesOf(name, names))
    if (!known.has(variable)) known.set(variable, value);
  return name;
}

function setAt(json: JsonObject, path: DescField[], value: JsonValue) {
  let node = json;
  for (const field of path.slice(0, -1)) {
    const next = node[field.jsonName];
    if (typeof next === "object" && next !== null && !Array.isArray(next)) node = next;
    else {
      const created: JsonObject = {};
      node[field.jsonName] = created;
      node = created;
    }
  }
  const leaf = path[path.length - 1] as DescField;
  node[leaf.jsonName] = value;
}

function fieldPath(message: DescMessage, dotted: string): DescField[] {
  const path: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of dotted.split(".")) {
    const field: DescField | undefined = current?.fields.find((candidate) => candidate.name === name);
    if (!field) throw new Error(`${message.typeName} has no field ${dotted}`);
    path.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return path;
}

export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

function givenValue(flag: Flag, values: FlagValues) {
  for (const name of [flag.name, ...flag.aliases]) if (values[name] !== undefined) return values[name];
  return undefined;
}

/** The request of a friendly command: its flags, positional argument, fixed values and update mask. */
export function buildRequest(command: Command, values: FlagValues, positionals: string[]): Message {
  const json: JsonObject = {};
  const given: Flag[] = [];
  // Variables of the names given so far, in field order: a parent's project fills in a label's.
  const known = new Map<string, string>();
  const set = (flag: Flag, value: string | boolean | (string | boolean)[]) => {
    const leaf = flag.path[flag.path.length - 1] as DescField;
    const raws = (Array.isArray(value) ? value : [value]).flatMap((item) =>
      typeof item === "boolean" ? [String(item)] : leaf.fieldKind === "list" ? item.split(",") : [item],
    );
    const typed = raws.map((raw) => jsonOf(leaf, raw, flag.names, known));
    setAt(json, flag.path, leaf.fieldKind === "list" ? typed : (typed[typed.length - 1] ?? ""));
    given.push(flag);
  };
  const { positional } = command;
  if (positionals.length > 0) {
    if (!positional) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const repeated = positional.path[positional.path.length - 1]?.fieldKind === "list";
    if (!repeated && positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    if (givenValue(positional, values) !== undefined)
      throw new UsageError(`--${positional.name} given twice (also as an argument)`);
  }
  for (const flag of command.flags) {
    const value = flag === positional && positionals.length > 0 ? positionals : givenValue(flag, values);
    if (value !== undefined) set(flag, value);
  }
  const fixedPaths = Object.entries(command.fixed).map(([dotted, value]) => {
    const path = fieldPath(command.method.input, dotted);
    setAt(json, path, jsonOf(path[path.length - 1] as DescField, value, undefined, known));
    return path;
  });
  const { maskOf } = command;
  const mask = command.method.input.fields.find((field) => field.name === "update_mask");
  if (maskOf && mask && json[mask.jsonName] === undefined) {
    // PATCH what was given: the resource's fields other than its name and etag.
    const paths = [...given.map((flag) => flag.path), ...fixedPaths]
      .filter((path) => path[0] === maskOf && path.length > 1)
      .map((path) => path.slice(1))
      .filter((path) => !["name", "etag"].includes(path[0]?.name ?? ""))
      .map((path) => path.map((field) => field.jsonName).join("."));
    json[mask.jsonName] = [...new Set(paths)].join(",");
  }
  return parseJson(command.method.input, json);
}

export function parseJson(schema: DescMessage, json: JsonValue): Message {
  try {
    return fromJson(schema, json, { registry: contract().registry });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
