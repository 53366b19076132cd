// Regenerates everything in gen/: the Protobuf messages and Connect service
// descriptors and the OpenAPI document of the API (buf generate, buf.gen.yaml;
// the OpenAPI plugin is built by `node tools/install.mjs openapi`), the Go
// client module gen/go (buf.gen.go.yaml, then `go mod tidy` so its go.mod and
// go.sum follow what the code imports), the contract's descriptors with their
// comments (for the tracker CLI's help), and the Kysely table types,
// introspected from a throwaway embedded PostgreSQL that Atlas migrated with
// migrations/.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations } from "../src/db/atlas.js";
import { startEmbeddedPostgres } from "../src/db/embedded-postgres.js";

const run = (command: string, args: string[], cwd?: string) =>
  execFileSync(command, args, { stdio: "inherit", cwd });

run("npx", ["buf", "generate"]);
// buf's `clean` would take gen/go/go.mod with it, so the Go template has none:
// what a removed .proto left behind goes here.
rmSync("gen/go/tracker", { recursive: true, force: true });
run("npx", ["buf", "generate", "--template", "buf.gen.go.yaml"]);
run("go", ["mod", "tidy"], "gen/go");
// protoc-gen-es embeds descriptors without source info, so the proto comments
// that `tracker --help` shows come from this image of our own files (their
// imports resolve to the generated ones; see cli/contract.ts).
mkdirSync("gen/descriptors", { recursive: true });
run("npx", [
  "buf",
  "build",
  "--as-file-descriptor-set",
  "--exclude-imports",
  "--path",
  "proto/tracker",
  "-o",
  "gen/descriptors/tracker.binpb",
]);

const dataDir = mkdtempSync(join(tmpdir(), "tracker-codegen-"));
const postgres = await startEmbeddedPostgres(dataDir, { persistent: false });
try {
  await postgres.createDatabase("codegen");
  const url = postgres.urlFor("codegen");
  await applyMigrations(url);
  run("npx", [
    "kysely-codegen",
    "--dialect=postgres",
    `--url=${url}`,
    "--out-file=gen/db.ts",
    "--exclude-pattern=*.atlas_schema_revisions",
    '--type-mapping={"timestamptz":"string"}',
    "--log-level=error",
  ]);
} finally {
  await postgres.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
