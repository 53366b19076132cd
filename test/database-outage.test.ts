import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectDatabase, type DatabaseHandle } from "../src/db/database.js";
import { IssueEventBus } from "../src/domain/issue-events/issue-event-bus.js";
import { toConnectError } from "../src/shared/errors.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

// Found by the soak (soak/, RELIABILITY.md): PostgreSQL going away under load
// must cost calls an UNAVAILABLE, never the server process or its watchers.

let testDatabase: TestDatabase;
/** A superuser connection to another database of the server, which may lock this one out. */
let admin: pg.Client;
beforeAll(async () => {
  testDatabase = await createTestDatabase();
  admin = new pg.Client({ connectionString: inject("adminUrl") });
  await admin.connect();
});
afterAll(async () => {
  await admin.end();
  await testDatabase.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const databaseName = () => new URL(testDatabase.url).pathname.slice(1);

describe("a database connection lost", () => {
  let database: DatabaseHandle;
  afterAll(() => database.close());

  it("between two statements of a transaction fails the transaction with UNAVAILABLE, not the process", async () => {
    database = connectDatabase(testDatabase.url, { poolMax: 2 });
    const failure = await database.db
      .transaction()
      .execute(async (tx) => {
        const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(tx);
        await admin.query("SELECT pg_terminate_backend($1)", [rows[0]?.pid]);
        // The termination arrives while no statement runs: an 'error' event on a checked-out client.
        await sleep(300);
        await sql`SELECT 1`.execute(tx);
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeDefined();
    expect(toConnectError(failure).code).toBe(Code.Unavailable);
    // The pool dropped the dead client and serves on.
    expect(await database.isReachable()).toBe(true);
  });
});

/** The test database's URL written as two hosts (the same server twice): the failover client's path. */
const twoHostUrl = () => {
  const url = new URL(testDatabase.url);
  return testDatabase.url.replace(`@${url.host}/`, `@${url.host},${url.host}/`);
};

describe.each([
  ["one host", () => testDatabase.url],
  ["several hosts", twoHostUrl],
])("a database that refuses new connections (%s)", (_hosts, databaseUrl) => {
  it("fails calls with UNAVAILABLE (the server cannot have its database), not INTERNAL", async () => {
    // poolMax 1 and the only connection killed: every query needs a new one.
    const database = connectDatabase(databaseUrl(), { poolMax: 1 });
    try {
      await sql`SELECT 1`.execute(database.db);
      await admin.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS false`);
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [
        databaseName(),
      ]);
      await sleep(300);
      const refused = await sql`SELECT 1`.execute(database.db).then(
        () => undefined,
        (error: unknown) => error,
      );
      // PostgreSQL's own refusal (SQLSTATE 55000), not a broken socket.
      expect((refused as { code?: unknown }).code).toBe("55000");
      const mapped = toConnectError(refused);
      expect(mapped.code).toBe(Code.Unavailable);
      expect(mapped.rawMessage).toBe("the database is unavailable; retry later");
    } finally {
      await admin.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS true`);
      await database.close();
    }
  });

  it("the same SQLSTATE from a statement on an open connection is still a bug (INTERNAL)", async () => {
    const database = connectDatabase(databaseUrl(), { poolMax: 1 });
    try {
      const failed = await sql`DO $$ BEGIN RAISE EXCEPTION 'not now' USING ERRCODE = '55000'; END $$`
        .execute(database.db)
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect((failed as { code?: unknown }).code).toBe("55000");
      expect(toConnectError(failed).code).toBe(Code.Internal);
    } finally {
      await database.close();
    }
  });
});

describe("the issue event bus", () => {
  it("keeps reconnecting while the database refuses it, then wakes watchers again", async () => {
    const bus = new IssueEventBus(testDatabase.url, pino({ level: "silent" }));
    await bus.start();
    try {
      const project = "00000000-0000-4000-8000-000000000001";
      const listener = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
        [databaseName()],
      );
      expect(listener.rows).toHaveLength(1);
      // The database refuses connections for several reconnection attempts (one a second).
      await admin.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS false`);
      await admin.query("SELECT pg_terminate_backend($1)", [listener.rows[0]?.pid]);
      await sleep(2_500);
      await admin.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS true`);
      // Notifications reach listeners of the same database only.
      const notifier = new pg.Client({ connectionString: testDatabase.url });
      await notifier.connect();
      const deadline = Date.now() + 10_000;
      const seen = bus.version(project);
      while (bus.version(project) === seen && Date.now() < deadline) {
        await notifier.query("SELECT pg_notify('tracker_issue_events', $1)", [project]);
        await sleep(200);
      }
      await notifier.end();
      expect(bus.version(project)).not.toBe(seen);
    } finally {
      await admin.query(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS true`);
      await bus.close();
    }
  }, 30_000);
});
