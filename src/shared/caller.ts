import { Code, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { Database } from "../db/database.js";
import { apiError } from "./errors.js";
import { principalKey } from "./request-context.js";

/** The authenticated person making a request, as a user of the tracker. */
export interface Caller {
  userUid: string;
  subject: string;
}

const callerKey = createContextKey<Caller | undefined>(undefined, {
  description: "the authenticated caller",
});

/**
 * Turns the verified token of every API request into a user, creating it on
 * first use and refreshing its e-mail and name from the token, before the
 * handler runs.
 */
export function createCallerInterceptor(db: Database): Interceptor {
  // Users known to this process, by subject, with the claims last written:
  // a request whose token says nothing new costs no database write.
  const known = new Map<string, { uid: string; claims: string }>();
  return (next) => async (req) => {
    const principal = req.contextValues.get(principalKey);
    if (!principal) return next(req); // health and reflection: public
    const claims = `${principal.email}\n${principal.name}`;
    const cached = known.get(principal.subject);
    if (cached?.claims === claims) {
      req.contextValues.set(callerKey, { userUid: cached.uid, subject: principal.subject });
      return next(req);
    }
    const user = await db
      .insertInto("users")
      .values({ subject: principal.subject, email: principal.email, display_name: principal.name })
      .onConflict((conflict) =>
        conflict.column("subject").doUpdateSet((eb) => ({
          // A token without the claim keeps what is known.
          email: principal.email === "" ? eb.ref("users.email") : principal.email,
          display_name: principal.name === "" ? eb.ref("users.display_name") : principal.name,
          update_time: eb.fn("now"),
        })),
      )
      .returning("uid")
      .executeTakeFirstOrThrow();
    if (known.size >= 10_000) known.clear();
    known.set(principal.subject, { uid: user.uid, claims });
    req.contextValues.set(callerKey, { userUid: user.uid, subject: principal.subject });
    return next(req);
  };
}

/** The caller of the request; the HTTP layer and the interceptor guarantee there is one. */
export function callerOf(context: HandlerContext): Caller {
  const caller = context.values.get(callerKey);
  if (!caller) throw apiError(Code.Unauthenticated, "UNAUTHENTICATED", "the request has no verified caller");
  return caller;
}
