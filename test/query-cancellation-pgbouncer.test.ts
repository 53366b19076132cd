import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { callInProgress } from "../src/db/cancellation.js";
import { newClient } from "../src/db/hosts.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { PGBOUNCER, type PgBouncer, startPgBouncer } from "./support/pgbouncer.js";

// The cancellation of an abandoned call's statement (db/cancellation.ts)
// through the real PgBouncer, in transaction mode with one server
// connection. Skipped where pgbouncer is not installed (.ci/run installs it).

let database: TestDatabase;
let bouncer: PgBouncer;
beforeAll(async () => {
  if (!PGBOUNCER) return;
  database = await createTestDatabase();
  bouncer = await startPgBouncer(inject("adminUrl"), { mode: "transaction", poolSize: 1 });
});
afterAll(async () => {
  await bouncer?.stop();
  await database?.drop();
});

const through = () => bouncer.urlFor(new URL(database.url).pathname.slice(1));

/** Runs `query` on `client` as part of a call, which `abortAfterMs` later its client leaves. */
async function abandonedAfter(client: pg.Client, abortAfterMs: number, query: string) {
  const leaving = new AbortController();
  const call = { signal: leaving.signal, shutdown: new AbortController().signal, settled: false };
  const started = Date.now();
  const answer = callInProgress
    .run(call, () => client.query(query))
    .then(
      () => "answered",
      (error: unknown) => (error instanceof ConnectError ? Code[error.code] : String(error)),
    );
  setTimeout(() => leaving.abort(), abortAfterMs);
  return { answer: await answer, tookMs: Date.now() - started };
}

describe.skipIf(!PGBOUNCER)("an abandoned call behind PgBouncer (transaction mode)", () => {
  it("has its statement cancelled, and PgBouncer stays up", async () => {
    const client = newClient(through());
    await client.connect();
    try {
      const { answer, tookMs } = await abandonedAfter(client, 300, "SELECT pg_sleep(30)");
      expect(answer).toBe("Canceled");
      expect(tookMs).toBeLessThan(20_000);
      expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
    expect(bouncer.log()).not.toMatch(/FATAL/);
  });

  it("has it cancelled when it started only after the call left, waiting for a server connection", async () => {
    // The one server connection is busy with another client's transaction for a while.
    const holder = new pg.Client({ connectionString: through() });
    const waiter = newClient(through());
    await Promise.all([holder.connect(), waiter.connect()]);
    try {
      const held = holder.query("SELECT pg_sleep(1.5)");
      // PgBouncer drops the first cancel (its client has no server yet); the next one lands.
      const { answer, tookMs } = await abandonedAfter(waiter, 300, "SELECT pg_sleep(30)");
      await held;
      expect(answer).toBe("Canceled");
      expect(tookMs).toBeLessThan(20_000);
      expect((await waiter.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await Promise.all([holder.end(), waiter.end()]);
    }
    expect(bouncer.log()).not.toMatch(/FATAL/);
  });
});
