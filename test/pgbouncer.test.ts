import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { applyMigrations } from "../src/db/atlas.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { addMember, clientsFor, createProject } from "./support/fixtures.js";
import { PGBOUNCER, type PgBouncer, startPgBouncer } from "./support/pgbouncer.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";
import { readWatchIssues } from "./support/watch-stream.js";

// tracker behind the real PgBouncer (Debian's), in both pool modes, as
// DEPLOYMENT.md ("Behind PgBouncer") tells operators to run it. Skipped where
// pgbouncer is not installed (.ci/run installs it).

/** Short, so a statement that outlives it is quick to see cancelled. */
const STATEMENT_TIMEOUT_MS = 1_000;

const databaseName = (url: string) => new URL(url).pathname.slice(1);

/**
 * 400 calls, 40 at a time: issues created, updated, read and listed, and
 * comments written and listed. Resolves to the codes of those that failed.
 */
async function mixedCalls(server: TestServer, parent: string): Promise<string[]> {
  const { issues } = clientsFor(server);
  const comments = createClient(CommentService, transportFor("Connect binary over HTTP/2", server.baseUrl));
  const failures: string[] = [];
  const oneIssue = async (n: number) => {
    const issue = await issues.createIssue({ parent, issue: { title: `mixed ${n}` } });
    const updated = await issues.updateIssue({
      issue: { name: issue.name, title: `mixed ${n}, edited`, etag: issue.etag },
      updateMask: { paths: ["title"] },
    });
    expect((await issues.getIssue({ name: issue.name })).etag).toBe(updated.etag);
    await issues.listIssues({ parent, pageSize: 10 });
    await comments.createComment({ parent: issue.name, comment: { body: `on ${n}` } });
    expect((await comments.listComments({ parent: issue.name })).comments).toHaveLength(1);
    await issues.batchGetIssues({ parent, names: [issue.name] });
    await issues.listIssueEvents({ parent: issue.name });
    await issues.getIssue({ name: issue.name });
    await issues.listIssues({ parent, pageSize: 5 });
  };
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        oneIssue(batch * 4 + i).catch((error: unknown) => {
          failures.push(error instanceof ConnectError ? Code[error.code] : String(error));
        }),
      ),
    );
  }
  return failures;
}

/** What every pool mode must hold: the mixed calls, a watch that hears commits at once, the session settings. */
function behavesAsDirect(current: () => { server: TestServer; bouncer: PgBouncer }) {
  it("answers a mix of 400 calls without one failure", async () => {
    const { server } = current();
    const parent = await createProject(server);
    expect(await mixedCalls(server, parent)).toEqual([]);
  });

  it("delivers a commit to a WatchIssues stream at once, not at the next heartbeat", async () => {
    const { server } = current();
    const parent = await createProject(server);
    await addMember(server, parent, "watcher", "reader");
    const { issues } = clientsFor(server);
    await issues.createIssue({ parent, issue: { title: "before" } });
    const stream = readWatchIssues(clientsFor(server, "watcher").issues, parent);
    try {
      await stream.waitFor(
        () => stream.titles.includes("before"),
        () => "the stream ended",
      );
      for (const title of ["live 1", "live 2", "live 3"]) {
        const started = Date.now();
        await issues.createIssue({ parent, issue: { title } });
        await stream.waitFor(
          () => stream.titles.includes(title),
          () => "the stream ended",
        );
        expect(Date.now() - started).toBeLessThan(1_000);
      }
    } finally {
      await stream.stop();
    }
  });

  it("cancels a statement that outlives STATEMENT_TIMEOUT_MS, in a transaction or alone, on every connection", async () => {
    const { server } = current();
    const sleepy = async (inTransaction: boolean) => {
      const started = Date.now();
      // Not cancelled, it would end after 10 s, without an error.
      const run = (db: typeof server.ctx.db) => sql`SELECT pg_sleep(10)`.execute(db);
      const error = await (inTransaction
        ? server.ctx.db.transaction().execute(run)
        : run(server.ctx.db)
      ).then(
        () => undefined,
        (failure: unknown) => failure as { code?: string },
      );
      expect(error?.code).toBe("57014");
      // Two rounds of three at most, each cancelled after STATEMENT_TIMEOUT_MS.
      expect(Date.now() - started).toBeLessThan(2 * STATEMENT_TIMEOUT_MS + 3_000);
    };
    // More at once than a transaction-mode PgBouncer has server connections (3): each is used.
    await Promise.all([true, false, true, false, true, false].map(sleepy));
  });

  it("reads times in UTC on every connection", async () => {
    const { server } = current();
    const zones = await Promise.all(
      Array.from({ length: 8 }, () =>
        sql<{
          zone: string;
          now: string;
        }>`SELECT current_setting('TimeZone') AS zone, now()::text AS now`.execute(server.ctx.db),
      ),
    );
    for (const { rows } of zones) {
      expect(rows[0]?.zone).toMatch(/^(Etc\/)?UTC$/);
      expect(rows[0]?.now).toMatch(/\+00$/);
    }
  });

  it("left PgBouncer nothing to refuse", () => {
    expect(current().bouncer.log()).not.toMatch(/unsupported startup parameter|prepared statement/i);
  });
}

