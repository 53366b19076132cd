import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { assertReachable, connectDatabase } from "../src/db/database.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../src/db/embedded-postgres.js";
import { newClient, selectHost } from "../src/db/hosts.js";
import { IssueEventBus } from "../src/domain/issue-events/issue-event-bus.js";
import { toConnectError } from "../src/shared/errors.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

// Two hosts without replication: the suite's PostgreSQL (5432) and an embedded
// one, each with a database of the same name. A "standby" is one whose
// database is read-only (default_transaction_read_only), which is what
// target_session_attrs=read-write looks at (SHOW transaction_read_only). One
// URL names both, so a role of the same name and password is on both.

const scratch = mkdtempSync(join(tmpdir(), "tracker-failover-"));
chmodSync(scratch, 0o711);
let testDatabase: TestDatabase;
let embedded: EmbeddedDatabase;
let name: string;
/** Admin URL and port of host A (5432) and host B (embedded). */
let a: { admin: string; port: number };
let b: { admin: string; port: number };
let password: string;

async function run(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}
const onDatabase = (admin: string) => {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
};
const readOnly = (host: { admin: string }, on: boolean) =>
  run(host.admin, `ALTER DATABASE "${name}" SET default_transaction_read_only = ${on ? "on" : "off"}`);
/** Ends the connections to the database on a host, as a demotion or restart would. */
const dropConnections = (host: { admin: string }) =>
  run(
    host.admin,
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
  );
const multiHost = (first: { port: number }, second: { port: number }, attrs = "read-write") =>
  `postgres://${name}:${password}@127.0.0.1:${first.port},127.0.0.1:${second.port}/${name}?target_session_attrs=${attrs}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  name = new URL(testDatabase.url).pathname.slice(1);
  embedded = await startEmbeddedPostgres(join(scratch, "postgres"), { persistent: false });
  await embedded.createDatabase(name);
  password = "failover-test";
  a = { admin: inject("adminUrl"), port: Number(new URL(inject("adminUrl")).port || 5432) };
  b = { admin: embedded.adminUrl, port: Number(new URL(embedded.adminUrl).port) };
  for (const host of [a, b]) {
    await run(host.admin, `CREATE ROLE "${name}" LOGIN PASSWORD '${password}'`);
    await run(onDatabase(host.admin), `CREATE TABLE written (n int); GRANT ALL ON written TO "${name}"`);
  }
}, 60_000);
afterAll(async () => {
  await testDatabase?.drop();
  await run(inject("adminUrl"), `DROP ROLE IF EXISTS "${name}"`);
  await embedded?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const count = async (host: { admin: string }) =>
  Number((await run(onDatabase(host.admin), "SELECT count(*) AS n FROM written"))[0]?.n);

describe("several database hosts (target_session_attrs)", () => {
  it("writes to the read-write host listed second, then follows a promotion on new connections", async () => {
    await readOnly(b, true);
    const database = connectDatabase(multiHost(b, a), { poolMax: 1 });
    try {
      await sql`INSERT INTO written VALUES (1)`.execute(database.db);
      expect([await count(a), await count(b)]).toEqual([1, 0]);
      expect(new URL(await selectHost(multiHost(b, a))).port).toBe(String(a.port));

      // "Promotion": B takes writes, A stops; A's connections end.
      await readOnly(b, false);
      await readOnly(a, true);
      await dropConnections(a);
      await sleep(300);
      await sql`INSERT INTO written VALUES (2)`.execute(database.db);
      expect([await count(a), await count(b)]).toEqual([1, 1]);

      // Neither takes writes: a call fails UNAVAILABLE, as for a database that is down.
      await readOnly(b, true);
      await dropConnections(b);
      await sleep(300);
      const failure = await sql`INSERT INTO written VALUES (3)`
        .execute(database.db)
        .catch((error: unknown) => error);
      expect(toConnectError(failure).code).toBe(Code.Unavailable);
    } finally {
      await database.close();
      await readOnly(a, false);
      await readOnly(b, false);
    }
  }, 60_000);

  it("skips a host that is down, for the pool, LISTEN and the startup check", async () => {
    await embedded.halt("fast");
    try {
      for (const attrs of ["any", "read-write"]) {
        const url = multiHost(b, a, attrs);
        await assertReachable(url, "DATABASE_URL");
        const database = connectDatabase(url, { poolMax: 1 });
        await sql`INSERT INTO written VALUES (4)`.execute(database.db).finally(() => database.close());
        const listener = newClient(url);
        await listener.connect();
        const [row] = (await listener.query("SELECT inet_server_port() AS port")).rows;
        await listener.end();
        expect(row.port).toBe(a.port);
        const bus = new IssueEventBus(url, pino({ level: "silent" }));
        await bus.start();
        await bus.close();
      }
      // None reachable: the startup check names both hosts, never the password.
      const down = `postgres://${name}:${password}@127.0.0.1:${b.port},127.0.0.1:1/${name}`;
      const failure = await assertReachable(down, "DATABASE_URL").catch((error: Error) => error);
      expect(String(failure)).toContain(
        `cannot connect to PostgreSQL at 127.0.0.1:${b.port}, 127.0.0.1:1: connection refused`,
      );
      expect(String(failure)).not.toContain(password);
    } finally {
      await embedded.resume();
    }
  }, 60_000);
});
