import http2 from "node:http2";
import net from "node:net";
import { gzipSync } from "node:zlib";
import {
  create,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  ScalarType,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { AuditService } from "../gen/proto/tracker/v1/audit_pb.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { GetProjectRequestSchema, ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { IssueRelation_Type, IssueRelationService } from "../gen/proto/tracker/v1/relation_pb.js";
import { WebhookService } from "../gen/proto/tracker/v1/webhook_pb.js";
import { API_FILES } from "../src/server/create-server.js";
import { addMember, uniqueProjectKey, userNamed } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, type Protocol, tokenFor, transportFor } from "./support/transports.js";

// Hostile input: generated (valid and invalid) messages to every RPC of the
// API over every protocol, and raw protocol abuse at the byte level. The
// server may refuse anything, but never with INTERNAL or UNKNOWN (those are
// bugs), never by changing state on a failed request, and never by ceasing
// to serve. HOSTILE_RUNS sets the number of generated cases (default 150,
// bounded for `npm test`; `npm run test:hostile` runs 2000).

const RUNS = Math.max(4, Number(process.env.HOSTILE_RUNS ?? 150));
const ANY_RPC_RUNS = Math.ceil((RUNS * 2) / 3);
const FAILED_MUTATION_RUNS = RUNS - ANY_RPC_RUNS;
const PER_RUN_MS = 250;
const timeoutFor = (runs: number) => 60_000 + runs * PER_RUN_MS;

const ADMIN = "hostile-admin";
const AUDITOR = "auditor";

let server: TestServer;
let token: string;
let project: string;
/** Real resource names of the project, so generated requests reach handlers. */
const known: string[] = [];

const METHODS: { service: DescService; method: DescMethod }[] = API_FILES.flatMap((file) =>
  file.services.flatMap((service) => service.methods.map((method) => ({ service, method }))),
);
const MUTATIONS = METHODS.filter(({ method }) =>
  /^(Create|Update|Delete|Undelete|Redeliver|Batch(?!Get))/.test(method.name),
);

const clientsCache = new Map<string, Client<DescService>>();
function clientOf(service: DescService, protocol: Protocol, user = ADMIN): Client<DescService> {
  const key = `${service.typeName}|${protocol}|${user}`;
  let client = clientsCache.get(key);
  if (!client) {
    client = createClient(service, transportFor(protocol, server.baseUrl, user));
    clientsCache.set(key, client);
  }
  return client;
}

beforeAll(async () => {
  server = await startTestServer();
  token = await tokenFor(ADMIN);
  const transport = transportFor("Connect binary over HTTP/2", server.baseUrl, ADMIN);
  const projects = createClient(ProjectService, transport);
  const issues = createClient(IssueService, transport);
  const labels = createClient(LabelService, transport);
  const comments = createClient(CommentService, transport);
  project = (
    await projects.createProject({ projectId: uniqueProjectKey("H"), project: { displayName: "hostile" } })
  ).name;
  const webhooks = createClient(WebhookService, transport);
  // Before the issues, so it has deliveries; a name that never resolves (RFC 6761).
  const webhook = (
    await webhooks.createWebhook({
      parent: project,
      webhook: {
        url: "https://hooks.invalid/hostile",
        secret: "hostile-secret-0123456789",
        eventTypes: [1, 2, 5],
      },
    })
  ).name;
  const issue = (await issues.createIssue({ parent: project, issue: { title: "target" } })).name;
  const deleted = (await issues.createIssue({ parent: project, issue: { title: "deleted" } })).name;
  await issues.deleteIssue({ name: deleted });
  const label = (await labels.createLabel({ parent: project, labelId: "bug", label: { displayName: "Bug" } }))
    .name;
  const comment = (await comments.createComment({ parent: issue, comment: { body: "hello" } })).name;
  const { deliveries } = await webhooks.listWebhookDeliveries({ parent: webhook });
  const other = (await issues.createIssue({ parent: project, issue: { title: "other", parent: issue } }))
    .name;
  const relation = (
    await createClient(IssueRelationService, transport).createIssueRelation({
      parent: issue,
      issueRelation: { type: IssueRelation_Type.BLOCKS, relatedIssue: other },
    })
  ).name;
  await addMember(server, project, "hostile-writer", "writer", ADMIN);
  const writer = await userNamed(server, "hostile-writer");
  const admin = await userNamed(server, ADMIN);
  const stranger = await userNamed(server, "hostile-stranger");
  await userNamed(server, AUDITOR);
  known.push(
    project,
    issue,
    deleted,
    `${project}/issues/999999`,
    label,
    `${project}/labels/nope`,
    comment,
    other,
    relation,
    `${relation.slice(0, -4)}0000`,
    `${project}/members/${writer.split("/")[1]}`,
    `${project}/members/${admin.split("/")[1]}`,
    writer,
    admin,
    stranger,
    "projects/NOPE",
    webhook,
    `${project}/webhooks/00000000-0000-4000-8000-000000000000`,
    ...deliveries.map((delivery) => delivery.name),
  );
}, 120_000);
afterAll(() => server?.close());

// ---------------------------------------------------------------------------
// Generators driven by the descriptors

const FIELD_NAMES = [
  ...new Set(
    API_FILES.flatMap((file) =>
      file.messages.flatMap((message) => message.fields.map((field) => field.name)),
    ),
  ),
];

