import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { Code, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createNodeTransport } from "../client/node.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { createJwtAuthenticator } from "../src/auth/authenticator.js";
import { expectError } from "./support/errors.js";
import { type TestIssuer, testIssuer } from "./support/issuer.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, type Protocol } from "./support/transports.js";

let server: TestServer;
let issuer: TestIssuer;
beforeAll(async () => {
  server = await startTestServer();
  issuer = await testIssuer();
});
afterAll(() => server.close());

/** What authenticator.ts tells callers; nothing else may reach them. */
const MESSAGES = {
  missing: "send a bearer token in the Authorization header",
  malformed: "the Authorization header must be `Bearer <JWT>`",
  expired: "the token has expired",
  claim: (claim: string) => `the token's "${claim}" claim is not acceptable`,
  algorithm: "the token's signing algorithm is not allowed",
  signature: "the token's signature is not valid",
  unknownKey: "the token was signed with an unknown key",
  noSubject: "the token has no usable subject",
  notJwt: "the token is not a valid JWT",
};
const FRIENDLY: string[] = Object.values(MESSAGES).flatMap((message) =>
  typeof message === "string" ? [message] : ["sub", "exp", "nbf", "iat", "iss", "aud"].map(message),
);

/** A transport of `protocol` that sends exactly this Authorization header (none if undefined). */
function transportWith(protocol: Protocol, authorization: string | undefined): Transport {
  const baseUrl = server.baseUrl;
  const interceptors: Interceptor[] = [
    (next) => (req) => {
      if (authorization !== undefined) req.header.set("authorization", authorization);
      return next(req);
    },
  ];
  return createNodeTransport(protocol, baseUrl, interceptors);
}

const usersWith = (authorization: string | undefined, protocol: Protocol = "Connect binary over HTTP/2") =>
  createClient(UserService, transportWith(protocol, authorization));

let sequence = 0;
const newSubject = () => `auth-${process.pid}-${sequence++}`;

/** Calls GetCurrentUser with this header; it must fail UNAUTHENTICATED with exactly `message`. */
async function expectRefused(
  authorization: string | undefined,
  message: string,
  protocol: Protocol = "Connect binary over HTTP/2",
): Promise<void> {
  const error = await expectError(
    usersWith(authorization, protocol).getCurrentUser({}),
    Code.Unauthenticated,
    "UNAUTHENTICATED",
  );
  expect(FRIENDLY).toContain(error.rawMessage);
  expect(error.rawMessage).toBe(message);
  // Neither the token nor anything of a stack or key travels back.
  const token = authorization?.split(" ")[1];
  if (token) expect(error.message).not.toContain(token);
  expect(error.message).not.toMatch(/\n\s+at |BEGIN|"kty"|"n":/);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Claims the server would accept, were the token signed properly. */
function validClaims(subject: string) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: issuer.url, aud: issuer.audience, sub: subject, iat: now, exp: now + 3600 };
}

describe.each(PROTOCOLS)("authentication over %s", (protocol) => {
  it("refuses a call without a token: UNAUTHENTICATED with ErrorInfo", async () => {
    await expectRefused(undefined, MESSAGES.missing, protocol);
  });

  it("refuses an expired token with a message that survives the protocol's encoding", async () => {
    const token = await issuer.mint(newSubject(), { expiresIn: -120 });
    await expectRefused(`Bearer ${token}`, MESSAGES.expired, protocol);
    const audience = await issuer.mint(newSubject(), { audience: "someone-else" });
    await expectRefused(`Bearer ${audience}`, MESSAGES.claim("aud"), protocol);
  });

  it("accepts a valid token", async () => {
    const subject = newSubject();
    const token = await issuer.mint(subject, { name: "Valid Vera", email: "vera@example.com" });
    const user = await usersWith(`Bearer ${token}`, protocol).getCurrentUser({});
    expect(user.displayName).toBe("Valid Vera");
    expect(user.email).toBe("vera@example.com");
  });
});

