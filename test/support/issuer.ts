import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CompactSign, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

/**
 * A real OpenID provider for tests: discovery document and JWKS over HTTP on
 * loopback, and real RS256 tokens. `rotate()` switches to a new signing key
 * (both published), as providers do.
 */
export interface TestIssuer {
  url: string;
  audience: string;
  mint(subject: string, options?: MintOptions): Promise<string>;
  /** Signs this exact payload text (e.g. numbers JSON.stringify cannot write, like 1e400). */
  mintRaw(payload: string): Promise<string>;
  rotate(): Promise<void>;
}

export interface MintOptions {
  email?: string;
  name?: string;
  /** Seconds from now; negative means already expired. */
  expiresIn?: number;
  notBefore?: number;
  /** Seconds from now for the `iat` claim (default 0). */
  issuedAt?: number;
  issuer?: string;
  audience?: string;
  /** Sign with a key the issuer does not publish. */
  foreignKey?: boolean;
  /** Leave out the `sub` claim (the subject argument is ignored). */
  omitSubject?: boolean;
  extraClaims?: JWTPayload;
}

type SigningKey = { privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]; publicJwk: JWK };

async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

let shared: Promise<TestIssuer> | undefined;

/** One issuer per test file (vitest isolates modules per file). */
export function testIssuer(): Promise<TestIssuer> {
  shared ??= startTestIssuer();
  return shared;
}

async function startTestIssuer(): Promise<TestIssuer> {
  let keys = [await newKey("key-1")];
  const foreign = await newKey("key-1"); // same kid, different key: must not verify
  let url = "";
  const server = createServer((req, res) => {
    if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }));
    } else if (req.url === "/jwks") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: keys.map((key) => key.publicJwk) }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const audience = "tracker-tests";
  return {
    url,
    audience,
    async mint(subject, options = {}) {
      const key = options.foreignKey ? foreign : (keys[keys.length - 1] as SigningKey);
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ email: options.email, name: options.name, ...options.extraClaims })
        .setProtectedHeader({ alg: "RS256", kid: key.publicJwk.kid, typ: "JWT" })
        .setIssuer(options.issuer ?? url)
        .setAudience(options.audience ?? audience)
        .setIssuedAt(now + (options.issuedAt ?? 0))
        .setExpirationTime(now + (options.expiresIn ?? 3600));
      if (!options.omitSubject) jwt.setSubject(subject);
      if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
      return jwt.sign(key.privateKey);
    },
    async mintRaw(payload) {
      const key = keys[keys.length - 1] as SigningKey;
      return new CompactSign(new TextEncoder().encode(payload))
        .setProtectedHeader({ alg: "RS256", kid: key.publicJwk.kid, typ: "JWT" })
        .sign(key.privateKey);
    },
    async rotate() {
      keys = [...keys, await newKey(`key-${keys.length + 1}`)];
    },
  };
}
