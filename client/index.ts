// The tracker API for browser apps (and anything else with fetch): the
// service descriptors and message types of the contract, and a transport
// that speaks Connect or gRPC-Web with a bearer token. Browser-safe: no
// Node.js imports here or in what it re-exports.
//
//   import { createTrackerClients, createTrackerTransport } from "tracker/client";
//   const transport = createTrackerTransport({ baseUrl: location.origin, token: () => localStorage.token });
//   const { issues } = createTrackerClients(transport);
//   const { issues: page } = await issues.listIssues({ parent: "projects/CORE" });
//
// The transport carries the latest consistency token it was sent back on
// later calls (consistencyTokens), so behind a read replica a client reads
// its own writes, and tries safe calls again after UNAVAILABLE (retries),
// with the same request_id.

import { MethodOptions_IdempotencyLevel as Idempotency } from "@bufbuild/protobuf/wkt";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import {
  type BadRequest_FieldViolation,
  BadRequestSchema,
  type ErrorInfo,
  ErrorInfoSchema,
} from "../gen/proto/google/rpc/error_details_pb.js";
import { AuditService } from "../gen/proto/tracker/v1/audit_pb.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { ProjectService } from "../gen/proto/tracker/v1/project_pb.js";
import { IssueRelationService } from "../gen/proto/tracker/v1/relation_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { WebhookService } from "../gen/proto/tracker/v1/webhook_pb.js";

