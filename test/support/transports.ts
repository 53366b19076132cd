import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

/** The four ways clients reach the one port, each over real sockets. */
export const PROTOCOLS = [
  "Connect JSON over HTTP/1.1",
  "Connect binary over HTTP/2",
  "gRPC over HTTP/2",
  "gRPC-Web over HTTP/1.1",
] as const;

export type Protocol = (typeof PROTOCOLS)[number];

/** Who the requests come from (the development identity header); "" sends none. */
export function actingAs(user: string): Interceptor {
  return (next) => (req) => {
    if (user !== "") req.header.set("x-tracker-user", user);
    return next(req);
  };
}

export function transportFor(protocol: Protocol, baseUrl: string, user = "alice"): Transport {
  const interceptors = [actingAs(user)];
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
