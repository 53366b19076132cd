import { pino } from "pino";
import type { AppContext } from "../../src/context.js";
import { connectDatabase, type DatabaseHandle } from "../../src/db/database.js";
import { IssueEventBus } from "../../src/db/issue-event-bus.js";
import { createServer } from "../../src/server.js";
import { createTestDatabase } from "./database.js";

export interface TestServer {
  baseUrl: string;
  port: number;
  ctx: AppContext;
  database: DatabaseHandle;
  /** URL of this server's own database, e.g. for a second server process. */
  databaseUrl: string;
  close(): Promise<void>;
}

/**
 * The real server on a free loopback port, on its own fresh database, or on
 * the database of another test server (`sharedWith`), as a second process
 * of one deployment would be.
 */
export async function startTestServer(sharedWith?: TestServer): Promise<TestServer> {
  const testDatabase = sharedWith
    ? { url: sharedWith.databaseUrl, drop: async () => {} }
    : await createTestDatabase();
  const database = connectDatabase(testDatabase.url, 10);
  const logger = pino({ level: "silent" });
  const issueEvents = new IssueEventBus(testDatabase.url, logger);
  await issueEvents.start();
  const shutdown = new AbortController();
  const ctx: AppContext = { db: database.db, database, logger, issueEvents, shutdown: shutdown.signal };
  const server = createServer(ctx);
  const address = await server.listen(0, "127.0.0.1");
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    port: address.port,
    ctx,
    database,
    databaseUrl: testDatabase.url,
    async close() {
      shutdown.abort();
      await server.close(1_000);
      await issueEvents.close();
      await database.close();
      await testDatabase.drop();
    },
  };
}
