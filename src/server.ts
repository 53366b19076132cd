import type { DescFile } from "@bufbuild/protobuf";
import { type ConnectRouter, cors } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createValidateInterceptor } from "@connectrpc/validate";
import { file_grpc_health_v1_health } from "../gen/proto/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "../gen/proto/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "../gen/proto/grpc/reflection/v1alpha/reflection_pb.js";
import { file_tracker_v1_comment } from "../gen/proto/tracker/v1/comment_pb.js";
import { file_tracker_v1_issue } from "../gen/proto/tracker/v1/issue_pb.js";
import { file_tracker_v1_label } from "../gen/proto/tracker/v1/label_pb.js";
import { file_tracker_v1_member } from "../gen/proto/tracker/v1/member_pb.js";
import { file_tracker_v1_project } from "../gen/proto/tracker/v1/project_pb.js";
import { file_tracker_v1_user } from "../gen/proto/tracker/v1/user_pb.js";
import type { AppContext } from "./context.js";
import { createOnePortServer, type OnePortServer } from "./server/one-port.js";
import { commentService } from "./services/comment-service.js";
import { healthService } from "./services/health-service.js";
import { issueService } from "./services/issue-service.js";
import { labelService } from "./services/label-service.js";
import { memberService } from "./services/member-service.js";
import { projectService } from "./services/project-service.js";
import { reflectionService } from "./services/reflection-service.js";
import { userService } from "./services/user-service.js";
import { createCallerInterceptor, USER_HEADER } from "./shared/caller.js";
import { createErrorInterceptor } from "./shared/errors.js";

/** The contract this server implements, as reflection and health report it. */
const API_FILES: DescFile[] = [
  file_tracker_v1_project,
  file_tracker_v1_member,
  file_tracker_v1_label,
  file_tracker_v1_issue,
  file_tracker_v1_comment,
  file_tracker_v1_user,
];

export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Builds the one Connect handler for all four protocols and puts it on one port. */
export function createServer(ctx: AppContext): OnePortServer {
  const apiServiceNames = API_FILES.flatMap((file) => file.services.map((service) => service.typeName));
  const routes = (router: ConnectRouter) => {
    projectService(ctx)(router);
    memberService(ctx)(router);
    labelService(ctx)(router);
    issueService(ctx)(router);
    commentService(ctx)(router);
    userService(ctx)(router);
    healthService(ctx, apiServiceNames)(router);
    reflectionService([
      ...API_FILES,
      file_grpc_health_v1_health,
      file_grpc_reflection_v1_reflection,
      file_grpc_reflection_v1alpha_reflection,
    ])(router);
  };
  const connectHandler = connectNodeAdapter({
    routes,
    // Outermost first: the error mapper also sees validation failures.
    // Callers are known before validation, so anonymous requests learn
    // nothing about the contract's rules.
    interceptors: [
      createErrorInterceptor(ctx.logger),
      createCallerInterceptor(ctx.db),
      createValidateInterceptor(),
    ],
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
    shutdownSignal: ctx.shutdown,
  });
  return createOnePortServer(
    (req, res) => {
      // Browsers on other origins may call every procedure (CORS preflight).
      res.setHeader("Access-Control-Allow-Origin", req.headers.origin ?? "*");
      res.setHeader("Vary", "Origin");
      res.setHeader("Access-Control-Expose-Headers", [...cors.exposedHeaders, "etag"].join(", "));
      if (req.method === "OPTIONS") {
        res.setHeader("Access-Control-Allow-Methods", cors.allowedMethods.join(", "));
        res.setHeader(
          "Access-Control-Allow-Headers",
          [
            ...cors.allowedHeaders,
            "Authorization",
            "X-Request-Id",
            USER_HEADER,
            `${USER_HEADER}-email`,
            `${USER_HEADER}-name`,
          ].join(", "),
        );
        res.setHeader("Access-Control-Max-Age", "7200");
        res.writeHead(204);
        res.end();
        return;
      }
      connectHandler(req, res);
    },
    { headersTimeoutMs: 10_000, keepAliveTimeoutMs: 65_000 },
  );
}
