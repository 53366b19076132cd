import { createHash } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";

// Conditional GET (RFC 9110 §13.1.2) for the read-only RPCs that Connect
// serves over GET (`idempotency_level = NO_SIDE_EFFECTS`), as GitHub's API
// answers them: every successful answer carries an ETag, and a request whose
// If-None-Match holds it gets 304 Not Modified with no body. It wraps the
// answer the handler gave, so authentication, authorisation and every other
// check have run: only a 200 gets an ETag, and an error is never a 304 (a
// non-member sending a member's ETag is still NOT_FOUND).
//
// The ETag is a hash of the response body as sent, not the resource's `etag`
// field: that field is a revision number, the same for the JSON and binary,
// gzip and identity forms of one resource (a strong ETag must differ between
// them) and for every resource at the same revision, and Lists and users have
// none. The field is in the body, so the hash changes whenever it does.

/** Per user (the token decides what is seen): browsers may keep it, shared caches not; revalidated each time. */
const CACHE_CONTROL = "private, no-cache";

/** Header fields that describe a body, which a 304 has none of. */
const BODY_HEADERS = ["content-length", "content-type", "content-encoding"];

/**
 * Makes every handler of `router` that Connect serves over GET answer
 * conditional GETs. Call it after the services are registered, inside the
 * `routes` function: the adapter mounts `router.handlers` once that returns.
 */
export function answerConditionalGets(router: ConnectRouter): void {
  router.handlers.forEach((handler, index) => {
    if (handler.allowedMethods.includes("GET")) router.handlers[index] = conditionalGet(handler);
  });
}

function conditionalGet(handler: UniversalHandler): UniversalHandler {
  const answer = async (req: UniversalServerRequest) => {
    const res = await handler(req);
    if (req.method !== "GET" || res.status !== 200 || !res.body) return res;
    // A unary answer, already bounded by writeMaxBytes; its headers are final once it is read.
    const chunks: Uint8Array[] = [];
    for await (const chunk of res.body) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const etag = `"${createHash("sha256").update(body).digest("base64url")}"`;
    const header = new Headers(res.header);
    header.set("etag", etag);
    header.set("cache-control", CACHE_CONTROL);
    if (matchesAny(req.header.get("if-none-match"), etag)) {
      for (const name of BODY_HEADERS) header.delete(name);
      return { status: 304, header };
    }
    return {
      ...res,
      header,
      body: (async function* () {
        yield body;
      })(),
    };
  };
  return Object.assign(answer, handler);
}

/** If-None-Match's weak comparison (RFC 9110 §13.1.2): `*`, or any listed tag, W/ or not. */
function matchesAny(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  return ifNoneMatch
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .some((tag) => tag === "*" || tag === etag);
}