describe("tokens that are refused", () => {
  it("refuses a malformed Authorization header", async () => {
    await expectRefused("Basic abc", MESSAGES.malformed);
    await expectRefused("Bearer not-a-jwt", MESSAGES.malformed);
    await expectRefused("Bearer", MESSAGES.malformed);
    const valid = await issuer.mint(newSubject());
    await expectRefused(valid, MESSAGES.malformed); // the scheme is missing
  });

  it("refuses three base64url parts that are no JWT", async () => {
    await expectRefused("Bearer abc.def.ghi", MESSAGES.notJwt);
  });

  it("refuses a token that expired beyond the clock tolerance", async () => {
    const token = await issuer.mint(newSubject(), { expiresIn: -120 });
    await expectRefused(`Bearer ${token}`, MESSAGES.expired);
  });

  it("refuses a token that is not valid yet", async () => {
    const token = await issuer.mint(newSubject(), { notBefore: 120 });
    await expectRefused(`Bearer ${token}`, MESSAGES.claim("nbf"));
  });

  it("refuses a token of another issuer", async () => {
    const token = await issuer.mint(newSubject(), { issuer: "https://evil.example.com" });
    await expectRefused(`Bearer ${token}`, MESSAGES.claim("iss"));
  });

  it("refuses a token for another audience", async () => {
    const token = await issuer.mint(newSubject(), { audience: "another-api" });
    await expectRefused(`Bearer ${token}`, MESSAGES.claim("aud"));
  });

  it("refuses a token signed with a foreign key under a published kid", async () => {
    const token = await issuer.mint(newSubject(), { foreignKey: true });
    await expectRefused(`Bearer ${token}`, MESSAGES.signature);
  });

  it("refuses a token with a tampered payload", async () => {
    const [header, , signature] = (await issuer.mint(newSubject())).split(".");
    const forged = `${header}.${b64url(validClaims("someone-else"))}.${signature}`;
    await expectRefused(`Bearer ${forged}`, MESSAGES.signature);
  });

  it("refuses an unsigned token (alg: none)", async () => {
    const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(validClaims(newSubject()))}.`;
    await expectRefused(`Bearer ${unsigned}`, MESSAGES.algorithm);
  });

  it("refuses HS256 signed with the issuer's public key as the secret (algorithm confusion)", async () => {
    const jwks = (await (await fetch(`${issuer.url}/jwks`)).json()) as {
      keys: Array<{ kid: string; n: string }>;
    };
    const [published] = jwks.keys;
    if (!published) throw new Error("the issuer publishes no key");
    for (const secret of [
      new TextEncoder().encode(published.n),
      new Uint8Array(Buffer.from(published.n, "base64url")),
    ]) {
      const token = await new SignJWT(validClaims(newSubject()))
        .setProtectedHeader({ alg: "HS256", kid: published.kid, typ: "JWT" })
        .sign(secret);
      await expectRefused(`Bearer ${token}`, MESSAGES.algorithm);
    }
  });

  it("never accepts HMAC or none, even when configured to", async () => {
    // The server's own configuration only lists RS256; this is the filter
    // that protects a misconfigured deployment.
    const secret = new TextEncoder().encode("a-shared-secret-of-at-least-32-bytes!!");
    const authenticator = createJwtAuthenticator({
      issuer: issuer.url,
      audience: issuer.audience,
      keys: async () => secret,
      algorithms: ["HS256", "none", "RS256"],
      clockToleranceSeconds: 5,
    });
    const token = await new SignJWT(validClaims("mallory"))
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(secret);
    await expect(authenticator.verify(`Bearer ${token}`)).rejects.toMatchObject({
      message: MESSAGES.algorithm,
      bearerError: "invalid_token",
    });
  });

  it("refuses a token without a subject, or with an empty one", async () => {
    const without = await issuer.mint("ignored", { omitSubject: true });
    await expectRefused(`Bearer ${without}`, MESSAGES.claim("sub"));
    const empty = await issuer.mint("");
    await expectRefused(`Bearer ${empty}`, MESSAGES.noSubject);
  });

  it('refuses a subject that is not a string: 12345 and "12345" are not one user', async () => {
    // Lone surrogates would all become U+FFFD in the database: one user for many subjects.
    for (const sub of [
      12345,
      ["alice"],
      { id: "alice" },
      true,
      "a\u0000b",
      "\ud800",
      "x\udfff",
      " ",
      "a\u202eb",
    ]) {
      const token = await issuer.mint("ignored", { omitSubject: true, extraClaims: { sub: sub as string } });
      await expectRefused(`Bearer ${token}`, MESSAGES.noSubject);
    }
    const numeric = await issuer.mint("12345");
    expect((await usersWith(`Bearer ${numeric}`).getCurrentUser({})).name).toMatch(/^users\//);
  });

  it("refuses a token issued in the future beyond the clock tolerance (iat ten years ahead)", async () => {
    const token = await issuer.mint(newSubject(), { issuedAt: 10 * 365 * 86_400 });
    await expectRefused(`Bearer ${token}`, MESSAGES.claim("iat"));
  });

  it("refuses a token that never expires (exp 1e400 is Infinity)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = `{"iss":${JSON.stringify(issuer.url)},"aud":${JSON.stringify(issuer.audience)},"sub":"${newSubject()}","iat":${now},"exp":1e400}`;
    await expectRefused(`Bearer ${await issuer.mintRaw(payload)}`, MESSAGES.claim("exp"));
  });

  it("ignores profile claims that are not storable text, instead of refusing every call", async () => {
    const subject = newSubject();
    const token = await issuer.mint(subject, { email: "carol@example.com\u0000", name: "Ca\u0000rol" });
    const user = await usersWith(`Bearer ${token}`).getCurrentUser({});
    expect(user.email).toBe("");
    expect(user.displayName).toBe("");
  });

  it("accepts a token that expired within the 5 s clock tolerance", async () => {
    const subject = newSubject();
    const token = await issuer.mint(subject, { expiresIn: -2, name: "Late Larry" });
    const user = await usersWith(`Bearer ${token}`).getCurrentUser({});
    expect(user.displayName).toBe("Late Larry");
  });
});

describe("Connect over HTTP/1.1, raw", () => {
  const getCurrentUser = (headers: Record<string, string>) =>
    fetch(`${server.baseUrl}/tracker.v1.UserService/GetCurrentUser`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: "{}",
    });

  it("answers 401 with WWW-Authenticate: invalid_request without a token, invalid_token for an expired one", async () => {
    const anonymous = await getCurrentUser({});
    expect(anonymous.status).toBe(401);
    const challenge = anonymous.headers.get("www-authenticate") ?? "";
    expect(challenge.startsWith('Bearer realm="tracker"')).toBe(true);
    expect(challenge).toContain('error="invalid_request"');
    expect(await anonymous.json()).toMatchObject({ code: "unauthenticated", message: MESSAGES.missing });

    const expired = await getCurrentUser({
      authorization: `Bearer ${await issuer.mint(newSubject(), { expiresIn: -120 })}`,
    });
    expect(expired.status).toBe(401);
    const expiredChallenge = expired.headers.get("www-authenticate") ?? "";
    expect(expiredChallenge.startsWith('Bearer realm="tracker"')).toBe(true);
    expect(expiredChallenge).toContain('error="invalid_token"');
    expect(await expired.json()).toMatchObject({ code: "unauthenticated", message: MESSAGES.expired });
  });

  it("authenticates before reading the body: 5 MiB of garbage without a token is 401", async () => {
    const response = await fetch(`${server.baseUrl}/tracker.v1.ProjectService/CreateProject`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: Buffer.alloc(5 * 1024 * 1024, "{"),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: "unauthenticated", message: MESSAGES.missing });
    // The same garbage with a token reaches the handler and is refused for its size.
    const authorized = await fetch(`${server.baseUrl}/tracker.v1.ProjectService/CreateProject`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await issuer.mint(newSubject())}`,
      },
      body: Buffer.alloc(5 * 1024 * 1024, "{"),
    });
    expect(authorized.status).toBe(429);
    expect(await authorized.json()).toMatchObject({ code: "resource_exhausted" });
  });
});

