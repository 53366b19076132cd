// Writes the versioned migration that brings migrations/ up to schema.hcl,
// planned in a throwaway embedded PostgreSQL (no database to set up):
//
//   npm run migrate:diff -- <name>
//
// Review the SQL it writes, then `npm run codegen` for the new table types.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atlasBinary } from "../src/db/atlas.js";
import { startEmbeddedPostgres } from "../src/db/embedded-postgres.js";

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: npm run migrate:diff -- <name in snake_case>");
  process.exit(2);
}
const dataDir = mkdtempSync(join(tmpdir(), "tracker-migrate-diff-"));
const postgres = await startEmbeddedPostgres(dataDir, { persistent: false });
try {
  await postgres.createDatabase("atlas_dev");
  const devUrl = `${postgres.urlFor("atlas_dev")}?sslmode=disable&search_path=public`;
  execFileSync(
    atlasBinary(),
    ["migrate", "diff", name, "--dir", "file://migrations", "--to", "file://schema.hcl", "--dev-url", devUrl],
    { stdio: "inherit" },
  );
} finally {
  await postgres.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
