import type { Transport } from "@connectrpc/connect";
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

export function transportFor(protocol: Protocol, baseUrl: string): Transport {
  switch (protocol) {
    case "Connect JSON over HTTP/1.1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false });
    case "Connect binary over HTTP/2":
      return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true });
    case "gRPC over HTTP/2":
      return createGrpcTransport({ baseUrl });
    case "gRPC-Web over HTTP/1.1":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true });
  }
}
