import { Code, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { Database } from "../db/database.js";
import { apiError } from "./errors.js";

/** The authenticated person making a request. */
export interface Caller {
  userUid: string;
  subject: string;
}

const callerKey = createContextKey<Caller | undefined>(undefined, {
  description: "the authenticated caller",
});

/**
 * DEVELOPMENT IDENTITY, until real authentication lands: the caller names
 * itself in the `x-tracker-user` header (a stable subject such as `alice`),
 * optionally with `x-tracker-user-email` and `x-tracker-user-name`. Anyone can
 * claim any name, so this is for local use only.
 */
export const USER_HEADER = "x-tracker-user";

/** Services anyone may call without naming themselves. */
const PUBLIC_SERVICES = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

const SUBJECT_PATTERN = /^[A-Za-z0-9._@|:-]{1,255}$/;

/**
 * Resolves the caller of every API request to a user, creating the user on
 * first use, before the handler runs.
 */
export function createCallerInterceptor(db: Database): Interceptor {
  return (next) => async (req) => {
    if (PUBLIC_SERVICES.has(req.service.typeName)) return next(req);
    const subject = req.header.get(USER_HEADER) ?? "";
    if (!SUBJECT_PATTERN.test(subject)) {
      throw apiError(
        Code.Unauthenticated,
        "UNAUTHENTICATED",
        `name yourself in the ${USER_HEADER} header (letters, digits and ._@|:- only)`,
      );
    }
    const email = (req.header.get(`${USER_HEADER}-email`) ?? "").slice(0, 320);
    const displayName = (req.header.get(`${USER_HEADER}-name`) ?? "").slice(0, 200);
    const user = await db
      .insertInto("users")
      .values({ subject, email, display_name: displayName })
      .onConflict((conflict) =>
        conflict.column("subject").doUpdateSet((eb) => ({
          // Keep what is known when a request does not send it.
          email: email === "" ? eb.ref("users.email") : email,
          display_name: displayName === "" ? eb.ref("users.display_name") : displayName,
        })),
      )
      .returning("uid")
      .executeTakeFirstOrThrow();
    req.contextValues.set(callerKey, { userUid: user.uid, subject });
    return next(req);
  };
}

/** The caller of the request; the interceptor guarantees there is one. */
export function callerOf(context: HandlerContext): Caller {
  const caller = context.values.get(callerKey);
  if (!caller) throw apiError(Code.Unauthenticated, "UNAUTHENTICATED", "the request has no caller");
  return caller;
}
