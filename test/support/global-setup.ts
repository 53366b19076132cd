import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { applyMigrations } from "../../src/db/atlas.js";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A database on the test server from which test databases are created. */
    adminUrl: string;
    /** An Atlas-migrated database every test file clones. */
    templateDatabase: string;
    /** Which PostgreSQL the suite runs on, for the log. */
    databaseProvider: string;
  }
}

/**
 * The PostgreSQL the suite runs on, in order of preference: TEST_DATABASE_URL;
 * a testcontainers PostgreSQL when a container runtime answers; else a real
 * PostgreSQL from embedded-postgres in a temporary directory.
 */
async function startPostgres(): Promise<{ adminUrl: string; provider: string; stop: () => Promise<void> }> {
  if (process.env.TEST_DATABASE_URL) {
    return { adminUrl: process.env.TEST_DATABASE_URL, provider: "TEST_DATABASE_URL", stop: async () => {} };
  }
  try {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const container = await new PostgreSqlContainer("postgres:18-alpine").start();
    return {
      adminUrl: container.getConnectionUri(),
      provider: "testcontainers postgres:18-alpine",
      stop: async () => void (await container.stop()),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!/container runtime/i.test(message)) console.warn(`testcontainers unavailable: ${message}`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), "tracker-test-pg-"));
  const embedded = await startEmbeddedPostgres(dataDir, { persistent: false });
  return {
    adminUrl: embedded.adminUrl,
    provider: "embedded-postgres",
    stop: async () => {
      await embedded.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export default async function setup(project: TestProject) {
  const postgres = await startPostgres();
  // Unique per run, so runs sharing one TEST_DATABASE_URL server never collide.
  const templateDatabase = `tracker_template_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${templateDatabase}"`);
  const templateUrl = new URL(postgres.adminUrl);
  templateUrl.pathname = `/${templateDatabase}`;
  await applyMigrations(templateUrl.toString());
  // Template databases must have no open connections while being cloned.
  project.provide("adminUrl", postgres.adminUrl);
  project.provide("templateDatabase", templateDatabase);
  project.provide("databaseProvider", postgres.provider);
  console.log(`tests run on ${postgres.provider}`);

  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS "${templateDatabase}" WITH (FORCE)`).catch(() => {});
    await admin.end();
    await postgres.stop();
  };
}
