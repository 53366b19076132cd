import { randomUUID } from "node:crypto";
import type http from "node:http";
import type http2 from "node:http2";
import { fileURLToPath } from "node:url";
import type { DescFile } from "@bufbuild/protobuf";
import {
  Code,
  type ConnectRouter,
  type ContextValues,
  cors,
  createContextValues,
  type ServiceImpl,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createValidateInterceptor } from "@connectrpc/validate";
import { file_grpc_health_v1_health } from "../../gen/proto/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "../../gen/proto/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "../../gen/proto/grpc/reflection/v1alpha/reflection_pb.js";
import { file_tracker_v1_audit } from "../../gen/proto/tracker/v1/audit_pb.js";
import { file_tracker_v1_comment } from "../../gen/proto/tracker/v1/comment_pb.js";
import { file_tracker_v1_issue, type IssueService } from "../../gen/proto/tracker/v1/issue_pb.js";
import { file_tracker_v1_label } from "../../gen/proto/tracker/v1/label_pb.js";
import { file_tracker_v1_member } from "../../gen/proto/tracker/v1/member_pb.js";
import { file_tracker_v1_project } from "../../gen/proto/tracker/v1/project_pb.js";
import { file_tracker_v1_relation } from "../../gen/proto/tracker/v1/relation_pb.js";
import { file_tracker_v1_user } from "../../gen/proto/tracker/v1/user_pb.js";
import { file_tracker_v1_webhook } from "../../gen/proto/tracker/v1/webhook_pb.js";
import { AuthenticationError } from "../auth/authenticator.js";
import type { AppContext } from "../context.js";
import { requestLog } from "../observability/request-log.js";
import { observeRpcs } from "../observability/rpc-outcome.js";
import { auditService } from "../services/audit/index.js";
import { commentService } from "../services/comments/index.js";
import { healthService } from "../services/health-service.js";
import { issueService } from "../services/issues/index.js";
import { labelService } from "../services/labels/index.js";
import { memberService } from "../services/members/index.js";
import { projectService } from "../services/projects/index.js";
import { reflectionService } from "../services/reflection-service.js";
import { issueRelationService } from "../services/relations/index.js";
import { userService } from "../services/users/index.js";
import { webhookService } from "../services/webhooks/index.js";
import { createCallerInterceptor } from "../shared/caller.js";
import { CONSISTENCY_TOKEN_HEADER } from "../shared/consistency-token.js";
import { createDeadlineInterceptor } from "../shared/deadline.js";
import { apiError, createErrorInterceptor } from "../shared/errors.js";
import { createRateLimitInterceptor } from "../shared/rate-limit.js";
import { clientAddressKey, principalKey, requestIdKey } from "../shared/request-context.js";
import { createUnknownFieldsInterceptor } from "../shared/unknown-fields.js";
import { createRequestValidator } from "../shared/validator.js";
import { serveApiDocs } from "./api-docs.js";
import { ACCEPT_COMPRESSION } from "./compression.js";
import { answerConditionalGets } from "./conditional-get.js";
import { type MintDevToken, serveDevSignIn } from "./dev-sign-in.js";
import { writeEarlyError } from "./early-answer.js";
import { createOnePortServer, type OnePortServer } from "./one-port.js";
import { writeUnauthenticated } from "./unauthenticated.js";
import { serveWebApp } from "./web-app.js";
import { writeHead } from "./write-head.js";

/** The contract this server implements, as reflection and health report it. */
export const API_FILES: DescFile[] = [
  file_tracker_v1_project,
  file_tracker_v1_member,
  file_tracker_v1_label,
  file_tracker_v1_issue,
  file_tracker_v1_comment,
  file_tracker_v1_relation,
  file_tracker_v1_user,
  file_tracker_v1_audit,
  file_tracker_v1_webhook,
];

export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Answered without a token: load balancers and grpcurl's `list` must reach them. */
const PUBLIC_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;

