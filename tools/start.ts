// `npm start`: the development server, doing no work whose inputs did not
// change. The settings are checked before anything is built (a bad PORT
// stops here, in one line), the Atlas CLI is built only when its pins
// changed, the browser app only when what it is built from changed, and then
// src/main.ts runs in this process.
import "../src/node-version.js";
import { spawnSync } from "node:child_process";
import cluster from "node:cluster";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfigOrExit } from "../src/config.js";
import { installTools } from "./install.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** What the web bundle is built from: its sources, the client, the generated code, the dependencies. */
const WEB_INPUTS = ["web", "client", "gen/proto", "package-lock.json"];
const WEB_DIST = join(root, "web", "dist");
/** Under node_modules, so a fresh `npm ci` builds the bundle again. */
const WEB_STAMP = join(root, "node_modules", ".cache", "tracker", "web-build.sha256");

// Cluster workers (WORKERS > 1) run this file again: only the primary prepares.
if (cluster.isPrimary) {
  loadConfigOrExit();
  await installTools(["atlas"]);
  buildWebAppIfChanged();
}
await import("../src/main.js");

function buildWebAppIfChanged() {
  const inputs = hashOf(WEB_INPUTS);
  const built = existsSync(join(WEB_DIST, "index.html")) && existsSync(WEB_STAMP);
  if (built && readFileSync(WEB_STAMP, "utf8") === inputs) return;
  run(["node_modules/vite/bin/vite.js", "build", "--config", "web/vite.config.ts", "--logLevel", "warn"]);
  mkdirSync(dirname(WEB_STAMP), { recursive: true });
  writeFileSync(WEB_STAMP, inputs);
}

/** One hash of every file under `paths` (names and contents), web/dist aside. */
function hashOf(paths: string[]): string {
  const hash = createHash("sha256");
  for (const path of paths) {
    const full = join(root, path);
    const files = statSync(full).isDirectory()
      ? readdirSync(full, { recursive: true, withFileTypes: true })
          .filter((entry) => entry.isFile())
          .map((entry) => join(entry.parentPath, entry.name))
      : [full];
    for (const file of files.filter((file) => !file.startsWith(`${WEB_DIST}/`)).sort()) {
      hash.update(relative(root, file)).update("\0").update(readFileSync(file)).update("\0");
    }
  }
  return hash.digest("hex");
}

/** Runs a Node script of the project; if it fails, so does `npm start` (it said why). */
function run(args: string[]) {
  const { status } = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (status !== 0) process.exit(status ?? 1);
}
