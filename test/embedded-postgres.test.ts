import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../src/db/embedded-postgres.js";

// halt() and resume() are how the soak (soak/) stops PostgreSQL under load.

const scratch = mkdtempSync(join(tmpdir(), "tracker-embedded-"));
// As root, the embedded PostgreSQL runs as `postgres`, which must enter this directory.
chmodSync(scratch, 0o711);
let database: EmbeddedDatabase | undefined;
afterAll(async () => {
  await database?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function query(url: string, text: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe("the embedded PostgreSQL", () => {
  it("halts in fast and immediate mode, refuses connections while down, and resumes with its data", async () => {
    database = await startEmbeddedPostgres(join(scratch, "postgres"), { persistent: false });
    const url = database.adminUrl;
    await query(url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)");
    for (const mode of ["immediate", "fast"] as const) {
      await database.halt(mode);
      await expect(query(url, "SELECT 1")).rejects.toThrow();
      await database.resume();
      await query(url, "INSERT INTO kept VALUES (2)");
    }
    expect(await query(url, "SELECT n FROM kept ORDER BY n")).toEqual([{ n: 1 }, { n: 2 }, { n: 2 }]);
    // stop() after a halt does not wait for a process that is gone.
    await database.halt("fast");
    await database.stop();
    database = undefined;
  }, 60_000);

  it("has a random password, kept in its data directory (0600); postgres/postgres is refused", async () => {
    const dataDir = join(scratch, "password");
    const passwordFile = join(dataDir, "tracker-password");
    const legacyUrl = (url: string) => {
      const legacy = new URL(url);
      legacy.password = "postgres";
      return legacy.toString();
    };
    database = await startEmbeddedPostgres(dataDir);
    const first = readFileSync(passwordFile, "utf8");
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(decodeURIComponent(new URL(database.adminUrl).password)).toBe(first);
    await expect(query(legacyUrl(database.adminUrl), "SELECT 1")).rejects.toThrow(
      /password authentication failed/,
    );
    // A data directory from before the password file: the old fixed password, rotated on its next start.
    await query(database.adminUrl, "CREATE TABLE kept (n int); ALTER USER postgres PASSWORD 'postgres'");
    rmSync(passwordFile);
    await database.stop();
    database = await startEmbeddedPostgres(dataDir);
    const rotated = readFileSync(passwordFile, "utf8");
    expect(rotated).not.toBe(first);
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    expect(await query(database.adminUrl, "SELECT count(*)::int AS n FROM kept")).toEqual([{ n: 0 }]);
    await expect(query(legacyUrl(database.adminUrl), "SELECT 1")).rejects.toThrow(
      /password authentication failed/,
    );
    // And a restart keeps the stored one.
    await database.stop();
    database = await startEmbeddedPostgres(dataDir);
    expect(readFileSync(passwordFile, "utf8")).toBe(rotated);
    await query(database.adminUrl, "SELECT 1");
    await database.stop();
    database = undefined;
  }, 90_000);
});
