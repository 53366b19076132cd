// The friendly commands, derived from the contract by the AIP naming of its
// RPCs (AIP-131..135, 164, 231: Get/List/Create/Update/Delete/Undelete/
// BatchGet + resource): `tracker issues list`, `tracker issue get CORE-42`.
// Their flags are the request message's fields, flattened; the positional
// argument is the name or parent the RPC acts on. Only ALIASES is written by
// hand: well-known shortcuts onto an RPC with some fields fixed.
import type { parseArgs } from "node:util";
import type { DescField, DescMessage, DescMethod } from "@bufbuild/protobuf";
import { FieldBehavior } from "../gen/proto/google/api/field_behavior_pb.js";
import type { ResourceDescriptor } from "../gen/proto/google/api/resource_pb.js";
import { behaviorsOf, contract, referencedResource, resourceOf } from "./contract.js";

export interface Flag {
  /** The name typed after `--`, e.g. `state` for `filter.states`. */
  name: string;
  /** Other names for the same field, e.g. `parent` for `--project`. */
  aliases: string[];
  /** From the request message down to the field, e.g. [filter, states]. */
  path: DescField[];
  /** The resource the value names, so a short form (`CORE`, `CORE-42`) expands to its name. */
  names?: ResourceDescriptor;
}

export interface Command {
  /** The resource, singular and plural, as typed: `issue`, `issues`. */
  group: { singular: string; plural: string };
  verb: string;
  method: DescMethod;
  flags: Flag[];
  /** The flag the positional argument fills (the name or parent acted on). */
  positional?: Flag;
  /** An alias's fixed values, by dotted field path (`issue.state`). */
  fixed: Record<string, string>;
  /** An alias's own one-line description. */
  summary?: string;
  /** Update RPCs: the resource field whose given fields become the `update_mask`. */
  maskOf?: DescField;
}

interface Alias {
  group: string;
  verb: string;
  of: string;
  summary: string;
  fixed: Record<string, string>;
  /** The flags it takes, new name → field path of the RPC's request. */
  flags: Record<string, string>;
}

/** Shortcuts people expect; each is an RPC of the contract with fields fixed. Keep them few. */
export const ALIASES: Alias[] = [
  {
    group: "issue",
    verb: "close",
    of: "update",
    summary: "Closes an issue: UpdateIssue with state CLOSED and the reason.",
    fixed: { "issue.state": "STATE_CLOSED" },
    flags: { reason: "issue.close_reason", etag: "issue.etag" },
  },
  {
    group: "issue",
    verb: "reopen",
    of: "update",
    summary: "Reopens an issue: UpdateIssue with state OPEN (the close reason is cleared).",
    fixed: { "issue.state": "STATE_OPEN" },
    flags: { etag: "issue.etag" },
  },
];

export type Options = NonNullable<Parameters<typeof parseArgs>[0]>["options"] & {};

/** The flags every command takes (see help.ts). */
export const GLOBAL_OPTIONS: Options = {
  server: { type: "string" },
  token: { type: "string" },
  "token-file": { type: "string" },
  profile: { type: "string" },
  protocol: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/** Names no field flag takes (a field of such a name keeps its dotted path): the above, and those of some commands. */
const GLOBAL_FLAGS = [...Object.keys(GLOBAL_OPTIONS), "all", "data", "token-command"];

const VERB = /^(BatchGet|Get|List|Create|Update|Delete|Undelete|Search|Watch)([A-Z]\w*)$/;
const PLURAL_VERBS = new Set(["BatchGet", "List", "Search", "Watch"]);
/** Verbs on many resources, written with the plural: `tracker issues list`. */
export const isPluralVerb = (verb: string) =>
  PLURAL_VERBS.has(verb.replace(/(^|-)(\w)/g, (_, _dash, c: string) => c.toUpperCase()));

export const kebab = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/_/g, "-")
    .toLowerCase();

export function singular(name: string): string {
  if (name.endsWith("ies")) return `${name.slice(0, -3)}y`;
  if (name.endsWith("s") && !name.endsWith("ss")) return name.slice(0, -1);
  return name;
}

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

