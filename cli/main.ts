// tracker: the tracker API from the command line (bin/tracker.mjs runs this).
// Every command comes from the contract: `call` reaches any RPC in proto JSON,
// the resource verbs are derived in commands.ts, help in help.ts. Calls go
// through the project's own Node client (client/node.ts), so they carry the
// bearer and consistency tokens like every other client.
import "../src/node-version.js";
import { closeSync, openSync, readSync } from "node:fs";
import { parseArgs } from "node:util";
import type {
  DescMessage,
  DescMethod,
  DescMethodServerStreaming,
  DescMethodUnary,
  JsonObject,
  Message,
} from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { bearerToken, errorInfoOf, fieldViolationsOf, type TokenSource } from "../client/index.js";
import { createNodeTransport, type Protocol } from "../client/node.js";
import { type Command, commands, GLOBAL_OPTIONS, type Options } from "./commands.js";
import { findDescribable, findMethod, loadContract } from "./contract.js";
import { callList, commandHelp, describe, groupHelp, groups, methodHelp, topHelp } from "./help.js";
import { carriesMessage, fields, jsonOf, jsonText, line, rowsField, table, terminalSafe } from "./output.js";
import {
  type CliProtocol,
  configPath,
  DEFAULT_PROFILE,
  PROTOCOLS,
  type Profile,
  resolveTarget,
  runTokenCommand,
  saveProfile,
  type TargetFlags,
} from "./profile.js";
import { buildRequest, type FlagValues, isBooleanFlag, parseJson, UsageError } from "./request.js";

/** Exit codes: see README, "Command line". An RPC error exits with 10 + its code. */
export const EXIT = { ok: 0, failed: 1, usage: 2, rpcBase: 10 } as const;

const NODE_PROTOCOLS: Record<CliProtocol, Protocol> = {
  connect: "Connect JSON over HTTP/1.1",
  grpc: "gRPC over HTTP/2",
  "grpc-web": "gRPC-Web over HTTP/1.1",
};

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);

/** The first word of argv that is not a global flag (or a global flag's value), and argv without it. */
function takeWord(argv: string[]): [string | undefined, string[]] {
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index] as string;
    if (token === "--") return [undefined, argv];
    if (!token.startsWith("-")) return [token, [...argv.slice(0, index), ...argv.slice(index + 1)]];
    const name = token.replace(/^--?/, "").split("=")[0] ?? "";
    const option = GLOBAL_OPTIONS[name];
    if (!option && name !== "h") return [undefined, argv];
    if (option?.type === "string" && !token.includes("=")) index++;
  }
  return [undefined, argv];
}