// What browsers on other origins may send and read (CORS), spelled once.
const CORS_EXPOSED_HEADERS = [
  ...cors.exposedHeaders,
  "Etag",
  "X-Request-Id",
  CONSISTENCY_TOKEN_HEADER,
  "Retry-After",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "X-RateLimit-Reset",
  "RateLimit",
  "RateLimit-Policy",
  "WWW-Authenticate",
  "traceparent",
  "tracestate",
].join(", ");
const CORS_ALLOWED_METHODS = cors.allowedMethods.join(", ");
const CORS_ALLOWED_HEADERS = [
  ...cors.allowedHeaders,
  "Authorization",
  // A client revalidating a GET itself (conditional-get.ts).
  "If-None-Match",
  "X-Request-Id",
  CONSISTENCY_TOKEN_HEADER,
  "traceparent",
  "tracestate",
].join(", ");

/** The interceptors the bench can leave out (bench/ablation.ts), to measure what each costs. */
export const REMOVABLE_LAYERS = [
  "tracing",
  "request-log",
  "metrics",
  "rate-limit",
  "unknown-fields",
  "protovalidate",
] as const;
export type RemovableLayer = (typeof REMOVABLE_LAYERS)[number];

/**
 * For the bench only (bench/tracker-server.ts, `npm run bench -- --ablation`):
 * the pipeline with parts taken out, so the bench can show what each costs.
 * Production never passes one: every layer is always on.
 */
export interface Ablation {
  layersOff: ReadonlySet<RemovableLayer>;
  /** Serves GetIssue instead of its handler, e.g. with its query compiled once. */
  getIssue?: (ctx: AppContext) => ServiceImpl<typeof IssueService>["getIssue"];
}

/**
 * The interceptors and limits every API call runs through, whichever
 * transport carries it (the one port, or a router transport in tests).
 */
export function apiHandlerOptions(ctx: AppContext, layersOff: ReadonlySet<RemovableLayer> = new Set()) {
  const unless = <T>(layer: RemovableLayer, part: T) => (layersOff.has(layer) ? [] : [part]);
  // The request log and the metrics watch each RPC through one interceptor.
  const observers = [
    ...unless("request-log", requestLog(ctx.logger)),
    ...unless("metrics", ctx.metrics.observer),
  ];
  return {
    // Outermost first: the error mapper sees every failure; the rate limit
    // applies before any work; callers are known before validation.
    interceptors: [
      ...unless("tracing", ctx.tracing.interceptor),
      ...(observers.length ? [observeRpcs(observers)] : []),
      createErrorInterceptor(ctx.logger),
      createDeadlineInterceptor(ctx.shutdown),
      ...unless("rate-limit", createRateLimitInterceptor(ctx.rateLimiter)),
      createCallerInterceptor(ctx.db),
      ...unless("unknown-fields", createUnknownFieldsInterceptor()),
      ...unless("protovalidate", createValidateInterceptor({ validator: createRequestValidator() })),
    ],
    // A field the server does not know is refused, not dropped (binary: the interceptor above).
    jsonOptions: {
      ignoreUnknownFields: false,
      // A JSON body that is not UTF-8 is refused (INVALID_ARGUMENT), not stored with U+FFFD in place of its bytes.
      textDecoder: new TextDecoder("utf-8", { fatal: true }),
    },
    acceptCompression: ACCEPT_COMPRESSION,
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
    maxTimeoutMs: ctx.limits.maxDeadlineMs,
    shutdownSignal: ctx.shutdown,
  };
}

export interface ServerOptions {
  ablation?: Ablation;
  /** AUTH_MODE=dev only: mints the tokens of the board's development sign-in (dev-sign-in.ts). */
  mintDevToken?: MintDevToken;
}

