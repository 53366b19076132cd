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
 * reads its own writes behind a read replica.
 */
export function createNodeTransport(
  protocol: Protocol,
  baseUrl: string,
  given: Interceptor[] = [],
): Transport {
  const interceptors = [...given, consistencyTokens()];
  switch (protocol) {
    case "Connect JSON over HTTP/1.1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors });
    case "Connect binary over HTTP/2":
      return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors });
    case "gRPC over HTTP/2":
      return createGrpcTransport({ baseUrl, interceptors });
    case "gRPC-Web over HTTP/1.1":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors });
  }
}
