import type { Interceptor, Transport } from "@connectrpc/connect";
import { createNodeTransport, type Protocol } from "../../client/node.js";
import { testIssuer } from "./issuer.js";

export { PROTOCOLS, type Protocol } from "../../client/node.js";

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
  return createNodeTransport(protocol, baseUrl, [actingAs(user)]);
}