export type { BadRequest_FieldViolation, ErrorInfo } from "../gen/proto/google/rpc/error_details_pb.js";
export { BadRequestSchema, ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
export * from "../gen/proto/tracker/v1/audit_pb.js";
export * from "../gen/proto/tracker/v1/comment_pb.js";
export * from "../gen/proto/tracker/v1/issue_pb.js";
export * from "../gen/proto/tracker/v1/label_pb.js";
export * from "../gen/proto/tracker/v1/member_pb.js";
export * from "../gen/proto/tracker/v1/project_pb.js";
export * from "../gen/proto/tracker/v1/relation_pb.js";
export * from "../gen/proto/tracker/v1/user_pb.js";
export * from "../gen/proto/tracker/v1/webhook_pb.js";
export { type Client, Code, ConnectError, createClient, type Interceptor, type Transport };

/** The protocols a browser can speak to the tracker (gRPC proper needs HTTP/2 trailers). */
export type TrackerProtocol = "connect" | "grpc-web";

/** A bearer token, or a function returning the current one ("" or undefined: none). */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

export interface TrackerTransportOptions {
  /** Where the API is served, e.g. `window.location.origin` or `http://localhost:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` on every call. */
  token?: TokenSource;
  /** Default "connect". */
  protocol?: TrackerProtocol;
  /**
   * Binary Protobuf instead of JSON. Default: JSON for Connect (readable in
   * the browser's network panel), binary for gRPC-Web.
   */
  binary?: boolean;
  /** More interceptors, run after the ones adding the bearer and consistency tokens. */
  interceptors?: Interceptor[];
  /** Another fetch, e.g. one with `credentials` set. */
  fetch?: typeof globalThis.fetch;
  /** Default timeout of every call, in milliseconds (streams included). */
  defaultTimeoutMs?: number;
  /** How safe calls are tried again after UNAVAILABLE (see `retries`); `false`: never. */
  retries?: RetryOptions | false;
}

/** Adds `Authorization: Bearer <token>` to every request that has none. */
export function bearerToken(token: TokenSource): Interceptor {
  return (next) => async (req) => {
    const value = typeof token === "function" ? await token() : token;
    if (value && !req.header.has("authorization")) req.header.set("authorization", `Bearer ${value}`);
    return next(req);
  };
}

/** The response header of every write, and the request header of a read that must see it. */
export const CONSISTENCY_TOKEN_HEADER = "tracker-consistency-token";

/** A consistency token (a PostgreSQL LSN, `16/B374D848`) as a number, to find the later of two. */
function lsnOf(token: string): bigint | undefined {
  const parts = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(token);
  return parts ? (BigInt(`0x${parts[1]}`) << 32n) | BigInt(`0x${parts[2]}`) : undefined;
}

/**
 * Read-your-writes when the server reads from a replica: remembers the
 * latest consistency token a response carried (writes carry one) and sends
 * it on every later call, so a list made after a write is served by a
 * replica only once it has the write, else by the primary. One per
 * transport: what this transport's calls wrote, its later calls see.
 * createTrackerTransport and createNodeTransport include it.
 */
export function consistencyTokens(): Interceptor {
  let latest: { token: string; lsn: bigint } | undefined;
  const remember = (headers: Headers) => {
    const token = headers.get(CONSISTENCY_TOKEN_HEADER);
    const lsn = token === null ? undefined : lsnOf(token);
    // The later of two: writes in flight together may answer out of order.
    if (token !== null && lsn !== undefined && (latest === undefined || lsn > latest.lsn))
      latest = { token, lsn };
  };
  return (next) => async (req) => {
    if (latest && !req.header.has(CONSISTENCY_TOKEN_HEADER))
      req.header.set(CONSISTENCY_TOKEN_HEADER, latest.token);
    const res = await next(req);
    remember(res.header);
    return res;
  };
}

export interface RetryOptions {
  /** Tries in all, the first included (default 3). */
  attempts?: number;
  /** The first retry waits up to this long, each next one up to twice as long (default 250 ms). */
  baseDelayMs?: number;
}

const REQUEST_ID_FIELD = "request_id";

/**
 * Tries a unary call again when it failed with UNAVAILABLE (the server, or
 * its database, was away for a moment), if trying again is safe: a read
 * (`NO_SIDE_EFFECTS` or `IDEMPOTENT` in the contract), or a write that takes
 * a `request_id` (AIP-155). Such a write gets a random `request_id` if it
 * has none, before the first try, so every try is the same request: if the
 * first was done but its answer lost, the server replays that answer instead
 * of doing it twice. Waits are random up to an exponential bound (full
 * jitter); a cancelled or timed-out call is not retried. Streams are not
 * retried here: WatchIssues resumes from its last position instead.
 */
export function retries(options: RetryOptions = {}): Interceptor {
  const attempts = Math.max(1, options.attempts ?? 3);
  const baseDelayMs = options.baseDelayMs ?? 250;
  return (next) => async (req) => {
    if (req.stream) return next(req);
    const requestId = req.method.input.fields.find((field) => field.name === REQUEST_ID_FIELD);
    const safe = requestId !== undefined || req.method.idempotency !== Idempotency.IDEMPOTENCY_UNKNOWN;
    if (!safe) return next(req);
    const message = req.message as Record<string, unknown>;
    if (requestId && !message[requestId.localName]) message[requestId.localName] = crypto.randomUUID();
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (error) {
        const code = ConnectError.from(error).code;
        if (code !== Code.Unavailable || attempt >= attempts || req.signal.aborted) throw error;
        const delay = Math.random() * baseDelayMs * 2 ** (attempt - 1);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
}

/** A transport to the tracker API over Connect or gRPC-Web, on fetch. */
export function createTrackerTransport(options: TrackerTransportOptions): Transport {
  const protocol = options.protocol ?? "connect";
  const interceptors = [
    ...(options.retries === false ? [] : [retries(options.retries)]),
    ...(options.token === undefined ? [] : [bearerToken(options.token)]),
    consistencyTokens(),
    ...(options.interceptors ?? []),
  ];
  const common = {
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    interceptors,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.defaultTimeoutMs ? { defaultTimeoutMs: options.defaultTimeoutMs } : {}),
  };
  switch (protocol) {
    case "connect":
      return createConnectTransport({ ...common, useBinaryFormat: options.binary ?? false });
    case "grpc-web":
      return createGrpcWebTransport({ ...common, useBinaryFormat: options.binary ?? true });
    default:
      throw new Error(`unknown protocol ${String(protocol satisfies never)}`);
  }
}

/** A typed client for every tracker service, over one transport. */
export function createTrackerClients(transport: Transport) {
  return {
    projects: createClient(ProjectService, transport),
    members: createClient(MemberService, transport),
    labels: createClient(LabelService, transport),
    issues: createClient(IssueService, transport),
    relations: createClient(IssueRelationService, transport),
    comments: createClient(CommentService, transport),
    users: createClient(UserService, transport),
    audit: createClient(AuditService, transport),
    webhooks: createClient(WebhookService, transport),
  };
}

export type TrackerClients = ReturnType<typeof createTrackerClients>;

/** The `google.rpc.ErrorInfo` of a tracker error: its `reason` (e.g. `ETAG_MISMATCH`) is what to switch on. */
export function errorInfoOf(error: unknown): ErrorInfo | undefined {
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0];
}

/** The offending fields of an INVALID_ARGUMENT error (`google.rpc.BadRequest`). */
export function fieldViolationsOf(error: unknown): BadRequest_FieldViolation[] {
  return ConnectError.from(error)
    .findDetails(BadRequestSchema)
    .flatMap((detail) => detail.fieldViolations);
}

/** Whether a call failed because the resource changed since it was read (a stale etag). */
export function isConflict(error: unknown): boolean {
  return ConnectError.from(error).code === Code.Aborted;
}
