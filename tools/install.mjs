#!/usr/bin/env node
// Builds the pinned Go CLIs (tools/go.mod, tools/atlas/go.mod) into .tools/bin
// when a binary is missing or its pins changed. Usage: node tools/install.mjs atlas grpcurl h2spec task
//
// Without Go, a binary already on PATH is used instead (see README, "Tools").
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const toolsDir = dirname(fileURLToPath(import.meta.url));
const binDir = join(toolsDir, "..", ".tools", "bin");

// Atlas lives in its own module: its 2023 dependency set does not build next
// to the newer one grpcurl and Task need.
const TOOLS = {
  atlas: { module: join(toolsDir, "atlas"), pkg: "ariga.io/atlas/cmd/atlas", patch: patchAtlas },
  grpcurl: { module: toolsDir, pkg: "github.com/fullstorydev/grpcurl/cmd/grpcurl" },
  task: { module: toolsDir, pkg: "github.com/go-task/task/v3/cmd/task" },
  // The HTTP/2 conformance suite, run against the server by test/h2spec.test.ts.
  h2spec: { module: toolsDir, pkg: "github.com/summerwind/h2spec/cmd/h2spec" },
  // A protoc plugin for buf generate (buf.gen.yaml), so it keeps its own name.
  openapi: {
    module: toolsDir,
    pkg: "github.com/sudorandom/protoc-gen-connect-openapi",
    bin: "protoc-gen-connect-openapi",
  },
};

const names = process.argv.slice(2);
for (const name of names) {
  const tool = TOOLS[name];
  if (!tool) {
    console.error(`tools/install: unknown tool "${name}" (known: ${Object.keys(TOOLS).join(", ")})`);
    process.exit(2);
  }
  install(name, tool);
}

function install(name, tool) {
  const binName = tool.bin ?? name;
  const bin = join(binDir, binName);
  const stampFile = `${bin}.stamp`;
  const stamp = pinsHash(tool.module);
  if (existsSync(bin) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return;
  if (!hasGo()) {
    if (onPath(binName)) return;
    console.error(
      `tools/install: ${name} is missing and Go is not installed. Install Go 1.24+ or ${binName} itself (see README, "Tools").`,
    );
    process.exit(1);
  }
  mkdirSync(binDir, { recursive: true });
  console.error(`tools/install: building ${name} from ${tool.pkg} (first build takes a few minutes)...`);
  const env = { ...process.env, GOFLAGS: "-mod=mod", CGO_ENABLED: "0" };
  const args = ["build", "-trimpath", "-o", bin];
  if (tool.patch) args.push(...tool.patch(tool.module, env));
  args.push(tool.pkg);
  const result = spawnSync("go", args, { cwd: tool.module, env, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(stampFile, stamp);
}

function pinsHash(moduleDir) {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(moduleDir, file)));
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  return hash.digest("hex");
}

// Atlas v0.13.1 is the newest Atlas CLI the Go module proxy serves (later
// ones carry a replace directive that `go install` refuses). It reads
// lc_collate and lc_ctype from pg_settings, which PostgreSQL 16 removed; the
// patch reads them from pg_database instead. The pinned ariga.io/atlas source
// is copied out of the module cache, patched, and swapped in with a replace
// directive in a generated copy of tools/atlas/go.mod (`-modfile`), so the
// checked-in pins stay plain.
function patchAtlas(moduleDir, env) {
  const goMod = readFileSync(join(moduleDir, "go.mod"), "utf8");
  const version = /^\s*ariga\.io\/atlas (\S+)/m.exec(goMod)?.[1];
  if (!version) throw new Error("tools/install: ariga.io/atlas is not pinned in tools/atlas/go.mod");
  const download = JSON.parse(
    execFileSync("go", ["mod", "download", "-json", `ariga.io/atlas@${version}`], {
      cwd: moduleDir,
      env,
      encoding: "utf8",
    }),
  );
  const workDir = join(binDir, "..", "atlas");
  const srcDir = join(workDir, "src");
  rmSync(workDir, { recursive: true, force: true });
  cpSync(download.Dir, srcDir, { recursive: true });
  execFileSync("chmod", ["-R", "u+w", srcDir]);
  const inspect = join(srcDir, "sql", "postgres", "inspect.go");
  const from =
    "paramsQuery = `SELECT setting FROM pg_settings WHERE name IN ('lc_collate', 'lc_ctype', 'server_version_num', 'crdb_version') ORDER BY name DESC`";
  const to =
    "paramsQuery = `SELECT setting FROM (SELECT 'server_version_num' AS name, current_setting('server_version_num') AS setting UNION ALL SELECT 'lc_ctype', datctype FROM pg_database WHERE datname = current_database() UNION ALL SELECT 'lc_collate', datcollate FROM pg_database WHERE datname = current_database()) AS params ORDER BY name DESC`";
  const source = readFileSync(inspect, "utf8");
  if (!source.includes(from))
    throw new Error(`tools/install: the Atlas patch no longer applies to ${inspect}`);
  writeFileSync(inspect, source.replace(from, to));
  const modFile = join(workDir, "go.mod");
  writeFileSync(modFile, `${goMod}\nreplace ariga.io/atlas => ${srcDir}\n`);
  cpSync(join(moduleDir, "go.sum"), join(workDir, "go.sum"));
  return [`-modfile=${modFile}`];
}

function hasGo() {
  return spawnSync("go", ["version"], { stdio: "ignore" }).status === 0;
}

function onPath(name) {
  return spawnSync(name, ["--help"], { stdio: "ignore" }).error === undefined;
}
