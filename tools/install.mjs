#!/usr/bin/env node
// Builds the pinned Go CLIs (tools/go.mod, tools/atlas/go.mod, gen/go/go.mod)
// into .tools/bin when a binary is missing or its pins changed.
// Usage: node tools/install.mjs atlas grpcurl h2spec task openapi protoc-gen-go protoc-gen-connect-go
//
// The tools of one module build in one `go build` (they share most of their
// dependencies), and the two modules build at the same time. Without Go, a
// binary already on PATH is used instead (see README, "Tools").
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Every npm script that needs a CLI starts here, so this is where an older
// Node (the machine's own, outside npm) says what to do before anything fails.
if (Number(process.versions.node.split(".")[0]) < 24) {
  console.error(
    `tracker needs Node.js 24 or newer, not ${process.version}: run it through npm (npm start, npm test, npm run ...), which uses the Node 24 that npm ci puts in node_modules/.bin, or install Node 24 (nvm install reads .nvmrc).`,
  );
  process.exit(1);
}

const toolsDir = dirname(fileURLToPath(import.meta.url));
const binDir = join(toolsDir, "..", ".tools", "bin");

// Atlas lives in its own module: its 2023 dependency set does not build next
// to the newer one grpcurl and Task need (tools/atlas/README.md).
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
  // The Go client's generators (buf.gen.go.yaml), built from the client's own
  // module, gen/go/go.mod, so each is the exact version of the runtime
  // (google.golang.org/protobuf, connectrpc.com/connect/v2) its code needs.
  "protoc-gen-go": {
    module: join(toolsDir, "..", "gen", "go"),
    pkg: "google.golang.org/protobuf/cmd/protoc-gen-go",
  },
  "protoc-gen-connect-go": {
    module: join(toolsDir, "..", "gen", "go"),
    pkg: "connectrpc.com/connect/v2/cmd/protoc-gen-connect-go",
  },
};

// The Atlas CLI the Go module proxy serves is v0.13.1 (2023), and every
// ariga.io/atlas library that fixes what follows no longer builds with it
// (tools/atlas/README.md). Its PostgreSQL driver reads lc_collate and
// lc_ctype from pg_settings, which PostgreSQL 16 removed; the patch reads them
// from pg_database instead. The pinned ariga.io/atlas source is copied out of
// the module cache, patched, and swapped in with a replace directive in a
// generated copy of tools/atlas/go.mod (`-modfile`), so the checked-in pins
// stay plain.
const ATLAS_PATCH = {
  file: join("sql", "postgres", "inspect.go"),
  from: "paramsQuery = `SELECT setting FROM pg_settings WHERE name IN ('lc_collate', 'lc_ctype', 'server_version_num', 'crdb_version') ORDER BY name DESC`",
  to: "paramsQuery = `SELECT setting FROM (SELECT 'server_version_num' AS name, current_setting('server_version_num') AS setting UNION ALL SELECT 'lc_ctype', datctype FROM pg_database WHERE datname = current_database() UNION ALL SELECT 'lc_collate', datcollate FROM pg_database WHERE datname = current_database()) AS params ORDER BY name DESC`",
};

// As a script; tools/start.ts imports installTools instead (one Node process fewer per start).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await installTools(process.argv.slice(2));
}

/** Builds the named tools that are missing or stale; a failure ends the process, saying why. */
export async function installTools(names) {
  const stale = [];
  for (const name of names) {
    const tool = TOOLS[name];
    if (!tool) {
      console.error(`tools/install: unknown tool "${name}" (known: ${Object.keys(TOOLS).join(", ")})`);
      process.exit(2);
    }
    const binName = tool.bin ?? name;
    const bin = join(binDir, binName);
    const stamp = pinsHash(tool);
    if (existsSync(bin) && readIfExists(`${bin}.stamp`) === stamp) continue;
    stale.push({ name, ...tool, binName, bin, stamp });
  }
  if (stale.length > 0) await build(stale);
}

async function build(tools) {
  if (!hasGo()) {
    const missing = tools.filter((tool) => !onPath(tool.binName));
    for (const { name, binName } of missing) {
      console.error(
        `tools/install: ${name} is missing and Go is not installed. Install Go 1.24+ or ${binName} itself (see README, "Tools").`,
      );
    }
    if (missing.length > 0) process.exit(1);
    return;
  }
  mkdirSync(binDir, { recursive: true });
  const modules = Map.groupBy(tools, (tool) => tool.module);
  const results = await Promise.all(
    [...modules].map(([module, group]) => {
      console.error(
        `tools/install: building ${group.map((tool) => tool.name).join(", ")} (the first build takes a few minutes)...`,
      );
      const env = { ...process.env, GOFLAGS: "-mod=mod", CGO_ENABLED: "0" };
      // A directory for -o: every package's binary lands in it under its own name.
      const args = ["build", "-trimpath", "-o", `${binDir}/`];
      for (const tool of group) if (tool.patch) args.push(...tool.patch(module, env));
      args.push(...group.map((tool) => tool.pkg));
      return new Promise((resolve) => {
        const child = spawn("go", args, { cwd: module, env, stdio: "inherit" });
        child.once("error", () => resolve(1));
        child.once("exit", (code) => {
          if (code === 0) for (const tool of group) writeFileSync(`${tool.bin}.stamp`, tool.stamp);
          resolve(code ?? 1);
        });
      });
    }),
  );
  const failed = results.find((code) => code !== 0);
  if (failed !== undefined) process.exit(failed);
}

/** What a build depends on: the module's pins, and the patch applied to it. */
function pinsHash(tool) {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(tool.module, file)));
  if (tool.patch) hash.update(JSON.stringify(ATLAS_PATCH));
  return hash.digest("hex");
}

function readIfExists(file) {
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}

/** Build flags that swap the patched ariga.io/atlas in for the pinned one. */
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
  const file = join(srcDir, ATLAS_PATCH.file);
  const source = readFileSync(file, "utf8");
  if (!source.includes(ATLAS_PATCH.from))
    throw new Error(`tools/install: the Atlas patch no longer applies to ${file}`);
  writeFileSync(file, source.replace(ATLAS_PATCH.from, ATLAS_PATCH.to));
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
