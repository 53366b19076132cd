import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

const OIDC = { OIDC_ISSUER: "https://id.example.com", OIDC_AUDIENCE: "tracker" };

describe("configuration", () => {
  it("has defaults for everything but the identity provider", () => {
    const config = loadConfig({ ...OIDC });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: "127.0.0.1",
      AUTH_MODE: "oidc",
      DATABASE_URL: undefined,
      RATE_LIMIT_PER_SECOND: 50,
    });
  });

  it("takes WORKERS as a count or auto, and says what it wants otherwise", () => {
    expect(loadConfig({ ...OIDC }).WORKERS).toBe(1);
    expect(loadConfig({ ...OIDC, WORKERS: "3" }).WORKERS).toBe(3);
    expect(loadConfig({ ...OIDC, WORKERS: "auto" }).WORKERS).toBe("auto");
    for (const bad of ["0", "many", "65"]) {
      expect(() => loadConfig({ ...OIDC, WORKERS: bad })).toThrow(
        'WORKERS: a number of processes from 1 to 64, or "auto" for one per core',
      );
    }
  });

  it("takes PORT from 0 to 65535, and says so in one line otherwise", () => {
    expect(loadConfig({ ...OIDC, PORT: "0" }).PORT).toBe(0);
    expect(loadConfig({ ...OIDC, PORT: "65535" }).PORT).toBe(65535);
    for (const bad of ["eighty", "65536", "-1", "80.5", " 80"]) {
      expect(() => loadConfig({ ...OIDC, PORT: bad })).toThrow(
        new Error(
          `invalid configuration: PORT: a port number from 0 to 65535 (0 for any free one), not ${JSON.stringify(bad)}`,
        ),
      );
    }
  });

  it("reads the database from a JSON secret (the AWS Secrets Manager shape)", () => {
    const secret = JSON.stringify({
      host: "db.internal",
      port: 6543,
      dbname: "tracker",
      username: "app",
      password: "p@ss/w:rd",
    });
    const config = loadConfig({ ...OIDC, DATABASE_SECRET: secret });
    const url = new URL(config.DATABASE_URL ?? "");
    expect([url.hostname, url.port, url.pathname, url.username]).toEqual([
      "db.internal",
      "6543",
      "/tracker",
      "app",
    ]);
    expect(decodeURIComponent(url.password)).toBe("p@ss/w:rd");
  });

  it("lists every problem at once, never echoing the secret", () => {
    const attempt = () =>
      loadConfig({
        PORT: "eighty",
        AUTH_MODE: "oidc",
        DATABASE_SECRET: JSON.stringify({ host: "h", username: "u", password: "hunter2" }),
        RATE_LIMIT_BURST: "0",
      });
    expect(attempt).toThrow(/PORT/);
    const message = (() => {
      try {
        attempt();
        return "";
      } catch (error) {
        return String(error);
      }
    })();
    for (const problem of [
      "PORT",
      "RATE_LIMIT_BURST",
      "OIDC_ISSUER",
      "OIDC_AUDIENCE",
      "DATABASE_SECRET.dbname",
    ]) {
      expect(message).toContain(problem);
    }
    expect(message).not.toContain("hunter2");
  });

  it("refuses a secret that is no JSON, or both a secret and a URL", () => {
    expect(() => loadConfig({ ...OIDC, DATABASE_SECRET: "{nope" })).toThrow("DATABASE_SECRET: is not JSON");
    const secret = JSON.stringify({ host: "h", dbname: "d", username: "u", password: "p" });
    expect(() => loadConfig({ ...OIDC, DATABASE_SECRET: secret, DATABASE_URL: "postgres://x/y" })).toThrow(
      "not both",
    );
  });

  it("treats empty variables as unset, and refuses dev authentication in production", () => {
    expect(loadConfig({ ...OIDC, DATABASE_URL: "", PORT: "" }).PORT).toBe(8080);
    expect(() => loadConfig({ AUTH_MODE: "dev", NODE_ENV: "production" })).toThrow(
      "refused when NODE_ENV=production",
    );
    expect(loadConfig({ AUTH_MODE: "dev" }).AUTH_MODE).toBe("dev");
  });

  it("connects directly unless told of a pooler, and wants a direct URL behind a transaction pooler", () => {
    expect(loadConfig({ ...OIDC }).DATABASE_POOLER).toBe("none");
    expect(loadConfig({ ...OIDC }).DATABASE_DIRECT_URL).toBeUndefined();
    expect(loadConfig({ ...OIDC, DATABASE_POOLER: "session" }).DATABASE_POOLER).toBe("session");
    expect(() => loadConfig({ ...OIDC, DATABASE_POOLER: "transaction" })).toThrow(
      "DATABASE_DIRECT_URL: required when DATABASE_POOLER=transaction",
    );
    const pooled = loadConfig({
      ...OIDC,
      DATABASE_POOLER: "transaction",
      DATABASE_URL: "postgres://app@pgbouncer:6432/tracker",
      DATABASE_DIRECT_URL: "postgres://app@db:5432/tracker",
    });
    expect(pooled.DATABASE_DIRECT_URL).toBe("postgres://app@db:5432/tracker");
    expect(() => loadConfig({ ...OIDC, DATABASE_POOLER: "statement" })).toThrow("DATABASE_POOLER");
  });

  it("takes libpq's several-host URLs, and refuses a standby target or a bad host in one", () => {
    for (const url of [
      "postgres://app@db1:5432,db2:5433/tracker?target_session_attrs=read-write",
      "postgres://app@/tracker?host=db1,db2&port=5432,5433&target_session_attrs=primary",
    ]) {
      expect(loadConfig({ ...OIDC, DATABASE_URL: url }).DATABASE_URL).toBe(url);
      expect(loadConfig({ ...OIDC, DATABASE_DIRECT_URL: url }).DATABASE_DIRECT_URL).toBe(url);
    }
    expect(() =>
      loadConfig({ ...OIDC, DATABASE_URL: "postgres://db1,db2/tracker?target_session_attrs=standby" }),
    ).toThrow(
      'DATABASE_URL: target_session_attrs=standby: tracker writes, so it takes "any", "read-write" or "primary"',
    );
    expect(() => loadConfig({ ...OIDC, DATABASE_URL: "postgres://db1,db2:x/tracker" })).toThrow(
      "DATABASE_URL",
    );
    expect(() => loadConfig({ ...OIDC, DATABASE_URL: "http://db/tracker" })).toThrow(
      "DATABASE_URL: Invalid URL",
    );
  });

  it("reads from a replica only when told of one, taking standby targets there and not write targets", () => {
    expect(loadConfig({ ...OIDC }).DATABASE_REPLICA_URL).toBeUndefined();
    for (const url of [
      "postgres://app@replica:5432/tracker",
      "postgres://app@r1:5432,r2:5433/tracker?target_session_attrs=standby",
      "postgres://app@/tracker?host=r1,r2&port=5432&target_session_attrs=prefer-standby",
    ])
      expect(loadConfig({ ...OIDC, DATABASE_REPLICA_URL: url }).DATABASE_REPLICA_URL).toBe(url);
    expect(() =>
      loadConfig({
        ...OIDC,
        DATABASE_REPLICA_URL: "postgres://r1,r2/tracker?target_session_attrs=read-write",
      }),
    ).toThrow("DATABASE_REPLICA_URL: target_session_attrs=read-write: a replica is only read");
    const replicated = { ...OIDC, DATABASE_REPLICA_URL: "postgres://app@replica/tracker" };
    expect(loadConfig(replicated).DATABASE_REPLICA_POOL_MAX).toBeUndefined();
    expect(loadConfig({ ...replicated, DATABASE_REPLICA_POOL_MAX: "40" }).DATABASE_REPLICA_POOL_MAX).toBe(40);
    expect(() => loadConfig({ ...replicated, DATABASE_REPLICA_POOL_MAX: "0" })).toThrow(
      "DATABASE_REPLICA_POOL_MAX",
    );
    expect(() => loadConfig({ ...OIDC, DATABASE_REPLICA_POOL_MAX: "40" })).toThrow(
      "DATABASE_REPLICA_POOL_MAX: has no effect without DATABASE_REPLICA_URL",
    );
  });

  it("bounds every connection unless told otherwise", () => {
    expect(loadConfig({ ...OIDC })).toMatchObject({
      HEADERS_TIMEOUT_MS: 10_000,
      REQUEST_TIMEOUT_MS: 30_000,
      STREAM_IDLE_TIMEOUT_MS: 65_000,
      KEEP_ALIVE_TIMEOUT_MS: 65_000,
      MAX_CONCURRENT_STREAMS: 100,
    });
    expect(loadConfig({ ...OIDC, MAX_CONCURRENT_STREAMS: "250" }).MAX_CONCURRENT_STREAMS).toBe(250);
    expect(() => loadConfig({ ...OIDC, HEADERS_TIMEOUT_MS: "40000" })).toThrow(
      "HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS",
    );
    // Shorter than the watch heartbeat would reset every quiet watch stream.
    expect(() => loadConfig({ ...OIDC, STREAM_IDLE_TIMEOUT_MS: "10000" })).toThrow("heartbeat every 15 s");
    expect(() => loadConfig({ ...OIDC, MAX_CONCURRENT_STREAMS: "0" })).toThrow("MAX_CONCURRENT_STREAMS");
  });
});
