import { chmodSync, mkdtempSync, rmSync } from "node:fs";
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
});