/** A valid name made slightly wrong: the near-misses of the name patterns. */
const nearMiss = fc
  .tuple(fc.integer({ min: 0, max: 11 }), fc.nat(), fc.string({ maxLength: 3 }))
  .map(([variant, n, junk]) => {
    const base = known[n % known.length] ?? "projects/X";
    switch (variant) {
      case 0:
        return base.toLowerCase();
      case 1:
        return `${base}/`;
      case 2:
        return ` ${base}`;
      case 3:
        return base.replace(/^projects\/[A-Z0-9]+/, "projects/ABCDEFGHIJK");
      case 4:
        return base.replace(/issues\/\d+/, "issues/0");
      case 5:
        return base.replace(/issues\/\d+/, "issues/999999999999999999");
      case 6:
        return base.replace(/issues\/\d+/, "issues/9223372036854775808");
      case 7:
        return `${base}${junk}`;
      case 8:
        return base.replace(/[0-9a-f]{8}-/, "ffffffff-");
      case 9:
        return base.replace("/", "\u2215"); // division slash, looks like "/"
      case 10:
        return `${base}\u0000`;
      default:
        return base.replace(/labels\/[a-z0-9-]+/, `labels/a${"b".repeat(63)}`);
    }
  });

const pageToken = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value)).toString("base64url")),
  fc
    .record({ q: fc.string({ maxLength: 20 }), c: fc.jsonValue({ maxDepth: 2 }) })
    .map((body) => Buffer.from(JSON.stringify(body)).toString("base64url")),
  fc.constant(Buffer.from('{"q":"x","c":["2020-01-01T00:00:00Z","not-a-uuid"]}').toString("base64")),
  fc.constant("A".repeat(1025)),
);

const controlChars = fc.string({
  unit: fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code)),
  maxLength: 20,
});

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.nat().map((n) => known[n % known.length] ?? "") },
  { weight: 3, arbitrary: nearMiss },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: controlChars },
  { weight: 1, arbitrary: pageToken },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom("x", "é", "😀", "\u202e", "%00", "'; DROP TABLE issues; --"),
        fc.integer({ min: 200, max: 70_000 }),
      )
      .map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length))),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "*",
      "%",
      "_",
      "\\",
      "null",
      "undefined",
      "NaN",
      "-1",
      "users/me",
      "users/@me",
      // Handles that look like others: Cyrillic а, the Kelvin sign, fullwidth, a zero-width joiner.
      "\u0430da",
      "\u212Aate",
      "\uff41\uff44\uff41",
      "a\u200dda",
      "ada@example.com",
      "ADA@EXAMPLE.COM",
      // Text that shows as other text: a right-to-left override, an isolate, names that pass for a handle.
      "CORE-1 \u202Egnp.exe",
      "\u2067x\u2069",
      "\u200F(1)\u200E",
      "@ada",
      "\u200B@ada",
    ),
  },
);

const fieldMask = fc.record({
  paths: fc.array(
    fc.oneof(
      fc.constantFrom(...FIELD_NAMES),
      fc.constantFrom(
        "*",
        "",
        "name",
        "uid",
        "etag",
        "create_time",
        "update_time",
        "delete_time",
        "number",
        "key",
      ),
      fc.tuple(fc.constantFrom(...FIELD_NAMES), fc.constantFrom(...FIELD_NAMES)).map(([a, b]) => `${a}.${b}`),
      fc.string({ maxLength: 12 }),
    ),
    { maxLength: 6 },
  ),
});

const INT32 = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(0, 1, -1, 1000, 1001, 2 ** 31 - 1, -(2 ** 31)),
  fc.integer({ min: -5, max: 2000 }),
);
const INT64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n),
  fc.bigInt({ min: -5n, max: 100n }),
);

/**
 * Plausible text: real names of the project and the kind of values the
 * patterns accept, so that "tame" requests get past validation to handlers.
 */
const plausibleString = fc.oneof(
  { weight: 3, arbitrary: fc.nat().map((n) => known[n % known.length] ?? "") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      "bug",
      "feature-x",
      "Hello world",
      "#ff8800",
      "number desc",
      "priority asc",
      "create_time",
      "NEWKEY",
      "ZZ9",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

const names = (pattern: RegExp) =>
  fc.nat().map((n) => {
    const matching = known.filter((name) => pattern.test(name));
    return matching[n % matching.length] ?? "";
  });
const text = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 ]{0,19}$/);