describe("public services", () => {
  it("answers grpc.health.v1.Health/Check without a token", async () => {
    const response = await fetch(`${server.baseUrl}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "SERVING" });
  });

  it.runIf(existsSync(".tools/bin/grpcurl"))(
    "lists services by reflection to grpcurl without a token",
    async () => {
      const { stdout } = await promisify(execFile)(
        ".tools/bin/grpcurl",
        ["-plaintext", `127.0.0.1:${server.port}`, "list"],
        { timeout: 20_000 },
      );
      expect(stdout.trim().split("\n").sort()).toEqual([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "tracker.v1.AuditService",
        "tracker.v1.CommentService",
        "tracker.v1.IssueRelationService",
        "tracker.v1.IssueService",
        "tracker.v1.LabelService",
        "tracker.v1.MemberService",
        "tracker.v1.ProjectService",
        "tracker.v1.UserService",
      ]);
    },
  );
});

describe("the user behind a token", () => {
  it("is created from the token's claims and refreshed when they change", async () => {
    const subject = newSubject();
    const first = await usersWith(
      `Bearer ${await issuer.mint(subject, { name: "Ada", email: "ada@example.com" })}`,
    ).getCurrentUser({});
    expect(first.displayName).toBe("Ada");
    expect(first.email).toBe("ada@example.com");

    const renamed = await usersWith(
      `Bearer ${await issuer.mint(subject, { name: "Ada Lovelace", email: "ada@example.com" })}`,
    ).getCurrentUser({});
    expect(renamed.uid).toBe(first.uid);
    expect(renamed.displayName).toBe("Ada Lovelace");
    expect(renamed.email).toBe("ada@example.com");
    expect(renamed.createTime).toEqual(first.createTime);

    // A token without the claims keeps what is known.
    const bare = await usersWith(`Bearer ${await issuer.mint(subject)}`).getCurrentUser({});
    expect(bare.uid).toBe(first.uid);
    expect(bare.displayName).toBe("Ada Lovelace");
    expect(bare.email).toBe("ada@example.com");
  });
});

// Last in the file: after it, the issuer signs with the new key.
describe("key rotation", () => {
  it("accepts tokens of a new key once the JWKS may be refetched, and the old key still", async () => {
    const oldToken = await issuer.mint(newSubject());
    // The server has fetched the JWKS (earlier tests, and this call).
    await usersWith(`Bearer ${oldToken}`).getCurrentUser({});
    await issuer.rotate();
    const subject = newSubject();
    // Within 30 s of a fetch an unknown kid causes no refetch (no JWKS storm
    // from tokens with made-up kids)...
    await expectRefused(`Bearer ${await issuer.mint(subject)}`, MESSAGES.unknownKey);
    // ...after that, the first token naming it makes the server refetch.
    vi.setSystemTime(Date.now() + 31_000);
    try {
      const user = await usersWith(
        `Bearer ${await issuer.mint(subject, { name: "Rotated Rita" })}`,
      ).getCurrentUser({});
      expect(user.displayName).toBe("Rotated Rita");
      expect(await usersWith(`Bearer ${oldToken}`).getCurrentUser({})).toBeDefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
