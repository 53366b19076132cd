import { Code, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { Principal } from "../auth/authenticator.js";
import type { Database } from "../db/database.js";
import type { Caller } from "../domain/shared/caller.js";
import { displayNameFrom, emailFrom, handleCandidates } from "../domain/users/handles.js";
import { signIn } from "../domain/users/user-store.js";
import { apiError } from "./errors.js";
import { principalKey } from "./request-context.js";

const callerKey = createContextKey<Caller | undefined>(undefined, {
  description: "the authenticated caller",
});

/**
 * Turns the verified token of every API request into a user, creating it on
 * first use (with a handle from the token, when one is free) and refreshing
 * its e-mail and name from the token (a name that reads as a handle is none,
 * and so is an e-mail that is not an address),
 * before the handler runs.
 */
export function createCallerInterceptor(db: Database): Interceptor {
  // Users known to this process, by subject, with the claims last written:
  // a request whose token says nothing new costs no database write.
  const known = new Map<string, { uid: string; claims: string }>();
  return (next) => async (req) => {
    const principal = req.contextValues.get(principalKey);
    if (!principal) return next(req); // health and reflection: public
    const claims = `${principal.email}\n${principal.name}\n${principal.preferredUsername}`;
    const cached = known.get(principal.subject);
    if (cached?.claims === claims) {
      req.contextValues.set(callerKey, callerFrom(cached.uid, principal));
      return next(req);
    }
    const email = emailFrom(principal.email);
    const uid = await signIn(db, {
      subject: principal.subject,
      email,
      displayName: displayNameFrom(principal.name),
      handles: handleCandidates(principal.preferredUsername, email),
    });
    if (known.size >= 10_000) known.clear();
    known.set(principal.subject, { uid, claims });
    req.contextValues.set(callerKey, callerFrom(uid, principal));
    return next(req);
  };
}

const callerFrom = (userUid: string, principal: Principal): Caller => ({
  userUid,
  subject: principal.subject,
  tokenExpiresAt: principal.expiresAt,
});

/** The caller of the request; the HTTP layer and the interceptor guarantee there is one. */
export function callerOf(context: HandlerContext): Caller {
  const caller = context.values.get(callerKey);
  if (!caller) throw apiError(Code.Unauthenticated, "UNAUTHENTICATED", "the request has no verified caller");
  return caller;
}

/** setTimeout's longest delay (about 24.8 days); a longer one fires at once. */
const LONGEST_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * A signal that aborts, with the UNAUTHENTICATED error a new call would get,
 * when the caller's token stops being accepted: for calls that outlive a
 * token (WatchIssues). One timer; `clear()` when the call ends.
 */
export function tokenExpiry(caller: Caller): { signal: AbortSignal; clear(): void } {
  const expired = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = caller.tokenExpiresAt - Date.now();
    if (left <= 0) expired.abort(apiError(Code.Unauthenticated, "UNAUTHENTICATED", "the token has expired"));
    else timer = setTimeout(arm, Math.min(left, LONGEST_TIMEOUT_MS));
  };
  arm();
  return { signal: expired.signal, clear: () => clearTimeout(timer) };
}
