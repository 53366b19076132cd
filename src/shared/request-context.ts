import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "../auth/authenticator.js";

// What the HTTP layer learns about a request before any handler runs.

/** Set by the HTTP layer, which verifies the bearer token before the body is read. */
export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "verified token",
});
/** The client's address, for the audit log. */
export const clientAddressKey = createContextKey<string>("", { description: "client address" });
/** The request's id (x-request-id), for logs and the audit log. */
export const requestIdKey = createContextKey<string>("", { description: "request id" });
