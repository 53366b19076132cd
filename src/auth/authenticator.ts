import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from "jose";
import { StartupError } from "../startup-error.js";

/** Who a verified token says the caller is. */
export interface Principal {
  subject: string;
  email: string;
  name: string;
  /** The `preferred_username` claim: the handle the user would like (OpenID Connect Core §5.1). */
  preferredUsername: string;
  /** When the token stops being accepted (ms since the epoch): its `exp` plus the clock tolerance. */
  expiresAt: number;
}

/** A token was missing or not acceptable; the message is safe to show the caller. */
export class AuthenticationError extends Error {
  constructor(
    message: string,
    /** RFC 6750 error code for WWW-Authenticate: "invalid_request" (no or malformed header) or "invalid_token". */
    readonly bearerError: "invalid_request" | "invalid_token",
  ) {
    super(message);
  }
}

export interface Authenticator {
  /** Verifies an `Authorization` header value; throws AuthenticationError. */
  verify(authorization: string | undefined): Promise<Principal>;
}

/** Asymmetric algorithms only: `none` and HMAC (HS*) can never be accepted. */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];

export interface JwtOptions {
  issuer: string;
  audience: string;
  keys: JWTVerifyGetKey;
  algorithms: string[];
  clockToleranceSeconds: number;
}

const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

/** How long a verified token is trusted without checking its signature again. */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

export function createJwtAuthenticator(options: JwtOptions): Authenticator {
  const algorithms = options.algorithms.filter((algorithm) => ASYMMETRIC_ALGORITHMS.includes(algorithm));
  // Clients send the same token on every call: a signature check per call
  // is most of the cost of a cheap read. A verified token is remembered
  // until it expires, and at most a minute, so a key the provider withdraws
  // stops working soon after.
  const verified = new Map<string, { principal: Principal; until: number }>();
  return {
    async verify(authorization) {
      if (!authorization)
        throw new AuthenticationError("send a bearer token in the Authorization header", "invalid_request");
      const token = BEARER.exec(authorization.trim())?.[1];
      if (!token)
        throw new AuthenticationError("the Authorization header must be `Bearer <JWT>`", "invalid_request");
      const known = verified.get(token);
      if (known && Date.now() < known.until) return known.principal;
      verified.delete(token);
      try {
        const { payload } = await jwtVerify(token, options.keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms,
          clockTolerance: options.clockToleranceSeconds,
          requiredClaims: ["sub", "exp"],
        });
        // Claims are typed: `12345` and "12345" must not be one user, and a
        // token minted years ahead is not a token a provider issued.
        // A subject is text a database stores as it is: no control or format
        // characters, no lone surrogates (they would collapse into U+FFFD and
        // make several subjects one user), not blank.
        const subject = payload.sub;
        if (
          typeof subject !== "string" ||
          subject.trim() === "" ||
          subject.length > 255 ||
          UNSTORABLE.test(subject)
        )
          throw new AuthenticationError("the token has no usable subject", "invalid_token");
        if (!Number.isFinite(payload.exp))
          throw new AuthenticationError(`the token's "exp" claim is not acceptable`, "invalid_token");
        const now = Date.now() / 1000;
        if (payload.iat !== undefined && !(payload.iat <= now + options.clockToleranceSeconds))
          throw new AuthenticationError(`the token's "iat" claim is not acceptable`, "invalid_token");
        const expires = (payload.exp ?? 0) * 1000;
        const principal = {
          subject,
          email: profileClaim(payload.email, 320),
          name: profileClaim(payload.name, 200),
          preferredUsername: profileClaim(payload.preferred_username, 100),
          expiresAt: expires + options.clockToleranceSeconds * 1000,
        };
        if (verified.size >= VERIFIED_MAX) verified.clear();
        verified.set(token, { principal, until: Math.min(expires, Date.now() + VERIFIED_TTL_MS) });
        return principal;
      } catch (error) {
        throw error instanceof AuthenticationError
          ? error
          : new AuthenticationError(describe(error), "invalid_token");
      }
    },
  };
}

/** Control and format characters, and lone surrogates: never part of a subject or a profile. */
const UNSTORABLE = /[\p{Cc}\p{Cf}\p{Cs}]/u;

/** A profile claim (email, name, preferred_username) as text; one that is not usable text is as good as absent. */
function profileClaim(value: unknown, maxLength: number): string {
  return typeof value === "string" && !UNSTORABLE.test(value) ? [...value].slice(0, maxLength).join("") : "";
}

/** What went wrong, for the caller, without echoing the token or key material. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired";
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the token's "${error.claim}" claim is not acceptable`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's signing algorithm is not allowed";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  if (error instanceof errors.JWKSNoMatchingKey) return "the token was signed with an unknown key";
  if (
    error instanceof errors.JWKSTimeout ||
    (error instanceof errors.JOSEError && error.code === "ERR_JWKS_INVALID")
  ) {
    return "the identity provider's keys could not be fetched";
  }
  return "the token is not a valid JWT";
}

/**
 * An authenticator for tokens of an OpenID provider: the issuer's discovery
 * document names its JWKS, fetched on demand, cached, and refetched when a
 * token names a key it does not know yet (key rotation).
 */
export async function discoverOidcAuthenticator(options: Omit<JwtOptions, "keys">): Promise<Authenticator> {
  const discoveryUrl = `${options.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  // Each is a setting pointing at something unusable: one line naming it.
  const unusable = (why: string) => new StartupError(`OIDC_ISSUER: ${discoveryUrl} ${why}`);
  const response = await fetch(discoveryUrl, { signal: AbortSignal.timeout(10_000) }).catch(
    (error: unknown) => {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw unusable(`cannot be fetched (${cause?.code ?? cause?.message ?? String(error)})`);
    },
  );
  if (!response.ok) throw unusable(`answered HTTP ${response.status}`);
  const document = (await response.json().catch(() => undefined)) as
    | { issuer?: unknown; jwks_uri?: unknown }
    | undefined;
  if (typeof document !== "object" || document === null)
    throw unusable("does not answer with an OpenID discovery document (JSON)");
  if (document.issuer !== options.issuer)
    throw unusable(`names issuer ${String(document.issuer)}, not ${options.issuer}`);
  if (typeof document.jwks_uri !== "string") throw unusable("has no jwks_uri");
  const keys = createRemoteJWKSet(new URL(document.jwks_uri), {
    cacheMaxAge: 10 * 60_000,
    cooldownDuration: 30_000,
    timeoutDuration: 5_000,
  });
  return createJwtAuthenticator({ ...options, keys });
}
