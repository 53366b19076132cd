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
 * as an HTTP status with its JSON error. The request's body is not parsed:
 * over HTTP/1.1 the connection closes after the answer (one-port.ts); over
 * HTTP/2 a client still sending is told to stop (RST_STREAM NO_ERROR, RFC
 * 9113 §8.1) after a gRPC answer, and the rest of a Connect request's body
 * is read and dropped, up to MAX_DISCARDED_BYTES.
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
    // One HEADERS frame, which nghttp2 sends before a RST_STREAM queued after it.
    if (req instanceof http2.Http2ServerRequest && req.stream.state.remoteClose !== 1)
      req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
  } else {
    writeHead(res, codeToHttpStatus(error.code), { ...headers, "content-type": "application/json" });
    res.end(errorToJsonBytes(error, {}));
    if (req instanceof http2.Http2ServerRequest) discardBody(req);
  }
}

/**
 * What an HTTP/2 client may still send of an answered request's body before
 * its stream is reset: several round trips' worth, so the answer has gone out
 * by then, but little enough that a client without a token cannot make the
 * server read much (100 streams per connection).
 */
const MAX_DISCARDED_BYTES = 256 * 1024;

/**
 * Reads and drops the rest of an answered request's body. Resetting the
 * stream at once would be cheaper, but nghttp2 then drops the answer's DATA
 * frames still queued, and clients such as curl see "Stream error in the
 * HTTP/2 framing layer" instead of the answer. Past the bound the stream
 * is reset anyway; the transport's request timeout bounds the time.
 */
function discardBody(req: http2.Http2ServerRequest) {
  const stream = req.stream;
  if (stream.destroyed || stream.state.remoteClose === 1) return;
  let received = 0;
  req.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_DISCARDED_BYTES && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  });
  req.resume();
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
