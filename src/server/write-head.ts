import type http from "node:http";
import type http2 from "node:http2";

/**
 * `res.writeHead(statusCode, headers)` on a response of either server of the
 * one port. Both kinds have that overload, but each has two, and TypeScript
 * cannot call a union of overloaded methods (TS2349 with @types/node 24).
 */
export function writeHead(
  res: http.ServerResponse | http2.Http2ServerResponse,
  statusCode: number,
  headers?: http.OutgoingHttpHeaders,
): void {
  const write: (statusCode: number, headers?: http.OutgoingHttpHeaders) => unknown = res.writeHead;
  write.call(res, statusCode, headers);
}