function parse(args: string[], options: Options) {
  try {
    return parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The most of an answer the CLI reads: the server's own message limit
 * (MAX_MESSAGE_BYTES, src/server/create-server.ts), which it never writes
 * past, so that a server that does cannot grow the CLI without bound.
 */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

const transportOf = (protocol: CliProtocol, server: string, token: TokenSource) =>
  createNodeTransport(NODE_PROTOCOLS[protocol], server, [bearerToken(token)], {
    readMaxBytes: MAX_RESPONSE_BYTES,
  });

function transportFor(values: FlagValues): Transport {
  const target = resolveTarget({ ...(values as TargetFlags), token: givenToken(values) });
  return transportOf(target.protocol, target.server, target.token);
}

async function unary(transport: Transport, method: DescMethod, request: Message): Promise<Message> {
  if (method.methodKind !== "unary") throw new Error(`${method.name} is not unary`);
  return (await transport.unary(method as DescMethodUnary, undefined, undefined, undefined, request)).message;
}

/** The most rows `--all` joins into one answer (all of them are held to print one table). */
const MAX_ALL_ROWS = 100_000;

/** Every page of a List RPC, its rows joined into one response (as proto JSON). */
async function allPages(transport: Transport, method: DescMethod, request: Message): Promise<JsonObject> {
  const rows = rowsField(method.output);
  const next = method.output.fields.find((field) => field.name === "next_page_token");
  const token = method.input.fields.find((field) => field.name === "page_token");
  if (!rows || !next || !token) throw new UsageError(`${method.name} has no pages`);
  const collected: JsonObject[] = [];
  // Each answer is capped (MAX_RESPONSE_BYTES), their number is not: a server
  // that always has a next page would grow the CLI without end.
  const seen = new Set<string>();
  for (;;) {
    const page = jsonOf(method.output, await unary(transport, method, request));
    collected.push(...((page[rows.jsonName] as JsonObject[] | undefined) ?? []));
    const pageToken = page[next.jsonName];
    if (typeof pageToken !== "string" || pageToken === "") break;
    if (seen.has(pageToken)) throw new Error("--all stopped: the server sent the same next_page_token twice");
    if (collected.length >= MAX_ALL_ROWS)
      throw new Error(
        `--all stopped at ${collected.length} rows (it collects at most ${MAX_ALL_ROWS}): narrow the filter, or walk the pages with --page-token`,
      );
    seen.add(pageToken);
    reflect(method.input, request).set(token, pageToken);
  }
  return { [rows.jsonName]: collected };
}

function printResponse(schema: DescMessage, json: JsonObject, asJson: boolean) {
  if (asJson) return out(jsonText(json, 2));
  const rows = rowsField(schema);
  if (rows?.fieldKind === "list" && rows.listKind === "message") {
    out(table(rows.message, (json[rows.jsonName] as JsonObject[] | undefined) ?? []));
    const next = schema.fields.find((field) => field.name === "next_page_token");
    const token = next && json[next.jsonName];
    if (typeof token === "string" && token !== "")
      err(`more: --page-token ${terminalSafe(token)} (or --all for every page)`);
    return;
  }
  if (Object.keys(json).length > 0) out(fields(schema, json));
}

/**
 * A server stream until it ends or Ctrl-C. A resumable one (a response
 * `position`, a request `after`, as WatchIssues) says where it stopped.
 */
async function stream(
  transport: Transport,
  method: DescMethod,
  request: Message,
  asJson: boolean,
): Promise<number> {
  if (method.methodKind !== "server_streaming") throw new Error(`${method.name} is not server streaming`);
  const position = method.output.fields.find((field) => field.name === "position");
  const resumable = position !== undefined && method.input.fields.some((field) => field.name === "after");
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once("SIGINT", onInterrupt);
  process.once("SIGTERM", onInterrupt);
  let last: string | undefined;
  try {
    const response = await transport.stream(
      method as DescMethodServerStreaming,
      stop.signal,
      undefined,
      undefined,
      once(request),
    );
    for await (const message of response.message) {
      const json = jsonOf(method.output, message);
      const at = position && json[position.jsonName];
      if (asJson) out(jsonText(json));
      else if (carriesMessage(method.output, json)) out(line(method.output, json));
      else if (resumable && last === undefined) err(`watching from position ${at ?? 0} (Ctrl-C to stop)`);
      if (resumable) last = String(at ?? 0);
    }
  } catch (error) {
    if (!stop.signal.aborted) throw error;
  } finally {
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onInterrupt);
  }
  if (resumable && last !== undefined) err(`stopped at position ${last}; resume with --after ${last}`);
  return EXIT.ok;
}

async function* once(request: Message) {
  yield request;
}

async function runCommand(command: Command, args: string[]): Promise<number> {
  const options: Options = {};
  for (const flag of command.flags) {
    const leaf = flag.path[flag.path.length - 1];
    if (!leaf) continue;
    for (const name of [flag.name, ...flag.aliases])
      options[name] = {
        type: isBooleanFlag(leaf) ? "boolean" : "string",
        multiple: leaf.fieldKind === "list",
      };
  }
  const paged = command.method.output.fields.some((field) => field.name === "next_page_token");
  if (paged) options.all = { type: "boolean" };
  const { values, positionals } = parse(args, options);
  if (values.help) {
    out(await commandHelp(command));
    return EXIT.ok;
  }
  const request = buildRequest(command, values as FlagValues, positionals);
  const transport = transportFor(values as FlagValues);
  const { method } = command;
  if (method.methodKind === "server_streaming")
    return stream(transport, method, request, values.json === true);
  const json =
    paged && values.all
      ? await allPages(transport, method, request)
      : jsonOf(method.output, await unary(transport, method, request));
  printResponse(method.output, json, values.json === true);
  return EXIT.ok;
}

/** The most --data may hold: the server's message limit is smaller still. */
const MAX_DATA_BYTES = 16 * 1024 * 1024;

/** A file, or stdin for "-", read to a bound, so @/dev/zero is refused instead of filling memory. */
function readBounded(path: string, maxBytes: number, flag: string): string {
  const fd = path === "-" ? 0 : openSync(path, "r");
  try {
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length <= maxBytes; length += read) {
      read = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > maxBytes) throw new UsageError(`${flag} holds more than ${maxBytes} bytes`);
    return buffer.subarray(0, length).toString("utf8");
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

function readData(data: string | undefined): string {
  if (data === undefined) return "{}";
  if (data !== "-" && !data.startsWith("@")) return data;
  return readBounded(data === "-" ? data : data.slice(1), MAX_DATA_BYTES, "--data");
}

const MAX_TOKEN_BYTES = 64 * 1024;

/**
 * The token given for this call: --token, or read from --token-file or, for
 * `--token -`, stdin, which unlike the command line other users cannot see in `ps`.
 */
function givenToken(values: FlagValues): string | undefined {
  const token = values.token as string | undefined;
  const file = values["token-file"] as string | undefined;
  if (file === undefined && token !== "-") return token;
  if (file !== undefined && token !== undefined) throw new UsageError("give one of --token and --token-file");
  if (token === "-" && values.data === "-") throw new UsageError("--token - and --data - both read stdin");
  const read = readBounded(file ?? "-", MAX_TOKEN_BYTES, file ? "--token-file" : "--token -").trim();
  if (read === "") throw new UsageError(`${file ? `--token-file ${file}` : "stdin"} holds no token`);
  return read;
}

async function call(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: "string", short: "d" } });
  const [reference, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (!reference) {
    out(await callList());
    return EXIT.ok;
  }
  const method = findMethod(reference);
  if (!method) throw new UsageError(`no RPC ${reference}; \`tracker call\` lists them`);
  if (values.help) {
    out(await methodHelp(method));
    return EXIT.ok;
  }
  // First: it refuses --token - with --data -, before --data - reads stdin.
  const transport = transportFor(values as FlagValues);
  const text = readData(values.data as string | undefined);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    // Not the parser's message: it quotes the input, which may be a file never meant to be shown.
    throw new UsageError(`--data is not JSON${error instanceof SyntaxError ? "" : `: ${String(error)}`}`);
  }
  const request = parseJson(method.input, data as JsonObject);
  if (method.methodKind === "server_streaming") return stream(transport, method, request, true);
  out(jsonText(jsonOf(method.output, await unary(transport, method, request)), 2));
  return EXIT.ok;
}

