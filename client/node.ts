// The tracker API from Node.js: the four ways a client reaches the one port,
// each over real sockets. Tests, the soak and scripts share it.
//
//   import { createNodeTransport } from "tracker/client/node";
//   const transport = createNodeTransport("gRPC over HTTP/2", "http://localhost:8080", [bearerToken(token)]);

import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { consistencyTokens } from "./index.js";

export const PROTOCOLS = [
  "Connect JSON over HTTP/1.1",
  "Connect binary over HTTP/2",
  "gRPC over HTTP/2",
  "gRPC-Web over HTTP/1.1",
] as const;

export type Protocol = (typeof PROTOCOLS)[number];

/**
 * A transport over `protocol`; after `given`, it carries the latest
 * consistency token back (consistencyTokens in ./index.ts), so a client
 * reads its own writes behind a read replica. `readMaxBytes` bounds what one
 * answer may hold (connect-es's default is 4 GiB).
 */
export function createNodeTransport(
  protocol: Protocol,
  baseUrl: string,
  given: Interceptor[] = [],
  { readMaxBytes }: { readMaxBytes?: number } = {},
): Transport {
  const common = { baseUrl, interceptors: [...given, consistencyTokens()], readMaxBytes };
  switch (protocol) {
    case "Connect JSON over HTTP/1.1":
      return createConnectTransport({ ...common, httpVersion: "1.1", useBinaryFormat: false });
    case "Connect binary over HTTP/2":
      return createConnectTransport({ ...common, httpVersion: "2", useBinaryFormat: true });
    case "gRPC over HTTP/2":
      return createGrpcTransport(common);
    case "gRPC-Web over HTTP/1.1":
      return createGrpcWebTransport({ ...common, httpVersion: "1.1", useBinaryFormat: true });
  }
}