/** Builds the one Connect handler for all four protocols and puts it on one port. */
export function createServer(ctx: AppContext, { ablation, mintDevToken }: ServerOptions = {}): OnePortServer {
  const apiServiceNames = API_FILES.flatMap((file) => file.services.map((service) => service.typeName));
  const routes = (router: ConnectRouter) => {
    projectService(ctx)(router);
    memberService(ctx)(router);
    labelService(ctx)(router);
    issueService(ctx, ablation?.getIssue && { getIssue: ablation.getIssue(ctx) })(router);
    commentService(ctx)(router);
    issueRelationService(ctx)(router);
    userService(ctx)(router);
    auditService(ctx)(router);
    webhookService(ctx)(router);
    healthService(ctx, apiServiceNames)(router);
    reflectionService([
      ...API_FILES,
      file_grpc_health_v1_health,
      file_grpc_reflection_v1_reflection,
      file_grpc_reflection_v1alpha_reflection,
    ])(router);
    answerConditionalGets(router);
  };
  // The browser app (web/), built by `npm start`; nothing when it is not built.
  const webApp = serveWebApp(fileURLToPath(new URL("../../web/dist/", import.meta.url)), {
    reserved: ["/docs", "/openapi.yaml", "/openapi.json"],
  });
  // What the HTTP layer learned about a request, handed to the handlers.
  const requestValues = new WeakMap<NodeRequest, ContextValues>();
  const connectHandler = connectNodeAdapter({
    routes,
    ...apiHandlerOptions(ctx, ablation?.layersOff),
    contextValues: (req) => requestValues.get(req) ?? createContextValues(),
  });

  const devSignIn = serveDevSignIn(mintDevToken);

  async function handle(req: NodeRequest, res: http.ServerResponse | http2.Http2ServerResponse) {
    // Before the CORS headers below: that endpoint allows only pages of this machine.
    if (await devSignIn(req, res)) return;
    // Browsers on other origins may call every procedure (CORS preflight).
    res.setHeader("Access-Control-Allow-Origin", req.headers.origin ?? "*");
    // A read's answer may depend on the consistency token it sent (a replica's,
    // or the primary's), and its bytes and ETag on the encodings it accepts.
    res.setHeader("Vary", `Origin, Accept-Encoding, ${CONSISTENCY_TOKEN_HEADER}`);
    res.setHeader("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS);
    if (req.method === "OPTIONS") {
      res.setHeader("Access-Control-Allow-Methods", CORS_ALLOWED_METHODS);
      res.setHeader("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS);
      res.setHeader("Access-Control-Max-Age", "7200");
      writeHead(res, 204);
      res.end();
      return;
    }
    if (req.method === "GET" && (await serveOperations(req, res))) return;
    if ((req.method === "GET" || req.method === "HEAD") && webApp(req, res)) return;
    const values = createContextValues()
      .set(clientAddressKey, req.socket.remoteAddress ?? "")
      .set(requestIdKey, requestIdOf(req));
    res.setHeader("X-Request-Id", values.get(requestIdKey));
    const service = (req.url ?? "").split("/")[1] ?? "";
    if (!PUBLIC_SERVICES.includes(service)) {
      // Authentication comes first: an unauthenticated request is answered
      // before its body is read or parsed.
      try {
        values.set(principalKey, await ctx.authenticator.verify(req.headers.authorization));
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        writeUnauthenticated(req, res, error);
        return;
      }
    }
    requestValues.set(req, values);
    // HTTP/1.1 `Expect: 100-continue` (one-port.ts leaves it to us): only
    // now that the request may proceed is the client told to send its body.
    if (req.httpVersionMajor === 1 && /100-continue/i.test(req.headers.expect ?? "")) res.writeContinue();
    connectHandler(req, res);
  }

  return createOnePortServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      ctx.logger.error({ err: error }, "request failed before reaching a handler");
      if (res.headersSent) res.end();
      else writeEarlyError(req, res, apiError(Code.Internal, "INTERNAL", "internal error"));
    });
  }, ctx.limits);

  /**
   * Plain HTTP for operators, beside the API: /healthz (the process is
   * alive), /readyz (the database answers and the server is not shutting
   * down; load balancers stop sending when it says 503), /metrics.
   */
  async function serveOperations(req: NodeRequest, res: NodeResponse): Promise<boolean> {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/healthz") {
      writeHead(res, 200, { "content-type": "application/json" });
      res.end('{"status":"ok"}');
      return true;
    }
    if (path === "/readyz") {
      const ready = !ctx.shutdown.aborted && (await ctx.database.isReachable(1_000));
      writeHead(res, ready ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: ready ? "ready" : "not ready", shuttingDown: ctx.shutdown.aborted }));
      return true;
    }
    if (path === "/metrics") {
      const { contentType, body } = await ctx.metrics.render();
      writeHead(res, 200, { "content-type": contentType });
      res.end(body);
      return true;
    }
    if (serveApiDocs(req, res)) return true;
    return false;
  }
}

type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's x-request-id when it is sane, else a new one. */
function requestIdOf(req: NodeRequest): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}
