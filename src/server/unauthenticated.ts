import type http from "node:http";
import type http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import type { AuthenticationError } from "../auth/authenticator.js";
import { apiError } from "../shared/errors.js";
import { writeEarlyError } from "./early-answer.js";

/**
 * Answers a request that failed authentication before its body is read, in
 * the caller's protocol (UNAUTHENTICATED; HTTP 401 for Connect) with a
 * google.rpc.ErrorInfo and an RFC 6750 WWW-Authenticate header.
 */
export function writeUnauthenticated(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
  error: AuthenticationError,
): void {
  const wwwAuthenticate = `Bearer realm="tracker", error="${error.bearerError}", error_description="${error.message.replaceAll('"', "'")}"`;
  writeEarlyError(req, res, apiError(Code.Unauthenticated, "UNAUTHENTICATED", error.message), {
    "www-authenticate": wwwAuthenticate,
  });
}