/** The resource an RPC's noun names (`Issues`, `Issue`), by its google.api.resource singular/plural. */
function resourceNamed(noun: string): ResourceDescriptor | undefined {
  for (const { descriptor } of contract().resources.values())
    if (descriptor.plural === lowerFirst(noun) || descriptor.singular === lowerFirst(noun)) return descriptor;
  return undefined;
}

let derived: Command[] | undefined;

/** Every friendly command: one per AIP-named RPC of tracker.v1, then the aliases. */
export function commands(): Command[] {
  if (derived) return derived;
  const list: Command[] = [];
  for (const service of contract().services) {
    if (!service.typeName.startsWith("tracker.")) continue;
    for (const method of service.methods) {
      const match = VERB.exec(method.name);
      if (!match) continue;
      const [, verb = "", noun = ""] = match;
      const named = resourceNamed(noun);
      const singularName = kebab(named?.singular ?? (PLURAL_VERBS.has(verb) ? singular(noun) : noun));
      const pluralName = kebab(named?.plural ?? noun);
      list.push(derive(method, { singular: singularName, plural: pluralName }, kebab(verb), named));
    }
  }
  for (const alias of ALIASES) {
    const base = list.find((command) => command.group.singular === alias.group && command.verb === alias.of);
    if (!base) continue;
    const flags: Flag[] = Object.entries(alias.flags).flatMap(([name, dotted]) => {
      const flag = base.flags.find((candidate) => dottedPath(candidate.path) === dotted);
      return flag ? [{ ...flag, name, aliases: [] }] : [];
    });
    if (base.positional) flags.unshift(base.positional);
    list.push({ ...base, verb: alias.verb, flags, fixed: alias.fixed, summary: alias.summary });
  }
  derived = list;
  return list;
}

export const dottedPath = (path: DescField[]) => path.map((field) => field.name).join(".");

/** Messages whose JSON form is one string or number, so one flag sets them. */
const SCALAR_MESSAGES = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.StringValue",
  "google.protobuf.Int64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.BoolValue",
]);

/** The request's settable fields, depth first: sub-messages are flattened into their fields. */
function leaves(message: DescMessage, verb: string, path: DescField[] = []): DescField[][] {
  if (path.length > 3) return [];
  return message.fields.flatMap((field) => {
    const behaviors = behaviorsOf(field);
    // Output-only fields are ignored by the server, but an etag is sent back (AIP-154).
    if (behaviors.includes(FieldBehavior.OUTPUT_ONLY) && (field.name !== "etag" || verb === "create"))
      return [];
    // A resource's name is set by the server on create.
    if (behaviors.includes(FieldBehavior.IDENTIFIER) && verb === "create") return [];
    if (field.fieldKind === "map") return [];
    if (field.fieldKind === "list" && field.listKind === "message") return [];
    if (field.fieldKind === "message" && !SCALAR_MESSAGES.has(field.message.typeName))
      return leaves(field.message, verb, [...path, field]);
    return [[...path, field]];
  });
}