describe.skipIf(!PGBOUNCER)("behind PgBouncer in session mode", () => {
  let database: TestDatabase;
  let bouncer: PgBouncer;
  let server: TestServer;
  beforeAll(async () => {
    database = await createTestDatabase();
    // Only for Atlas (below): tracker itself sends PgBouncer no startup parameter it refuses.
    bouncer = await startPgBouncer(inject("adminUrl"), {
      mode: "session",
      // A session holds its server connection while it lives: one per connection of tracker's pool, and its LISTEN.
      poolSize: 12,
      extra: "ignore_startup_parameters = extra_float_digits, search_path",
    });
    server = await startTestServer({
      databaseUrl: bouncer.urlFor(databaseName(database.url)),
      settings: { DATABASE_POOLER: "session", STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) },
    });
  });
  afterAll(async () => {
    await server?.close();
    await bouncer?.stop();
    await database?.drop();
  });

  behavesAsDirect(() => ({ server, bouncer }));

  it("runs Atlas's migrations through it too, with extra_float_digits and search_path ignored", async () => {
    await expect(applyMigrations(bouncer.urlFor(databaseName(database.url)))).resolves.toBeDefined();
  });
});

describe.skipIf(!PGBOUNCER)("behind PgBouncer in transaction mode", () => {
  let database: TestDatabase;
  let bouncer: PgBouncer;
  let server: TestServer;
  const settings = () => ({
    DATABASE_POOLER: "transaction",
    DATABASE_DIRECT_URL: database.url,
    STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
  });
  beforeAll(async () => {
    database = await createTestDatabase();
    bouncer = await startPgBouncer(inject("adminUrl"), { mode: "transaction" });
  });
  afterAll(async () => {
    await server?.close();
    await bouncer?.stop();
    await database?.drop();
  });

  it("refuses to start until the role carries the session settings, saying how", async () => {
    const attempt = startTestServer({
      databaseUrl: bouncer.urlFor(databaseName(database.url)),
      settings: settings(),
    });
    await expect(attempt).rejects.toThrow(
      `SET statement_timeout = ${STATEMENT_TIMEOUT_MS}; ALTER ROLE "postgres" IN DATABASE "${databaseName(database.url)}" SET TimeZone = 'UTC'`,
    );
    // What the message tells the operator to do, done.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const role = `ALTER ROLE CURRENT_USER IN DATABASE "${databaseName(database.url)}"`;
      await admin.query(`${role} SET statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
      await admin.query(`${role} SET TimeZone = 'UTC'`);
    } finally {
      await admin.end();
    }
    const console = new pg.Client({ connectionString: bouncer.adminUrl });
    await console.connect();
    await console.query("RECONNECT");
    await console.end();
    server = await startTestServer({
      databaseUrl: bouncer.urlFor(databaseName(database.url)),
      settings: settings(),
    });
  });

  behavesAsDirect(() => ({ server, bouncer }));

  it("listens on the direct connection, and prepares no statements", async () => {
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    try {
      const { rows } = await direct.query<{ port: number | null }>(
        "SELECT client_port AS port FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
        [databaseName(database.url)],
      );
      expect(rows).toHaveLength(1);
    } finally {
      await direct.end();
    }
    const prepared = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_prepared_statements`.execute(
      server.ctx.db,
    );
    expect(Number(prepared.rows[0]?.n)).toBe(0);
  });
});

describe.skipIf(!PGBOUNCER)("a pooler that refuses tracker's connections", () => {
  it("answers UNAVAILABLE and logs why", async () => {
    const database = await createTestDatabase();
    const bouncer = await startPgBouncer(inject("adminUrl"), { mode: "session" });
    const lines: string[] = [];
    const server = await startTestServer({
      // A user PgBouncer does not know: it refuses every connection of the pool.
      databaseUrl: bouncer.urlFor(databaseName(database.url), "stranger"),
      settings: { DATABASE_POOLER: "session", DATABASE_DIRECT_URL: database.url },
      logger: pino({ level: "warn" }, { write: (line: string) => void lines.push(line) }),
    });
    try {
      const failure = await clientsFor(server)
        .projects.listProjects({})
        .then(
          () => undefined,
          (error: unknown) => ConnectError.from(error),
        );
      expect(failure?.code).toBe(Code.Unavailable);
      const logged = lines.map((line) => JSON.parse(line) as { msg: string; err?: { message: string } });
      expect(logged).toContainEqual(
        expect.objectContaining({
          msg: "database unavailable",
          err: expect.objectContaining({ message: '"trust" authentication failed' }),
        }),
      );
    } finally {
      await server.close();
      await bouncer.stop();
      await database.drop();
    }
  });
});
