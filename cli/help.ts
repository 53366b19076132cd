// --help, written from the contract: the proto comments of services, RPCs,
// messages and fields, field behaviours (REQUIRED), enum values and resource
// name patterns. Comments are read only here, so a command that is not asked
// for help never loads @bufbuild/protoplugin (and the TypeScript it brings).
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  ScalarType,
} from "@bufbuild/protobuf";
import { type Command, commands, type Flag, isPluralVerb } from "./commands.js";
import { contract, isRequired, referencedResource, resourceOf } from "./contract.js";
import { rowsField } from "./output.js";
import { PROTOCOLS } from "./profile.js";
import { enumChoices, isBooleanFlag } from "./request.js";

type Commented = DescService | DescMethod | DescMessage | DescField | DescEnum;
type CommentOf = (desc: Commented) => string;

async function commentReader(): Promise<CommentOf> {
  const { getComments } = await import("@bufbuild/protoplugin");
  return (desc) =>
    (getComments(desc).leading ?? "")
      .split("\n")
      .map((text) => text.replace(/^ /, "").trimEnd())
      .join("\n")
      .trim();
}

/** The first sentence, on one line. */
const summary = (text: string) => {
  const paragraph = (text.split("\n\n")[0] ?? "").replace(/\s*\n\s*/g, " ");
  const end = paragraph.search(/(?<!\b(e\.g|i\.e))\. (?=[A-Z])/);
  return end === -1 ? paragraph : paragraph.slice(0, end + 1);
};

const indent = (text: string, by: string) =>
  text
    .split("\n")
    .map((line) => (line === "" ? line : `${by}${line}`))
    .join("\n");

export const rpcName = (method: DescMethod) => `${method.parent.typeName}/${method.name}`;

const GLOBAL_HELP = `Global flags:
  --server URL         the tracker server (default: the profile's; env TRACKER_SERVER)
  --token TOKEN        bearer token (default: TRACKER_TOKEN, else the profile's, sent only to its
                       server); on the command line it is visible to other local users (ps):
                       prefer TRACKER_TOKEN, --token-file or --token - (read from stdin)
  --token-file PATH    the bearer token from a file
  --profile NAME       a profile saved by \`tracker login\` (default "default"; env TRACKER_PROFILE)
  --protocol P         ${PROTOCOLS.join(" | ")} (default connect)
  --json               proto JSON instead of tables, for scripts
  -h, --help           this help`;

export function groups(): Map<string, Command[]> {
  const byGroup = new Map<string, Command[]>();
  for (const command of commands())
    byGroup.set(command.group.singular, [...(byGroup.get(command.group.singular) ?? []), command]);
  return byGroup;
}

/** The message a group's commands are about: the rows of its List, or what its Get returns. */
function resourceMessage(commandsOf: Command[]): DescMessage | undefined {
  for (const { method } of commandsOf) {
    const rows = rowsField(method.output);
    if (rows?.fieldKind === "list" && rows.listKind === "message") return rows.message;
    if (resourceOf(method.output)) return method.output;
  }
  return undefined;
}

export async function topHelp(): Promise<string> {
  const comment = await commentReader();
  const lines = [...groups()].map(([name, list]) => {
    const first = list[0] as Command;
    const message = resourceMessage(list);
    const title = `${name}${first.group.plural !== name ? `, ${first.group.plural}` : ""}`;
    const about = message ? summary(comment(message)) : summary(comment(first.method.parent));
    return `  ${title}\n      ${about}\n      ${list.map((command) => command.verb).join(", ")}`;
  });
  return `tracker: the tracker API from the command line, made from its contract (proto/tracker/v1)

Usage:
  tracker <resource> <verb> [NAME] [flags]     e.g. tracker issues list --project CORE --state open
  tracker watch PROJECT [--after N]            stream a project's issue events until Ctrl-C
  tracker call <Service>/<Method> [--data JSON | --data @FILE | --data -]
                                               any RPC, proto JSON in and out (list them: tracker call)
  tracker describe <Service | Service/Method | Message>
  tracker login --server URL [--token-command CMD | --token-file PATH | --token -] [--profile NAME]

Resources and their verbs:
${lines.join("\n")}

${GLOBAL_HELP}

Names may be short: CORE for projects/CORE, CORE-42 for projects/CORE/issues/42.
Exit codes: 0 ok, 1 failed locally, 2 bad usage, 10 + the Connect code on an RPC error
(13 invalid_argument, 15 not_found, 17 permission_denied, 26 unauthenticated, ...).
\`tracker <resource> --help\` and \`tracker <resource> <verb> --help\` say more.`;
}

