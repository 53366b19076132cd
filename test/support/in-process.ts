import { randomUUID } from "node:crypto";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createRouterTransport,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { AuthenticationError } from "../../src/auth/authenticator.js";
import type { AppContext } from "../../src/context.js";
import { apiHandlerOptions } from "../../src/server/create-server.js";
import { auditService } from "../../src/services/audit/index.js";
import { commentService } from "../../src/services/comments/index.js";
import { issueService } from "../../src/services/issues/index.js";
import { labelService } from "../../src/services/labels/index.js";
import { memberService } from "../../src/services/members/index.js";
import { projectService } from "../../src/services/projects/index.js";
import { issueRelationService } from "../../src/services/relations/index.js";
import { userService } from "../../src/services/users/index.js";
import { clientAddressKey, principalKey, requestIdKey } from "../../src/shared/request-context.js";
import { actingAs } from "./transports.js";

// The handler tier: the API's services and the server's interceptors, called
// in process through createRouterTransport (no socket, no HTTP), on the
// test server's context and database (a clone of the migrated template).
// Protocols, processes and faults stay with the socket suites.
//
// The HTTP layer's part (the token checked, request id and client address
// known) is the first interceptor here; the rest is the server's list, in
// its order. Phase 2 of issue 14 (createApp) gives both one definition.

/** What the HTTP layer does before Connect: authenticate, and name the request. */
function httpLayer(ctx: AppContext): Interceptor {
  return (next) => async (req) => {
    req.contextValues.set(clientAddressKey, "in-process").set(requestIdKey, randomUUID());
    try {
      req.contextValues.set(
        principalKey,
        await ctx.authenticator.verify(req.header.get("authorization") ?? undefined),
      );
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      throw new ConnectError(error.message, Code.Unauthenticated);
    }
    return next(req);
  };
}

function routesOf(ctx: AppContext) {
  return (router: ConnectRouter) => {
    projectService(ctx)(router);
    memberService(ctx)(router);
    labelService(ctx)(router);
    issueService(ctx)(router);
    commentService(ctx)(router);
    issueRelationService(ctx)(router);
    userService(ctx)(router);
    auditService(ctx)(router);
  };
}

/**
 * A transport that calls the handlers of `ctx` in process, as `user` ("" for
 * no token); `routes` replaces the API's services, e.g. with a handler under test.
 */
export function inProcessTransport(
  ctx: AppContext,
  user = "alice",
  routes: (router: ConnectRouter) => void = routesOf(ctx),
): Transport {
  return createRouterTransport(routes, {
    router: (() => {
      // The HTTP layer's work (token, request id) comes first, as on the port.
      const options = apiHandlerOptions(ctx);
      return { ...options, interceptors: [httpLayer(ctx), ...options.interceptors] };
    })(),
    transport: { interceptors: [actingAs(user)] },
  });
}