function derive(
  method: DescMethod,
  group: Command["group"],
  verb: string,
  resource: ResourceDescriptor | undefined,
): Command {
  const paths = leaves(method.input, verb);
  const shortName = (path: DescField[]) => {
    const leaf = path[path.length - 1] as DescField;
    return kebab(leaf.fieldKind === "list" ? singular(leaf.name) : leaf.name);
  };
  const counts = new Map<string, number>();
  for (const path of paths) counts.set(shortName(path), (counts.get(shortName(path)) ?? 0) + 1);
  const flags: Flag[] = paths.map((path) => {
    const short = shortName(path);
    const unique = counts.get(short) === 1 && !GLOBAL_FLAGS.includes(short);
    const leaf = path[path.length - 1] as DescField;
    const names =
      referencedResource(leaf) ??
      // AIP-122: a field named after a resource (`labels`) holds its names.
      (leaf.fieldKind !== "message" && leaf.fieldKind !== "enum" ? resourceNamed(leaf.name) : undefined) ??
      // AIP-122: a request's `name`/`names`, and a resource's own `name`, name the RPC's resource.
      ((path.length === 1 && (leaf.name === "name" || leaf.name === "names")) ||
      (path.length === 2 && leaf.name === "name" && resourceOf(leaf.parent))
        ? (resourceOf(leaf.parent) ?? resource)
        : undefined);
    return {
      name: unique ? short : path.map((field) => kebab(field.name)).join("."),
      aliases: [],
      path,
      ...(names && { names }),
    };
  });
  // `--project CORE` for `parent: projects/CORE`, named after the parent's resource.
  const parent = flags.find((flag) => flag.path.length === 1 && flag.name === "parent");
  if (parent?.names) {
    const friendly = kebab(parent.names.singular);
    if (!flags.some((flag) => flag.name === friendly) && !GLOBAL_FLAGS.includes(friendly)) {
      parent.aliases = [parent.name];
      parent.name = friendly;
    }
  }
  const top = (name: string) => flags.find((flag) => flag.path.length === 1 && flag.path[0]?.name === name);
  const resourceField = method.input.fields.find(
    (field) => field.fieldKind === "message" && resourceOf(field.message),
  );
  const identifier =
    verb === "update" && resourceField
      ? flags.find(
          (flag) => flag.path.length === 2 && flag.path[0] === resourceField && flag.path[1]?.name === "name",
        )
      : undefined;
  const positional =
    top("name") ??
    top("names") ??
    identifier ??
    top("parent") ??
    (verb === "create"
      ? flags.find((flag) => flag.path.length === 1 && flag.path[0]?.name.endsWith("_id"))
      : undefined);
  const updateMask = top("update_mask");
  return {
    group,
    verb,
    method,
    flags,
    ...(positional && { positional }),
    fixed: {},
    ...(verb === "update" && updateMask && resourceField && { maskOf: resourceField }),
  };
}

/**
 * `CORE` → `projects/CORE`, `CORE-42` → `projects/CORE/issues/42`, `CORE/bug`
 * → `projects/CORE/labels/bug`; missing leading parts come from `known`, the
 * variables of names already in the request (`bug` with parent CORE). Anything
 * else is left for the server to judge.
 */
export function expandName(value: string, names: ResourceDescriptor, known: Map<string, string>): string {
  const pattern = names.pattern[0];
  if (!pattern) return value;
  const literal = pattern.split("/")[0] ?? "";
  if (value.startsWith(`${literal}/`)) return value;
  const variables = pattern.match(/\{\w+\}/g) ?? [];
  let parts = value.split("/");
  const first = parts[0] ?? "";
  // The key people write for an issue, `CORE-42`, stands for two parts (but
  // `good-first` is one label id when the project is known and is not `good`).
  const dash = first.lastIndexOf("-");
  const head = variables[0] ?? "";
  if (
    parts.length < variables.length &&
    dash > 0 &&
    (!known.has(head) || known.get(head) === first.slice(0, dash))
  )
    parts = [first.slice(0, dash), first.slice(dash + 1), ...parts.slice(1)];
  const missing = variables.slice(0, variables.length - parts.length);
  if (missing.every((variable) => known.has(variable)))
    parts = [...missing.map((variable) => known.get(variable) ?? ""), ...parts];
  if (parts.length !== variables.length || parts.some((part) => part === "")) return value;
  let index = 0;
  return pattern.replace(/\{\w+\}/g, () => parts[index++] ?? "");
}

/** The variables of a full name: `projects/CORE/issues/42` → {project} CORE, {issue} 42. */
export function variablesOf(name: string, names: ResourceDescriptor): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = names.pattern[0];
  if (!pattern) return found;
  const patternParts = pattern.split("/");
  const nameParts = name.split("/");
  if (patternParts.length !== nameParts.length) return found;
  patternParts.forEach((part, index) => {
    if (/^\{\w+\}$/.test(part)) found.set(part, nameParts[index] ?? "");
    else if (part !== nameParts[index]) found.clear();
  });
  return found;
}