export async function groupHelp(name: string, list: Command[]): Promise<string> {
  const comment = await commentReader();
  const first = list[0] as Command;
  const message = resourceMessage(list);
  const verbs = list.map(
    (command) =>
      `  ${command.verb.padEnd(12)}${command.summary ?? summary(comment(command.method))}  [${command.method.name}]`,
  );
  return [
    `Usage: tracker ${name} <verb> [NAME] [flags]`,
    message ? `\n${comment(message)}` : "",
    `\n${first.method.parent.typeName}: ${comment(first.method.parent)}`,
    `\nVerbs:\n${verbs.join("\n")}`,
    `\n\`tracker ${name} <verb> --help\` lists a verb's flags.`,
  ].join("\n");
}

/** `string`, `int32`, `tracker.v1.Issue.State`, `[string]`. */
function typeLabel(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return ScalarType[field.scalar].toLowerCase();
    case "enum":
      return field.enum.typeName;
    case "message":
      return field.message.typeName;
    case "list":
      return `[${field.listKind === "scalar" ? ScalarType[field.scalar].toLowerCase() : field.listKind === "enum" ? field.enum.typeName : field.message.typeName}]`;
    case "map":
      return `map<${ScalarType[field.mapKey].toLowerCase()}, …>`;
  }
}

