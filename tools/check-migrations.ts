// Fails when migrations/ does not match schema.hcl (someone edited the schema
// without `task migrate:diff`), or when atlas.sum does not match the files.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atlasBinary } from "../src/db/atlas.js";
import { startEmbeddedPostgres } from "../src/db/embedded-postgres.js";

const dataDir = mkdtempSync(join(tmpdir(), "tracker-migrations-"));
const postgres = await startEmbeddedPostgres(dataDir, { persistent: false });
let failed = false;
try {
  await postgres.createDatabase("atlas_dev");
  const devUrl = `${postgres.urlFor("atlas_dev")}?sslmode=disable&search_path=public`;
  const atlas = (...args: string[]) => execFileSync(atlasBinary(), args, { encoding: "utf8" });
  atlas("migrate", "validate", "--dir", "file://migrations", "--dev-url", devUrl);
  const diff = atlas(
    "migrate",
    "diff",
    "--dir",
    "file://migrations",
    "--to",
    "file://schema.hcl",
    "--dev-url",
    devUrl,
  );
  const untracked = execFileSync("git", ["status", "--porcelain", "--", "migrations"], { encoding: "utf8" });
  if (untracked.trim() !== "" || !/synced/i.test(diff)) {
    console.error(
      `migrations/ does not match schema.hcl; run \`task migrate:diff -- <name>\` and commit:\n${untracked}${diff}`,
    );
    failed = true;
  } else {
    console.log("migrations/ matches schema.hcl");
  }
} finally {
  await postgres.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
