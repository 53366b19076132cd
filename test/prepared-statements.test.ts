import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDatabase, type DatabaseHandle } from "../src/db/database.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

// Statements are prepared once per connection (src/db/database.ts): these
// tests look at what PostgreSQL itself holds for the session.

let database: TestDatabase;
let handle: DatabaseHandle;
beforeAll(async () => {
  database = await createTestDatabase();
  // One connection, so every query below shares the session.
  handle = connectDatabase(database.url, { poolMax: 1 });
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

const preparedStatements = async () =>
  (
    await sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements`.execute(handle.db)
  ).rows.map((row) => row.statement);

describe("prepared statements", () => {
  it("prepares a parameterised statement once and reuses it", async () => {
    const lookup = (key: string) =>
      handle.db.selectFrom("projects").select("uid").where("key", "=", key).execute();
    await lookup("A");
    await lookup("B");
    const text = handle.db.selectFrom("projects").select("uid").where("key", "=", "A").compile().sql;
    expect((await preparedStatements()).filter((statement) => statement === text)).toHaveLength(1);
  });

  it("runs statements without parameters unnamed", async () => {
    await sql`SELECT 42 AS answer`.execute(handle.db);
    expect(await preparedStatements()).not.toContain("SELECT 42 AS answer");
  });

  it("stops preparing new statements past its bound, and they still run", async () => {
    for (let n = 1; n <= 300; n++) {
      const keys = Array.from({ length: n }, (_, i) => `K${i}`);
      await handle.db.selectFrom("projects").select("uid").where("key", "in", keys).execute();
    }
    const prepared = await preparedStatements();
    expect(prepared.length).toBeLessThanOrEqual(256);
    expect(prepared.length).toBeGreaterThan(200);
  });
});

describe("behind a transaction pooler", () => {
  it("prepares nothing: the next transaction may run on another server connection", async () => {
    const pooled = connectDatabase(database.url, { poolMax: 1, pooler: "transaction" });
    try {
      await pooled.db.selectFrom("projects").select("uid").where("key", "=", "P").execute();
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_prepared_statements`.execute(
        pooled.db,
      );
      expect(Number(rows[0]?.n)).toBe(0);
    } finally {
      await pooled.close();
    }
  });
});
