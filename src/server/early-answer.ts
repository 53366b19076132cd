import http from "node:http";
import http2 from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { writeHead } from "./write-head.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Answers a request that connect-node never sees (an authentication
 * failure, a bug before the handler) in the caller's protocol, as
 * connect-node would: gRPC and gRPC-Web as a trailers-only response, Connect
 * as an HTTP status with its JSON error. The request's body is not read: over
 * HTTP/2 a client still sending is told to stop (RST_STREAM NO_ERROR, RFC
 * 9113 §8.1); over HTTP/1.1 the connection closes after the answer
 * (one-port.ts).
 */
export function writeEarlyError(
  req: Request,
  res: Response,
  error: ConnectError,
  headers: Record<string, string> = {},
): void {
  const contentType = String(req.headers["content-type"] ?? "");
  if (contentType.startsWith("application/grpc")) {
    const status = Object.fromEntries(setTrailerStatus(new Headers(), error));
    const grpcType = contentType.startsWith("application/grpc-web") ? contentType : "application/grpc";
    sendHeadersOnly(res, { ...headers, ...status, "content-type": grpcType });
  } else {
    writeHead(res, codeToHttpStatus(error.code), { ...headers, "content-type": "application/json" });
    res.end(errorToJsonBytes(error, {}));
  }
  if (res instanceof http2.Http2ServerResponse && res.stream.state.remoteClose !== 1) {
    res.stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }
}

/**
 * A 200 with headers and no body. Over HTTP/2 it must be ONE HEADERS frame
 * with END_STREAM: grpc-go reads anything else (Node's writeHead() + end()
 * sends HEADERS, then an empty DATA frame) as "server closed the stream
 * without sending trailers".
 */
function sendHeadersOnly(res: Response, headers: Record<string, string>) {
  if (res instanceof http.ServerResponse) {
    res.writeHead(200, headers);
    res.end();
    return;
  }
  // A client gone meanwhile gets nothing (as with writeHead()).
  if (res.stream.destroyed || res.stream.closed) return;
  // The headers set before (CORS, X-Request-Id) go out too.
  res.stream.respond({ ...res.getHeaders(), ...headers, ":status": 200 }, { endStream: true });
}
