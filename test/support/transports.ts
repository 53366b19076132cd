import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { testIssuer } from "./issuer.js";

/** The four ways clients reach the one port, each over real sockets. */
export const PROTOCOLS = [
  "Connect JSON over HTTP/1.1",
  "Connect binary over HTTP/2",
  "gRPC over HTTP/2",
  "gRPC-Web over HTTP/1.1",
] as const;

export type Protocol = (typeof PROTOCOLS)[number];

/** A bearer token of the test issuer for `user` (its subject). */
export async function tokenFor(user: string): Promise<string> {
  return (await testIssuer()).mint(user, { email: `${user}@example.com`, name: user });
}

/**
 * Who the requests come from: a real token of the test issuer with `user` as
 * its subject; "" sends no token (anonymous).
 */
export function actingAs(user: string): Interceptor {
  let token: Promise<string> | undefined;
  return (next) => async (req) => {
    if (user !== "") {
      token ??= tokenFor(user);
      req.header.set("authorization", `Bearer ${await token}`);
    }
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