async function login(args: string[]): Promise<number> {
  const { values } = parse(args, { "token-command": { type: "string" } });
  if (values.help) {
    out(`Usage: tracker login --server URL [--token-command CMD | --token-file PATH | --token -] [--profile NAME] [--protocol P]

Saves a profile in ${configPath()} (mode 0600), after checking it with
UserService/GetCurrentUser. --token-command runs for a fresh token on every
call (e.g. 'npm run -s token -- --sub alice'); --token-file PATH, --token -
(stdin) and --token TOKEN keep the token itself, which is then sent only to
this server. --token TOKEN on the command line is visible to other local
users (ps); prefer the other forms.`);
    return EXIT.ok;
  }
  const server = values.server as string | undefined;
  if (!server) throw new UsageError("login needs --server URL");
  const tokenCommand = values["token-command"] as string | undefined;
  const given = values.token !== undefined || values["token-file"] !== undefined;
  if (given === (tokenCommand !== undefined))
    throw new UsageError("login needs one of --token-command CMD, --token-file PATH or --token -");
  const token = givenToken(values as FlagValues);
  const protocol = values.protocol as string | undefined;
  if (protocol !== undefined && !(PROTOCOLS as readonly string[]).includes(protocol))
    throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(", ")}`);
  const profile: Profile = {
    server,
    ...(token !== undefined && { token }),
    ...(tokenCommand !== undefined && { tokenCommand }),
    ...(protocol !== undefined && { protocol: protocol as CliProtocol }),
  };
  const bearer = token ?? runTokenCommand(tokenCommand as string);
  const transport = transportOf(profile.protocol ?? "connect", server, bearer);
  const whoAmI = findMethod("tracker.v1.UserService/GetCurrentUser");
  if (whoAmI) {
    const user = jsonOf(whoAmI.output, await unary(transport, whoAmI, parseJson(whoAmI.input, {})));
    err(terminalSafe(`logged in to ${server} as ${user.name}${user.email ? ` (${user.email})` : ""}`));
  }
  const name = (values.profile as string | undefined) ?? DEFAULT_PROFILE;
  saveProfile(name, profile);
  err(terminalSafe(`profile "${name}" saved in ${configPath()}`));
  return EXIT.ok;
}

async function main(argv: string[]): Promise<number> {
  await loadContract();
  const [first, rest] = takeWord(argv);
  const wantsHelp = rest.includes("--help") || rest.includes("-h");
  switch (first) {
    case undefined:
      if (wantsHelp) out(await topHelp());
      else err(await topHelp());
      return wantsHelp ? EXIT.ok : EXIT.usage;
    case "help":
      out(await topHelp());
      return EXIT.ok;
    case "login":
      return login(rest);
    case "call":
      return call(rest);
    case "describe": {
      const { positionals, values } = parse(rest, {});
      if (values.help || positionals.length === 0) {
        out(
          "Usage: tracker describe <Service | Service/Method | Message>, e.g. tracker describe tracker.v1.Issue",
        );
        return values.help ? EXIT.ok : EXIT.usage;
      }
      const found = findDescribable(positionals[0] as string);
      if (!found) throw new UsageError(`nothing named ${positionals[0]} in the contract`);
      out(await describe(found));
      return EXIT.ok;
    }
    case "watch": {
      // `tracker watch CORE` is `tracker issues watch CORE`: the contract's one watch.
      const watch = commands().find((command) => command.verb === "watch");
      if (!watch) throw new UsageError("the contract has no Watch RPC");
      return runCommand(watch, rest);
    }
  }
  const list = [...groups()].find(([, candidates]) =>
    candidates.some((command) => command.group.singular === first || command.group.plural === first),
  );
  if (!list) throw new UsageError(`unknown command "${first}"`);
  const [name, candidates] = list;
  const [verb, args] = takeWord(rest);
  if (verb === undefined) {
    out(await groupHelp(name, candidates));
    return wantsHelp ? EXIT.ok : EXIT.usage;
  }
  const command = candidates.find((candidate) => candidate.verb === verb);
  if (!command)
    throw new UsageError(
      `${first} has no verb "${verb}"; it has ${candidates.map((candidate) => candidate.verb).join(", ")}`,
    );
  return runCommand(command, args);
}

/**
 * An error connect-es made of the server's answer rather than one the server
 * sent (`isWireError` is the one mark of the difference): an answer it could
 * not decode is INVALID_ARGUMENT there, as if the request were wrong, and one
 * past MAX_RESPONSE_BYTES names only its readMaxBytes.
 */
function fromAnswer(error: ConnectError): ConnectError {
  if (error.isWireError) return error;
  if (error.code === Code.InvalidArgument || error.code === Code.Internal)
    return new ConnectError(`the server's answer could not be decoded: ${error.rawMessage}`, Code.Internal);
  if (error.code === Code.ResourceExhausted)
    return new ConnectError(
      `the server's answer is larger than the ${MAX_RESPONSE_BYTES} bytes the CLI reads`,
      Code.ResourceExhausted,
    );
  return error;
}

/** Every line of an error, its server-supplied text made terminal-safe. */
function report(thrown: unknown): number {
  const say = (text: string) => err(terminalSafe(text));
  if (thrown instanceof UsageError) {
    say(`error: ${thrown.message}`);
    say("(tracker --help, or --help after any command, says how)");
    return EXIT.usage;
  }
  if (thrown instanceof ConnectError) {
    const error = fromAnswer(thrown);
    say(`error: ${codeToString(error.code)}: ${error.rawMessage}`);
    for (const violation of fieldViolationsOf(error)) say(`  ${violation.field}: ${violation.description}`);
    const reason = errorInfoOf(error)?.reason;
    if (reason && reason !== codeToString(error.code).toUpperCase()) say(`  reason: ${reason}`);
    return EXIT.rpcBase + error.code;
  }
  say(`error: ${thrown instanceof Error ? thrown.message : String(thrown)}`);
  return EXIT.failed;
}

const code = await main(process.argv.slice(2)).catch(report);
// Exit now: an idle HTTP/2 session would keep the process alive.
process.stdout.write("", () => process.exit(code));