/** Tame values by field name: what the contract accepts, so calls reach handlers. */
const TAME_STRINGS: Record<string, fc.Arbitrary<string>> = {
  name: plausibleString,
  parent: fc.oneof(names(/^projects\/[^/]+$/), names(/\/issues\/\d+$/)),
  project_id: fc.stringMatching(/^[A-Z][A-Z0-9]{1,9}$/),
  label_id: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
  request_id: fc.oneof(fc.constant(""), fc.uuid()),
  display_name: text,
  description: text,
  title: text,
  body: text,
  query: fc.oneof(fc.constant(""), text),
  color: fc.oneof(fc.constant(""), fc.stringMatching(/^#[0-9a-f]{6}$/)),
  order_by: fc.constantFrom("", "number", "create_time desc", "priority asc", "update_time"),
  user: names(/^users\//),
  assignee: fc.oneof(fc.constant(""), names(/^users\//)),
  assignees: names(/^users\//),
  reporter: fc.oneof(fc.constant(""), names(/^users\//)),
  actor: fc.oneof(fc.constant(""), names(/^users\//)),
  labels: names(/\/labels\//),
  names: names(/\/issues\//),
  related_issue: names(/\/issues\/\d+$/),
  duplicate_of: fc.oneof(fc.constant(""), names(/\/issues\/\d+$/)),
  etag: fc.constantFrom("", "", "1", "2", "0", "999"),
  // Hosts that never resolve, or that are refused: nothing generated leaves the machine.
  url: fc.constantFrom(
    "https://hooks.invalid/x",
    "http://127.0.0.1/x",
    "http://[::1]/",
    "https://a.invalid:8443/?q=1",
  ),
  secret: fc.constantFrom("", "s3cret-s3cret-s3cret-s3cret", "short"),
  page_token: fc.constant(""),
  handle: fc.oneof(fc.constant(""), fc.stringMatching(/^[a-z0-9]{1,12}(-[a-z0-9]{1,8})?$/)),
  user_handle: fc.stringMatching(/^[A-Za-z0-9]{1,12}$/),
  user_email: fc.stringMatching(/^[a-z0-9]{1,12}@example\.com$/),
};

const KIND_PATTERNS: [RegExp, RegExp][] = [
  [/WebhookDelivery/, /\/deliveries\//],
  [/Webhook/, /\/webhooks\/[^/]+$/],
  [/Comment/, /\/comments\//],
  [/Relation/, /\/relations\//],
  [/Member/, /\/members\//],
  [/Label/, /\/labels\//],
  [/Issue/, /\/issues\/\d+$/],
  [/User/, /^users\//],
  [/Project/, /^projects\/[^/]+$/],
];

/** The name of the right kind for the message a `name` or `parent` belongs to. */
function tameString(field: DescField): fc.Arbitrary<string> {
  const owner = field.parent.name;
  if (field.name === "name") {
    const kind = KIND_PATTERNS.find(([message]) => message.test(owner.replace(/^(List|Batch)\w+/, "")));
    return kind
      ? fc.oneof({ weight: 5, arbitrary: names(kind[1]) }, { weight: 1, arbitrary: plausibleString })
      : plausibleString;
  }
  if (field.name === "parent") {
    // An issue's parent (Issue, IssueFilter) is an issue too; a delivery's, a webhook.
    const issueChild = /Comment|IssueEvent|Relation|^Issue$|^IssueFilter$/.test(owner);
    const webhookChild = /WebhookDeliveries/.test(owner);
    const pattern = webhookChild ? /\/webhooks\/[^/]+$/ : issueChild ? /\/issues\/\d+$/ : /^projects\/[^/]+$/;
    return fc.oneof({ weight: 5, arbitrary: names(pattern) }, { weight: 1, arbitrary: plausibleString });
  }
  return TAME_STRINGS[field.name] ?? plausibleString;
}

type Mode = "hostile" | "tame";

/** Tame mode: mostly plausible values, now and then a hostile one. */
const pick = <T>(mode: Mode, tame: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>) =>
  mode === "hostile" ? hostile : fc.oneof({ weight: 15, arbitrary: tame }, { weight: 1, arbitrary: hostile });

function scalarArb(field: DescField & { fieldKind: "scalar" | "list" }, mode: Mode): fc.Arbitrary<unknown> {
  const scalar = field.scalar;
  switch (scalar) {
    case ScalarType.STRING: {
      const hostile = field.name.endsWith("page_token") ? fc.oneof(pageToken, hostileString) : hostileString;
      return pick(mode, tameString(field), hostile);
    }
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return pick(mode, fc.integer({ min: 0, max: 50 }), INT32);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick(mode, fc.bigInt({ min: 0n, max: 50n }), INT64);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double();
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    default:
      return fc.constant(undefined);
  }
}

const ENUM_NUMBER = fc.oneof(
  fc.integer({ min: -3, max: 12 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);
const enumArb = (mode: Mode) => pick(mode, fc.integer({ min: 0, max: 4 }), ENUM_NUMBER);

function elementArb(field: DescField, depth: number, mode: Mode): fc.Arbitrary<unknown> {
  if (field.fieldKind === "list") {
    if (field.listKind === "scalar") return scalarArb(field, mode);
    if (field.listKind === "enum") return enumArb(mode);
    return messageArb(field.message, depth + 1, mode);
  }
  if (field.fieldKind === "scalar") return scalarArb(field, mode);
  if (field.fieldKind === "enum") return enumArb(mode);
  if (field.fieldKind === "message") return messageArb(field.message, depth + 1, mode);
  return fc.constant(undefined);
}

function fieldArb(field: DescField, depth: number, mode: Mode, siblings: DescField[]): fc.Arbitrary<unknown> {
  if (field.fieldKind === "message" && field.message.typeName === "google.protobuf.FieldMask") {
    // Paths of the resource beside the mask (e.g. UpdateIssueRequest.issue),
    // output-only ones included.
    const resource = siblings.find((f) => f.fieldKind === "message" && f !== field);
    const own = resource?.fieldKind === "message" ? resource.message.fields.map((f) => f.name) : [];
    const tame = fc.record({ paths: fc.uniqueArray(fc.constantFrom(...own, "name"), { maxLength: 3 }) });
    return pick(mode, own.length ? tame : fieldMask, fieldMask);
  }
  if (field.fieldKind === "list") {
    const element = elementArb(field, depth, mode);
    const long = field.listKind === "message" ? 3 : 1200;
    return fc.oneof(
      {
        weight: mode === "tame" ? 20 : 6,
        arbitrary: fc.array(element, { maxLength: mode === "tame" ? 2 : 4 }),
      },
      { weight: 1, arbitrary: fc.array(element, { minLength: 90, maxLength: long }) },
    );
  }
  if (field.fieldKind === "map") return fc.constant(undefined);
  return elementArb(field, depth, mode);
}

const messageArbs = new Map<string, fc.Arbitrary<Record<string, unknown>>>();
function messageArb(desc: DescMessage, depth: number, mode: Mode): fc.Arbitrary<Record<string, unknown>> {
  if (desc.typeName === "google.protobuf.FieldMask") return fieldMask;
  if (desc.typeName === "google.protobuf.Timestamp") {
    return fc.record({
      seconds: pick(
        mode,
        fc.bigInt({ min: 0n, max: 4102444800n }),
        fc.oneof(fc.bigInt({ min: -62135596800n, max: 253402300799n }), INT64),
      ),
      nanos: pick(mode, fc.integer({ min: 0, max: 999_999_999 }), INT32),
    });
  }
  if (depth > 3) return fc.constant({});
  const key = `${desc.typeName}@${depth}/${mode}`;
  let arb = messageArbs.get(key);
  if (!arb) {
    const entries = Object.fromEntries(
      desc.fields.map((field) => [field.localName, fieldArb(field, depth, mode, desc.fields)]),
    );
    arb = fc.record(entries, { requiredKeys: [] }) as fc.Arbitrary<Record<string, unknown>>;
    messageArbs.set(key, arb);
  }
  return arb;
}

/** What one generated call sends: the RPC, the protocol, the request. */
const anyCall = (methods: typeof METHODS) =>
  fc
    .record({
      target: fc.constantFrom(...methods),
      protocol: fc.constantFrom(...PROTOCOLS),
      mode: fc.constantFrom<Mode>("hostile", "tame", "tame"),
    })
    .chain(({ target, protocol, mode }) =>
      messageArb(target.method.input, 0, mode).map((init) => {
        const call: Call = { ...target, protocol, init };
        // Counterexamples print short: generated strings may be 200 KB long.
        return Object.assign(call, {
          [fc.toStringMethod]: () => describeCall(call, create(call.method.input, init as never), 600),
        });
      }),
    );

type Call = { service: DescService; method: DescMethod; protocol: Protocol; init: Record<string, unknown> };

function describeCall(call: Call, request: unknown, max = 2000): string {
  let body: string;
  try {
    body = toJsonString(call.method.input, request as never);
  } catch {
    body = Buffer.from(toBinary(call.method.input, request as never)).toString("base64");
  }
  return `${call.service.typeName}/${call.method.name} over ${call.protocol}: ${body.length > max ? `${body.slice(0, max)}… (${body.length} chars)` : body}`;
}

/** Sends a call; "OK" or the error's code and message. */
async function send(call: Call): Promise<{ outcome: "OK" | Code; message: string; request: unknown }> {
  const request = create(call.method.input, call.init as never);
  let protocol = call.protocol;
  if (protocol === "Connect JSON over HTTP/1.1") {
    // Some generated values (timestamps out of range, field-mask paths that
    // have no JSON form) cannot be written as JSON at all: send them binary.
    try {
      toJsonString(call.method.input, request);
    } catch {
      protocol = "Connect binary over HTTP/2";
    }
  }
  const client = clientOf(call.service, protocol) as unknown as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  const fn = client[call.method.localName] as (req: unknown, options: unknown) => unknown;
  try {
    if (call.method.methodKind === "server_streaming") {
      // WatchIssues is open-ended: a short deadline ends it.
      const stream = fn(request, { timeoutMs: 300 }) as AsyncIterable<unknown>;
      let count = 0;
      for await (const _ of stream) if (++count >= 3) break;
    } else {
      await fn(request, { timeoutMs: 10_000 });
    }
    return { outcome: "OK", message: "", request };
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { outcome: connectError.code, message: connectError.rawMessage, request };
  }
}

/** The server still answers a plain call; a project deleted by a generated call is restored. */
async function assertServing(): Promise<void> {
  const projects = createClient(
    ProjectService,
    transportFor("Connect binary over HTTP/2", server.baseUrl, ADMIN),
  );
  const current = await projects.getProject({ name: project }).catch((error: unknown) => {
    if (ConnectError.from(error).code !== Code.NotFound) throw error;
    return undefined;
  });
  if (!current || current.deleteTime) {
    // A generated DeleteProject hit the project: restore it for the next cases.
    await projects.undeleteProject({ name: project });
    await projects.getProject({ name: project });
  }
}

const seen = new Map<string, number>();
function tally(outcome: "OK" | Code) {
  const name = outcome === "OK" ? "OK" : Code[outcome];
  seen.set(name, (seen.get(name) ?? 0) + 1);
}

// ---------------------------------------------------------------------------

/**
 * The known finding of the tests "errors that outgrow gRPC trailers" (below):
 * the client sees the HTTP/2 stream reset as INTERNAL. Those tests fail
 * until it is fixed; the properties note it instead of failing at random.
 */
const isOversizedTrailer = (protocol: Protocol, message: string) =>
  protocol === "gRPC over HTTP/2" && /NGHTTP2_FRAME_SIZE_ERROR/.test(message);
const oversizedTrailers: string[] = [];

describe("generated requests to every RPC", () => {
  it("covers every RPC of the API", () => {
    expect(METHODS.length).toBeGreaterThan(20);
    expect(MUTATIONS.length).toBeGreaterThan(10);
  });

  // Requests here are encoded by the client, so their bodies always decode;
  // the one accepted INTERNAL (connect-es answers an undecodable BINARY unary
  // body with `internal` "parse binary: ..." before any interceptor runs) is
  // exempted in "answers wrong content types" below, and nowhere else.
  it(
    "never answers INTERNAL or UNKNOWN, and keeps serving",
    async () => {
      await fc.assert(
        fc.asyncProperty(anyCall(METHODS), async (call) => {
          const { outcome, message, request } = await send(call);
          tally(outcome);
          const deadlineOfStream =
            call.method.methodKind === "server_streaming" && outcome === Code.DeadlineExceeded;
          if (outcome === Code.Internal && isOversizedTrailer(call.protocol, message)) {
            oversizedTrailers.push(describeCall(call, request, 200));
            return;
          }
          expect(
            !deadlineOfStream && (outcome === Code.Internal || outcome === Code.Unknown),
            `${Code[outcome as Code]} "${message}" for ${describeCall(call, request)}`,
          ).toBe(false);
          await assertServing();
        }),
        { numRuns: ANY_RPC_RUNS, endOnFailure: true },
      );
      console.info(
        `hostile-input: ${ANY_RPC_RUNS} generated calls, outcomes ${JSON.stringify(Object.fromEntries(seen))}; ` +
          `${oversizedTrailers.length} hit the known oversized-trailer finding`,
      );
    },
    timeoutFor(ANY_RPC_RUNS),
  );
});

describe("errors that outgrow gRPC trailers", () => {
  // Once a finding: assertFresh() (src/domain/shared/etag.ts) quoted the
  // caller's etag in the error message, unbounded. Over gRPC the message
  // travels in the grpc-message trailer, and a long etag made the trailer
  // block too large for HTTP/2 (NGHTTP2_FRAME_SIZE_ERROR): INTERNAL instead
  // of ABORTED. Connect and gRPC-Web carry the message in the body.
  it.each(PROTOCOLS)("answers a stale 64 KiB etag with ABORTED over %s", async (protocol) => {
    const labels = createClient(LabelService, transportFor(protocol, server.baseUrl, ADMIN));
    const labelId = `stale-${PROTOCOLS.indexOf(protocol)}-${Date.now().toString(36)}`;
    // A project of its own: the generated calls may have changed the shared one.
    const own = await createClient(
      ProjectService,
      transportFor(protocol, server.baseUrl, ADMIN),
    ).createProject({
      projectId: uniqueProjectKey("E"),
      project: { displayName: "etag" },
    });
    const { name } = await labels.createLabel({ parent: own.name, labelId, label: { displayName: "stale" } });
    const outcome = await labels
      .updateLabel({
        label: { name, description: "x", etag: "9".repeat(64 * 1024) },
        updateMask: { paths: ["description"] },
      })
      .then(
        () => "OK",
        (error: unknown) => {
          const e = ConnectError.from(error);
          return `${Code[e.code]}: ${e.rawMessage.slice(0, 120)}`;
        },
      );
    expect(outcome).toMatch(/^(Aborted|InvalidArgument|FailedPrecondition)/);
    await assertServing();
  });

  // FINDING: a request with hundreds of invalid list elements gets one
  // protovalidate violation per element; src/shared/errors.ts copies all of
  // them into a google.rpc.BadRequest detail, which over gRPC travels in the
  // grpc-status-details-bin trailer. Too large for HTTP/2: the caller gets
  // INTERNAL instead of INVALID_ARGUMENT.
  it.each(PROTOCOLS)(
    "answers 1000 invalid names in BatchGetIssues with INVALID_ARGUMENT over %s",
    async (protocol) => {
      const issues = createClient(IssueService, transportFor(protocol, server.baseUrl, ADMIN));
      const outcome = await issues
        .batchGetIssues({
          parent: project,
          names: Array.from({ length: 1000 }, (_, i) => `not-an-issue-${i}`),
        })
        .then(
          () => "OK",
          (error: unknown) => {
            const e = ConnectError.from(error);
            return `${Code[e.code]}: ${e.rawMessage.slice(0, 120)}`;
          },
        );
      expect(outcome).toMatch(/^InvalidArgument/);
      await assertServing();
    },
  );
});

// ---------------------------------------------------------------------------

async function allPages<T>(
  fetchPage: (pageToken: string) => Promise<{ items: T[]; next: string }>,
): Promise<T[]> {
  const items: T[] = [];
  let next = "";
  do {
    const page = await fetchPage(next);
    items.push(...page.items);
    next = page.next;
  } while (next !== "");
  return items;
}

/** Everything a mutation of the project could change, and the audit log's length. */
async function snapshot() {
  const transport = transportFor("Connect binary over HTTP/2", server.baseUrl, ADMIN);
  const projects = createClient(ProjectService, transport);
  const issues = createClient(IssueService, transport);
  const labels = createClient(LabelService, transport);
  const members = createClient(MemberService, transport);
  const comments = createClient(CommentService, transport);
  const audit = createClient(
    AuditService,
    transportFor("Connect binary over HTTP/2", server.baseUrl, AUDITOR),
  );
  const projectState = await projects.getProject({ name: project }).then(
    (p) => toJsonString(ProjectService.method.getProject.output, p),
    (error: unknown) => `error ${ConnectError.from(error).code}`,
  );
  const issueList = await allPages(async (pageToken) => {
    const r = await issues.listIssues({ parent: project, showDeleted: true, pageSize: 1000, pageToken });
    return { items: r.issues, next: r.nextPageToken };
  }).catch((error: unknown) => `error ${ConnectError.from(error).code}`);
  const issueJson =
    typeof issueList === "string"
      ? issueList
      : issueList.map((i) => toJsonString(IssueService.method.getIssue.output, i));
  const commentJson =
    typeof issueList === "string"
      ? []
      : await Promise.all(
          issueList
            .slice(0, 5)
            .map(async (issue) =>
              (await comments.listComments({ parent: issue.name, pageSize: 1000 })).comments.map((c) =>
                toJsonString(CommentService.method.createComment.output, c),
              ),
            ),
        ).catch((error: unknown) => `error ${ConnectError.from(error).code}`);
  const labelJson = await allPages(async (pageToken) => {
    const r = await labels.listLabels({ parent: project, pageSize: 1000, pageToken });
    return {
      items: r.labels.map((l) => toJsonString(LabelService.method.getLabel.output, l)),
      next: r.nextPageToken,
    };
  }).catch((error: unknown) => `error ${ConnectError.from(error).code}`);
  const memberJson = await allPages(async (pageToken) => {
    const r = await members.listMembers({ parent: project, pageSize: 1000, pageToken });
    return {
      items: r.members.map((m) => toJsonString(MemberService.method.createMember.output, m)),
      next: r.nextPageToken,
    };
  }).catch((error: unknown) => `error ${ConnectError.from(error).code}`);
  const webhookJson = await createClient(WebhookService, transport)
    .listWebhooks({ parent: project, pageSize: 1000 })
    .then(
      (r) => r.webhooks.map((w) => toJsonString(WebhookService.method.getWebhook.output, w)),
      (error: unknown) => `error ${ConnectError.from(error).code}`,
    );
  const auditCount = (
    await allPages(async (pageToken) => {
      const r = await audit.listAuditEvents({ pageSize: 1000, pageToken });
      return { items: r.auditEvents.map((e) => e.name), next: r.nextPageToken };
    })
  ).length;
  return { projectState, issueJson, commentJson, labelJson, memberJson, webhookJson, auditCount };
}

describe("a failed request", () => {
  it(
    "changes nothing: project, issues, comments, labels, members, webhooks and the audit log stay as they were",
    async () => {
      let failed = 0;
      await fc.assert(
        fc.asyncProperty(anyCall(MUTATIONS), async (call) => {
          await assertServing();
          const before = await snapshot();
          const { outcome, message, request } = await send(call);
          tally(outcome);
          const knownFinding = outcome === Code.Internal && isOversizedTrailer(call.protocol, message);
          if (knownFinding) oversizedTrailers.push(describeCall(call, request, 200));
          expect(
            !knownFinding && (outcome === Code.Internal || outcome === Code.Unknown),
            `${Code[outcome as Code]} "${message}" for ${describeCall(call, request)}`,
          ).toBe(false);
          if (outcome === "OK") return;
          failed += 1;
          const after = await snapshot();
          expect(
            after,
            `state changed after ${Code[outcome]} "${message}" for ${describeCall(call, request)}`,
          ).toEqual(before);
        }),
        { numRuns: FAILED_MUTATION_RUNS, endOnFailure: true },
      );
      await assertServing();
      console.info(
        `hostile-input: ${FAILED_MUTATION_RUNS} generated mutations, ${failed} failed and changed nothing`,
      );
      expect(failed).toBeGreaterThan(0);
    },
    timeoutFor(FAILED_MUTATION_RUNS * 3),
  );
});

// ---------------------------------------------------------------------------
// Raw protocol abuse

const GET_PROJECT = "/tracker.v1.ProjectService/GetProject";
const WATCH = "/tracker.v1.IssueService/WatchIssues";
const getProjectBytes = () =>
  Buffer.from(toBinary(GetProjectRequestSchema, create(GetProjectRequestSchema, { name: project })));

function frame(payload: Buffer, flags = 0, promised = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(promised, 1);
  return Buffer.concat([head, payload]);
}

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request over HTTP/2 on a session of its own. */
function h2Request(path: string, headers: Record<string, string>, body: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(server.baseUrl);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, ...headers });
    const chunks: Buffer[] = [];
    let answer: Omit<RawAnswer, "body"> = { status: 0, headers: {}, trailers: {} };
    stream.on("response", (h) => {
      answer = { ...answer, status: Number(h[":status"]), headers: h };
    });
    stream.on("trailers", (t) => {
      answer = { ...answer, trailers: t };
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", (error) => {
      session.destroy();
      reject(error);
    });
    stream.on("close", () => {
      session.close();
      resolve({ ...answer, body: Buffer.concat(chunks) });
    });
    stream.end(body);
  });
}

async function h1Request(path: string, headers: Record<string, string>, body: Buffer): Promise<RawAnswer> {
  const response = await fetch(`${server.baseUrl}${path}`, { method: "POST", headers, body });
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    trailers: {},
    body: Buffer.from(await response.arrayBuffer()),
  };
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** The gRPC status of an answer: trailers-only, trailers, or gRPC-Web's trailer frame. */
function grpcStatus(answer: RawAnswer): { code: number; message: string } {
  let status = first(answer.trailers["grpc-status"]) ?? first(answer.headers["grpc-status"]);
  let message = first(answer.trailers["grpc-message"]) ?? first(answer.headers["grpc-message"]) ?? "";
  if (status === undefined) {
    // gRPC-Web: the last frame (flag 0x80) carries the trailers.
    let offset = 0;
    while (offset + 5 <= answer.body.length) {
      const flags = answer.body.readUInt8(offset);
      const length = answer.body.readUInt32BE(offset + 1);
      const payload = answer.body.subarray(offset + 5, offset + 5 + length).toString();
      if (flags & 0x80) {
        status = /grpc-status:\s*(\d+)/i.exec(payload)?.[1];
        message = /grpc-message:\s*(.*)/i.exec(payload)?.[1]?.trim() ?? "";
      }
      offset += 5 + length;
    }
  }
  expect(status, `no grpc-status in answer (HTTP ${answer.status})`).toBeDefined();
  return { code: Number(status), message: decodeURIComponent(message) };
}

/** The Connect error code of an answer: a unary error body, or a streaming end-of-stream frame. */
function connectCode(answer: RawAnswer, streaming: boolean): string {
  if (!streaming) {
    if (answer.status === 200) return "ok";
    return (JSON.parse(answer.body.toString()) as { code: string }).code;
  }
  let offset = 0;
  while (offset + 5 <= answer.body.length) {
    const flags = answer.body.readUInt8(offset);
    const length = answer.body.readUInt32BE(offset + 1);
    if (flags & 0x02) {
      const end = JSON.parse(answer.body.subarray(offset + 5, offset + 5 + length).toString()) as {
        error?: { code: string };
      };
      return end.error?.code ?? "ok";
    }
    offset += 5 + length;
  }
  if (answer.status !== 200) return (JSON.parse(answer.body.toString()) as { code: string }).code;
  return "no end-of-stream";
}

const grpcHeaders = () => ({
  "content-type": "application/grpc",
  te: "trailers",
  authorization: `Bearer ${token}`,
});
const grpcWebHeaders = () => ({
  "content-type": "application/grpc-web+proto",
  authorization: `Bearer ${token}`,
});
const connectStreamHeaders = () => ({
  "content-type": "application/connect+proto",
  "connect-protocol-version": "1",
  authorization: `Bearer ${token}`,
});

const BAD_GRPC = [Code.Internal, Code.Unknown];

describe("webhook URLs", () => {
  // Only absolute http(s) URLs with a host, no user name or password, no
  // fragment, at most 2048 characters; anything else is INVALID_ARGUMENT
  // naming webhook.url, and nothing is created.
  const userinfo = fc.oneof(
    fc.constant(""),
    fc.webSegment().map((user) => `${user}@`),
    fc.constant("u:p@"),
  );
  const scheme = fc.constantFrom(
    "http",
    "https",
    "HTTPS",
    "ftp",
    "file",
    "gopher",
    "javascript",
    "data",
    "ws",
    "",
  );
  const url = fc.oneof(
    fc
      .tuple(scheme, userinfo, fc.webUrl({ withQueryParameters: true, withFragments: true }))
      .map(([s, u, web]) => web.replace(/^https?:\/\//, `${s}${s ? "://" : ""}${u}`)),
    fc.integer({ min: 2000, max: 100_000 }).map((n) => `https://hooks.invalid/${"a".repeat(n)}`),
    fc.constantFrom(
      "http:///x",
      "https://",
      "//hooks.invalid/",
      "https://hooks.invalid\\@127.0.0.1/",
      "http://[::1",
    ),
  );
  const acceptable = (value: string) => {
    if (value.length > 2048 || !/^https?:\/\/[^/?#]+/i.test(value) || value.includes("#")) return false;
    return !/^[^/]*\/\/[^/?#]*@/.test(value);
  };

  it(
    "refuses every URL form the contract forbids, and never fails otherwise",
    async () => {
      const transport = transportFor("Connect binary over HTTP/2", server.baseUrl, ADMIN);
      const projects = createClient(ProjectService, transport);
      const webhooks = createClient(WebhookService, transport);
      // A project of its own with no issues, so nothing is ever delivered.
      const parent = (
        await projects.createProject({ projectId: uniqueProjectKey("U"), project: { displayName: "urls" } })
      ).name;
      await fc.assert(
        fc.asyncProperty(url, async (value) => {
          const outcome = await webhooks
            .createWebhook({ parent, webhook: { url: value, secret: "x".repeat(24), eventTypes: [1] } })
            .then(
              (created) => webhooks.deleteWebhook({ name: created.name }).then(() => "OK" as const),
              (error: unknown) => ConnectError.from(error),
            );
          if (outcome === "OK") {
            expect(acceptable(value), `created a webhook to ${value.slice(0, 200)}`).toBe(true);
            return;
          }
          expect(outcome.code, `${outcome.message} for ${value.slice(0, 200)}`).toBe(Code.InvalidArgument);
          expect(
            outcome.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field)),
          ).toContain("webhook.url");
        }),
        { numRuns: Math.max(50, RUNS), endOnFailure: true },
      );
      expect((await webhooks.listWebhooks({ parent })).webhooks).toEqual([]);
    },
    timeoutFor(RUNS),
  );
});

describe("raw protocol abuse", () => {
  const truncated = () => frame(Buffer.alloc(10, 0x0a), 0, 100);

  it("answers well-formed raw frames, plain and gzip (the helpers below work)", async () => {
    expect(grpcStatus(await h2Request(GET_PROJECT, grpcHeaders(), frame(getProjectBytes()))).code).toBe(0);
    expect(grpcStatus(await h1Request(GET_PROJECT, grpcWebHeaders(), frame(getProjectBytes()))).code).toBe(0);
    const gzipped = frame(gzipSync(getProjectBytes()), 1);
    expect(
      grpcStatus(await h2Request(GET_PROJECT, { ...grpcHeaders(), "grpc-encoding": "gzip" }, gzipped)).code,
    ).toBe(0);
    const unary = await h1Request(
      GET_PROJECT,
      { "content-type": "application/proto", "content-encoding": "gzip", authorization: `Bearer ${token}` },
      gzipSync(getProjectBytes()),
    );
    expect(unary.status).toBe(200);
  });

  it("refuses a truncated frame on gRPC, gRPC-Web and Connect streaming", async () => {
    const grpc = grpcStatus(await h2Request(GET_PROJECT, grpcHeaders(), truncated()));
    expect(BAD_GRPC, `gRPC: ${grpc.code} ${grpc.message}`).not.toContain(grpc.code);
    expect(grpc.code).not.toBe(0);
    const web = grpcStatus(await h1Request(GET_PROJECT, grpcWebHeaders(), truncated()));
    expect(BAD_GRPC, `gRPC-Web: ${web.code} ${web.message}`).not.toContain(web.code);
    expect(web.code).not.toBe(0);
    const connect = connectCode(await h1Request(WATCH, connectStreamHeaders(), truncated()), true);
    expect(["internal", "unknown", "ok"]).not.toContain(connect);
    await assertServing();
  });

  it("refuses a compressed frame whose content is not gzip", async () => {
    const garbage = frame(Buffer.from("this is not gzip at all, just text".repeat(3)), 1);
    const grpc = grpcStatus(
      await h2Request(GET_PROJECT, { ...grpcHeaders(), "grpc-encoding": "gzip" }, garbage),
    );
    expect(BAD_GRPC, `gRPC: ${grpc.code} ${grpc.message}`).not.toContain(grpc.code);
    expect(grpc.code).not.toBe(0);
    const web = grpcStatus(
      await h1Request(GET_PROJECT, { ...grpcWebHeaders(), "grpc-encoding": "gzip" }, garbage),
    );
    expect(BAD_GRPC, `gRPC-Web: ${web.code} ${web.message}`).not.toContain(web.code);
    const unary = await h1Request(
      GET_PROJECT,
      { "content-type": "application/json", "content-encoding": "gzip", authorization: `Bearer ${token}` },
      Buffer.from("not gzip"),
    );
    expect(["internal", "unknown", "ok"], unary.body.toString()).not.toContain(connectCode(unary, false));
    await assertServing();
  });

  it("refuses a decompression bomb on Connect unary, gRPC and gRPC-Web with bounded memory", async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const rssBefore = process.memoryUsage().rss;
    for (const contentType of ["application/proto", "application/json"]) {
      const unary = await h1Request(
        GET_PROJECT,
        { "content-type": contentType, "content-encoding": "gzip", authorization: `Bearer ${token}` },
        bomb,
      );
      const code = connectCode(unary, false);
      expect(["resource_exhausted", "invalid_argument"], `${contentType}: ${unary.body}`).toContain(code);
    }
    const grpc = grpcStatus(
      await h2Request(GET_PROJECT, { ...grpcHeaders(), "grpc-encoding": "gzip" }, frame(bomb, 1)),
    );
    expect([Code.ResourceExhausted, Code.InvalidArgument], `gRPC: ${grpc.code} ${grpc.message}`).toContain(
      grpc.code,
    );
    const web = grpcStatus(
      await h1Request(GET_PROJECT, { ...grpcWebHeaders(), "grpc-encoding": "gzip" }, frame(bomb, 1)),
    );
    expect([Code.ResourceExhausted, Code.InvalidArgument], `gRPC-Web: ${web.code} ${web.message}`).toContain(
      web.code,
    );
    const growth = process.memoryUsage().rss - rssBefore;
    expect(growth, `rss grew by ${Math.round(growth / 1024 / 1024)} MiB`).toBeLessThan(200 * 1024 * 1024);
    await assertServing();
  }, 60_000);

  it("answers 431 to (or closes on) a 64 KiB header, over HTTP/1.1 and HTTP/2", async () => {
    const huge = "h".repeat(64 * 1024);
    const socket = net.connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    socket.write(
      `POST ${GET_PROJECT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Junk: ${huge}\r\nContent-Length: 2\r\n\r\n{}`,
    );
    const received = await new Promise<string>((resolve) => {
      let text = "";
      const timer = setTimeout(() => resolve(`${text}(open after 5 s)`), 5_000);
      socket.on("data", (chunk) => {
        text += chunk.toString();
      });
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    socket.destroy();
    expect(received === "" || /^HTTP\/1\.1 431/.test(received), received.slice(0, 200)).toBe(true);

    const outcome = await h2Request(
      GET_PROJECT,
      { "content-type": "application/json", authorization: `Bearer ${token}`, "x-junk": huge },
      Buffer.from("{}"),
    ).then(
      (answer) => `HTTP ${answer.status}`,
      (error: Error) => `refused: ${error.message}`,
    );
    expect(outcome).toMatch(/^(HTTP 431|refused)/);
    await assertServing();
  });

  it("answers wrong content types with a client error, never a server error", async () => {
    const auth = { authorization: `Bearer ${token}` };
    const json = Buffer.from(JSON.stringify({ name: project }));
    const bodies: [Record<string, string>, Buffer][] = [
      [{ "content-type": "text/plain" }, json],
      [{ "content-type": "application/xml" }, Buffer.from("<name/>")],
      [{ "content-type": "multipart/form-data; boundary=x" }, json],
      [{ "content-type": "application/x-www-form-urlencoded" }, Buffer.from("name=x")],
      [{ "content-type": "application/json; charset=utf-16" }, json],
      [{ "content-type": "application/grpc+json" }, json],
      [{ "content-type": "application/grpc" }, json],
      [{ "content-type": "application/connect+thrift" }, json],
      [{ "content-type": "application/grpc-web-text" }, Buffer.from("!!!not base64!!!")],
      [{ "content-type": "" }, json],
      [{}, json],
      [{ "content-type": "application/json" }, Buffer.from("{not json")],
      [{ "content-type": "application/json" }, Buffer.from('{"name": 12, "unknownField": true}')],
      [{ "content-type": "application/json" }, Buffer.from("\u0000\u0001\u0002")],
    ];
    for (const [headers, body] of bodies) {
      const answer = await h1Request(GET_PROJECT, { ...auth, ...headers }, body);
      expect(answer.status, `${JSON.stringify(headers)} → ${answer.status} ${answer.body}`).toBeLessThan(500);
      const grpc = first(answer.headers["grpc-status"]);
      if (grpc !== undefined) expect(BAD_GRPC).not.toContain(Number(grpc));
      if (answer.status !== 200 && /json/.test(String(answer.headers["content-type"]))) {
        expect(["internal", "unknown"]).not.toContain(connectCode(answer, false));
      }
    }
    // Known upstream behaviour, not exempted anywhere else: connect-es answers
    // an undecodable BINARY unary body with `internal` ("parse binary: ...")
    // before any interceptor runs. This is the only INTERNAL accepted here.
    const binary = await h1Request(
      GET_PROJECT,
      { ...auth, "content-type": "application/proto" },
      Buffer.from([0xff, 0xff, 0xff, 0xff]),
    );
    const code = connectCode(binary, false);
    if (code === "internal") expect(binary.body.toString()).toMatch(/parse binary/);
    else expect(["unknown", "ok"]).not.toContain(code);
    await assertServing();
  });

  it("keeps serving every protocol while 500 idle TCP connections are open", async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: 500 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect(server.port, "127.0.0.1", () => resolve(socket));
            socket.once("error", reject);
          }),
      ),
    );
    try {
      for (const protocol of PROTOCOLS) {
        const projects = createClient(ProjectService, transportFor(protocol, server.baseUrl, ADMIN));
        expect((await projects.getProject({ name: project }, { timeoutMs: 5_000 })).name).toBe(project);
      }
      expect(sockets.every((socket) => !socket.destroyed)).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    await assertServing();
  });
});
