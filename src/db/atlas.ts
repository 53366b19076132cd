import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);
// The project root holds schema.hcl and migrations/: two levels up under tsx
// (src/db/), three when compiled (dist/src/db/, /app in the image).
const root = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "schema.hcl"))) return dir;
    if (dirname(dir) === dir) throw new Error(`schema.hcl not found in ${start} or above`);
  }
}

/** The Atlas CLI built by tools/install.mjs, else one on PATH. */
export function atlasBinary(): string {
  const local = join(root, ".tools", "bin", "atlas");
  return existsSync(local) ? local : "atlas";
}

/** Atlas wants the schema named in the URL so it manages exactly `public`. */
function atlasUrl(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("search_path", "public");
  if (!parsed.searchParams.has("sslmode")) parsed.searchParams.set("sslmode", "disable");
  return parsed.toString();
}

async function atlas(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(atlasBinary(), args, { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`atlas ${args[0]} ${args[1]} failed: ${(stderr || stdout || String(error)).trim()}`);
  }
}

/**
 * Declarative apply (development): makes the database match schema.hcl.
 * `devUrl` is an empty scratch database Atlas uses to normalise the schema.
 * The database's comment then records which schema.hcl it matches, so a
 * restart with schema.hcl unchanged skips Atlas (half a second or more, to
 * find nothing to do).
 */
export async function applySchema(url: string, devUrl: string): Promise<void> {
  const schema = readFileSync(join(root, "schema.hcl"));
  const stamp = `made to match schema.hcl sha256:${createHash("sha256").update(schema).digest("hex")} by Atlas`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; comment: string | null }>(
      "SELECT current_database() AS name, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = current_database()",
    );
    const database = rows[0];
    if (database === undefined || database.comment === stamp) return;
    await createSchemaFunctions(client);
    const dev = new pg.Client({ connectionString: devUrl });
    await dev.connect();
    await createSchemaFunctions(dev).finally(() => dev.end());
    await atlas([
      "schema",
      "apply",
      "--url",
      atlasUrl(url),
      "--to",
      "file://schema.hcl",
      "--dev-url",
      atlasUrl(devUrl),
      "--auto-approve",
    ]);
    await client.query(
      `COMMENT ON DATABASE ${client.escapeIdentifier(database.name)} IS ${client.escapeLiteral(stamp)}`,
    );
  } finally {
    await client.end();
  }
}

/**
 * What schema.hcl's indexes need that Atlas 0.13 cannot declare (the
 * migrations create it too): the functions in schema-functions.sql. Both the
 * target and the dev database need them, the dev one to build the schema in.
 */
function createSchemaFunctions(client: pg.Client) {
  return client.query(readFileSync(join(root, "schema-functions.sql"), "utf8"));
}

/** Versioned apply (production, tests): runs the reviewed SQL in migrations/. */
export function applyMigrations(url: string): Promise<string> {
  return atlas(["migrate", "apply", "--url", atlasUrl(url), "--dir", "file://migrations"]);
}
