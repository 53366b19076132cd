import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { type Authenticator, createJwtAuthenticator } from "./authenticator.js";

// Development mode (AUTH_MODE=dev, the default of `npm start` only): the
// server trusts tokens signed with a key it keeps under DATA_DIR, which
// `npm run token` uses to mint them. Never in production (see config).

export const DEV_ISSUER = "urn:tracker:dev";
export const DEV_AUDIENCE = "tracker";
const ALGORITHM = "ES256";

interface DevKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

function keyFile(dataDir: string): string {
  return join(dataDir, "dev-signing-key.json");
}

/** The development signing key, created on first use (readable by its owner only). */
export async function loadDevKey(dataDir: string): Promise<DevKey> {
  const file = keyFile(dataDir);
  if (!existsSync(file)) {
    const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    const privateJwk = {
      ...(await exportJWK(privateKey)),
      alg: ALGORITHM,
      kid: `dev-${Date.now().toString(36)}`,
    };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(privateJwk), { mode: 0o600 });
  }
  const privateJwk = JSON.parse(readFileSync(file, "utf8")) as JWK;
  const { d: _private, ...publicJwk } = privateJwk;
  return { privateJwk, publicJwk };
}

export async function createDevAuthenticator(dataDir: string): Promise<Authenticator> {
  const { publicJwk } = await loadDevKey(dataDir);
  return createJwtAuthenticator({
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    keys: createLocalJWKSet({ keys: [publicJwk] }),
    algorithms: [ALGORITHM],
    clockToleranceSeconds: 30,
  });
}

export async function mintDevToken(
  dataDir: string,
  claims: { sub: string; email?: string; name?: string; preferredUsername?: string },
  ttlSeconds = 12 * 3600,
): Promise<string> {
  const { privateJwk } = await loadDevKey(dataDir);
  const key = await importJWK(privateJwk, ALGORITHM);
  return new SignJWT({ email: claims.email, name: claims.name, preferred_username: claims.preferredUsername })
    .setProtectedHeader({ alg: ALGORITHM, kid: privateJwk.kid, typ: "JWT" })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}