function valueLabel(field: DescField): string {
  if (isBooleanFlag(field)) return "";
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum"))
    return ` ${enumChoices(field.enum).join("|")}`;
  if (field.fieldKind === "message") {
    if (field.message.typeName === "google.protobuf.Timestamp") return " TIME";
    if (field.message.typeName === "google.protobuf.FieldMask") return " FIELDS";
  }
  if (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar"))
    return ` ${ScalarType[field.scalar]}`;
  return " VALUE";
}

/** `{project}-{issue}` and `{project}/{issue}` for `projects/{project}/issues/{issue}`. */
function shortForms(flag: Flag): string | undefined {
  const pattern = flag.names?.pattern[0];
  if (!pattern) return undefined;
  const variables = pattern.match(/\{\w+\}/g) ?? [];
  const slashed = variables.join("/");
  const forms = variables.length === 2 ? [variables.join("-"), slashed] : [slashed];
  return `A ${flag.names?.type} name, ${pattern}; short: ${forms.join(" or ")}.`;
}

function flagHelp(flag: Flag, comment: CommentOf, positional: boolean): string {
  const leaf = flag.path[flag.path.length - 1] as DescField;
  const names = [flag.name, ...flag.aliases].map((name) => `--${name}`).join(", ");
  const notes = [
    flag.path.every(isRequired) ? "REQUIRED" : "",
    leaf.fieldKind === "list" ? "repeatable, or comma-separated" : "",
    positional ? "also the argument" : "",
  ].filter(Boolean);
  const text = [comment(leaf), shortForms(flag)].filter(Boolean).join("\n");
  return `  ${names}${valueLabel(leaf)}${notes.length ? `  (${notes.join("; ")})` : ""}\n${indent(text, "      ")}`;
}

export function usageOf(command: Command): string {
  const argument = command.positional ? ` [${command.positional.name.toUpperCase()}]` : "";
  const group = isPluralVerb(command.verb) ? command.group.plural : command.group.singular;
  return `tracker ${group} ${command.verb}${argument} [flags]`;
}

export async function commandHelp(command: Command): Promise<string> {
  const comment = await commentReader();
  const { method } = command;
  const extra = [
    ...(method.methodKind === "unary" &&
    command.method.output.fields.some((f) => f.name === "next_page_token")
      ? ["  --all                every page: follows next_page_token to the end"]
      : []),
  ];
  const flagLines = command.flags.map((flag) => flagHelp(flag, comment, flag === command.positional));
  const fixed = Object.entries(command.fixed).map(([path, value]) => `${path} = ${value}`);
  return [
    `Usage: ${usageOf(command)}`,
    `\n${command.summary ? `${command.summary}\n\n` : ""}${comment(method)}`,
    `\nCalls ${rpcName(method)}${fixed.length ? ` with ${fixed.join(", ")}` : ""}${
      command.maskOf ? "; the update_mask, unless given, names the fields given" : ""
    } (its JSON form: tracker call ${method.parent.name}/${method.name} --help).`,
    `\nFlags (fields of ${method.input.typeName}):\n${flagLines.join("\n")}${extra.length ? `\n${extra.join("\n")}` : ""}`,
    `\n${GLOBAL_HELP}`,
  ].join("\n");
}

/** A message's fields as proto JSON, with their comments, nested messages indented. */
function messageFields(
  message: DescMessage,
  comment: CommentOf,
  depth = 0,
  seen = new Set<string>(),
): string {
  if (seen.has(message.typeName) || depth > 4) return "";
  const inner = new Set([...seen, message.typeName]);
  return message.fields
    .map((field) => {
      const label = typeLabel(field);
      const enumDesc =
        field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")
          ? field.enum
          : undefined;
      const reference = field.fieldKind === "scalar" ? referencedResource(field) : undefined;
      const lines = [
        `"${field.jsonName}": ${label}${isRequired(field) ? "  REQUIRED" : ""}`,
        indent(
          [
            comment(field),
            enumDesc
              ? `One of: ${enumDesc.values
                  .filter((v) => v.number !== 0)
                  .map((v) => v.name)
                  .join(", ")}`
              : "",
            reference ? `A ${reference.type} name: ${reference.pattern.join(" or ")}` : "",
          ]
            .filter(Boolean)
            .join("\n"),
          "    ",
        ),
      ];
      const nested =
        (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) &&
        !field.message.typeName.startsWith("google.protobuf.")
          ? messageFields(field.message, comment, depth + 1, inner)
          : "";
      return indent([...lines.filter(Boolean), nested].filter(Boolean).join("\n"), "  ");
    })
    .join("\n");
}

export async function methodHelp(method: DescMethod): Promise<string> {
  const comment = await commentReader();
  const streaming = method.methodKind === "server_streaming";
  return [
    `Usage: tracker call ${method.parent.name}/${method.name} [--data JSON | --data @FILE | --data -]`,
    `\n${rpcName(method)}${streaming ? " (server streaming: one JSON per line)" : ""}\n\n${comment(method)}`,
    `\nRequest ${method.input.typeName}:${comment(method.input) ? `\n${indent(comment(method.input), "  ")}` : ""}\n${messageFields(method.input, comment)}`,
    `\nResponse ${streaming ? "stream of " : ""}${method.output.typeName}${comment(method.output) ? `: ${summary(comment(method.output))}` : ""}`,
    `\n${GLOBAL_HELP}`,
  ].join("\n");
}

export async function callList(): Promise<string> {
  const comment = await commentReader();
  return contract()
    .services.map(
      (service) =>
        `${service.typeName}: ${summary(comment(service))}\n${service.methods
          .map((method) => `  ${`${service.name}/${method.name}`.padEnd(40)}${summary(comment(method))}`)
          .join("\n")}`,
    )
    .join("\n\n");
}

export async function describe(desc: DescService | DescMethod | DescMessage): Promise<string> {
  const comment = await commentReader();
  switch (desc.kind) {
    case "service":
      return `service ${desc.typeName}\n\n${comment(desc)}\n\n${desc.methods
        .map(
          (method) =>
            `rpc ${method.name}(${method.input.typeName}) returns (${method.methodKind === "server_streaming" ? "stream " : ""}${method.output.typeName})\n${indent(comment(method), "  ")}`,
        )
        .join("\n\n")}`;
    case "rpc":
      return methodHelp(desc);
    case "message":
      return `message ${desc.typeName}${comment(desc) ? `\n\n${comment(desc)}` : ""}\n\n${messageFields(desc, comment)}`;
  }
}
