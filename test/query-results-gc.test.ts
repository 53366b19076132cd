import v8 from "node:v8";
import vm from "node:vm";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDatabase, type DatabaseHandle } from "../src/db/database.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

// A finished query's rows must be garbage to V8's young-generation collector
// (a scavenge), not only to a full collection: rows that outlive two
// scavenges are copied into the old generation and stay in the process's
// memory until the next full collection. Through pg's own promise API they
// did (src/db/hosts.ts, CallbackQueryClient); this counts the bytes that
// reach the old generation while each query is followed by two scavenges.
// No timing is involved: the collections are forced.
//
// There was a control here: one plain pg.Client through pg's own promise
// API promoted about 4.2 MB of the 5 MB. It did so only while this process
// had not loaded @connectrpc/connect; since src/db loads it (cancellation.ts)
// that control promotes 0.4-1.9 MB, so it was dropped. The pool through
// pg's promise API (CallbackQueryClient's query bypassed) still promoted
// 6.2 MB here in two runs of three: what promotes depends on more than the
// query path, and the case for CallbackQueryClient rests on the bench's
// server-side figures (hosts.ts).

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as (options: { type: "minor" | "major" }) => void;

/** 100 rows of about 500 bytes: 50 KB of strings per query. */
const QUERY = "SELECT repeat('x', 500) || n AS text FROM generate_series(1, 100) n";
const QUERIES = 100;
const ROW_BYTES = QUERIES * 100 * 500;

const oldGenerationBytes = () =>
  v8
    .getHeapSpaceStatistics()
    .filter((space) => space.space_name === "old_space" || space.space_name === "lo_space")
    .reduce((sum, space) => sum + space.space_used_size, 0);

async function bytesPromotedBy(query: () => Promise<{ rows: unknown[] }>): Promise<number> {
  // Only the count is kept: this frame must not hold the last result itself.
  const count = async () => (await query()).rows.length;
  // Warm up first: compiled code and inline caches go to the old generation once.
  for (let i = 0; i < 20; i++) await count();
  gc({ type: "major" });
  const before = oldGenerationBytes();
  let rows = 0;
  for (let i = 0; i < QUERIES; i++) {
    rows += await count();
    gc({ type: "minor" });
    gc({ type: "minor" });
  }
  expect(rows).toBe(QUERIES * 100);
  return oldGenerationBytes() - before;
}

let database: TestDatabase;
let handle: DatabaseHandle;
beforeAll(async () => {
  database = await createTestDatabase();
  handle = connectDatabase(database.url, { poolMax: 1 });
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

describe("query results and the young generation", () => {
  it("the tracker's pool leaves a finished query's rows to the young generation", async () => {
    const promoted = await bytesPromotedBy(() => sql.raw<{ text: string }>(QUERY).execute(handle.db));
    expect(promoted).toBeLessThan(ROW_BYTES / 4);
  });
});
