import type http from "node:http";
import type http2 from "node:http2";
import { create, toBinary, toJson } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/proto/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/proto/google/rpc/status_pb.js";
import type { AuthenticationError } from "../auth/authenticator.js";
import { ERROR_DOMAIN } from "../shared/errors.js";
import { writeHead } from "./write-head.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Answers a request that failed authentication before its body is read, in
 * the caller's protocol: gRPC and gRPC-Web as a trailers-only response with
 * grpc-status 16, Connect as HTTP 401 with its JSON error. Each carries a
 * google.rpc.ErrorInfo and an RFC 6750 WWW-Authenticate header.
 */
export function writeUnauthenticated(req: Request, res: Response, error: AuthenticationError): void {
  const info = create(ErrorInfoSchema, { reason: "UNAUTHENTICATED", domain: ERROR_DOMAIN });
  const wwwAuthenticate = `Bearer realm="tracker", error="${error.bearerError}", error_description="${error.message.replaceAll('"', "'")}"`;
  const contentType = String(req.headers["content-type"] ?? "");
  if (contentType.startsWith("application/grpc")) {
    const status = create(StatusSchema, {
      code: Code.Unauthenticated,
      message: error.message,
      details: [anyPack(ErrorInfoSchema, info)],
    });
    writeHead(res, 200, {
      "content-type": contentType.startsWith("application/grpc-web") ? contentType : "application/grpc",
      "grpc-status": String(Code.Unauthenticated),
      "grpc-message": encodeURIComponent(error.message),
      "grpc-status-details-bin": Buffer.from(toBinary(StatusSchema, status)).toString("base64"),
      "www-authenticate": wwwAuthenticate,
    });
    res.end();
    return;
  }
  const body = JSON.stringify({
    code: "unauthenticated",
    message: error.message,
    details: [
      {
        type: ErrorInfoSchema.typeName,
        value: Buffer.from(toBinary(ErrorInfoSchema, info)).toString("base64").replace(/=+$/, ""),
        debug: toJson(ErrorInfoSchema, info),
      },
    ],
  });
  writeHead(res, 401, { "content-type": "application/json", "www-authenticate": wwwAuthenticate });
  res.end(body);
}
