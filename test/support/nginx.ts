import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../src/db/embedded-postgres.js";
import { listening } from "./listening.js";

/** Debian's nginx (`apt-get install nginx`), or one on PATH; undefined when neither is there. */
export const NGINX: string | undefined =
  ["/usr/sbin/nginx", "/usr/bin/nginx"].find((path) => existsSync(path)) ??
  (spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" }).stdout.trim() || undefined);

/** The config file operators are told to install (DEPLOYMENT.md, "Behind nginx"). */
export const SHIPPED_CONFIG = join(
  dirname(dirname(dirname(fileURLToPath(import.meta.url)))),
  "deploy/nginx/tracker.conf",
);

export interface Nginx {
  /** The HTTP/1.1 port (Connect, gRPC-Web). */
  httpUrl: string;
  /** The h2c port (gRPC, Connect over HTTP/2). */
  grpcUrl: string;
  /** The access log, in the shipped `tracker` format. */
  accessLog(): string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * The shipped config with only its addresses and ports replaced: each
 * upstream's `server` lines become one per `upstreams` entry (keeping their
 * parameters), the two `listen` ports become free loopback ports, and the
 * log goes to the test's directory.
 */
export function substitute(
  config: string,
  {
    upstreams,
    httpPort,
    grpcPort,
    logPath,
  }: { upstreams: string[]; httpPort: number; grpcPort: number; logPath: string },
): string {
  let replaced = config.replace(
    /(upstream \w+ \{[^}]*?)((?:\n\s*server [^;]+;)+)/g,
    (_, head: string, servers: string) => {
      const [first] = servers.trim().split("\n");
      const params = /server \S+(.*);/.exec(first ?? "")?.[1] ?? "";
      return `${head}${upstreams.map((address) => `\n    server ${address}${params};`).join("")}`;
    },
  );
  replaced = replaced
    .replace(/listen 8080;/, `listen 127.0.0.1:${httpPort};`)
    .replace(/listen 8443 http2;/, `listen 127.0.0.1:${grpcPort} http2;`)
    .replaceAll("/var/log/nginx/tracker.log", logPath);
  for (const expected of [`listen 127.0.0.1:${httpPort};`, `listen 127.0.0.1:${grpcPort} http2;`, logPath])
    if (!replaced.includes(expected))
      throw new Error(`the shipped nginx config changed: no place for ${expected}`);
  return replaced;
}

/**
 * A real nginx of the test's own (master and one worker, as root: nginx's
 * workers drop to nobody), running the shipped config inside a minimal
 * nginx.conf of the kind Debian's includes it from.
 */
export async function startNginx(upstreams: string[]): Promise<Nginx> {
  if (!NGINX) throw new Error("nginx is not installed");
  const dir = mkdtempSync(join(tmpdir(), "tracker-nginx-"));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "logs"));
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const logPath = join(dir, "logs", "tracker.log");
  writeFileSync(
    join(dir, "tracker.conf"),
    substitute(readFileSync(SHIPPED_CONFIG, "utf8"), { upstreams, httpPort, grpcPort, logPath }),
  );
  const temp = (name: string) => `${name}_temp_path ${join(dir, `${name}_temp`)};`;
  writeFileSync(
    join(dir, "nginx.conf"),
    [
      "worker_processes 1;",
      `pid ${join(dir, "nginx.pid")};`,
      `error_log ${join(dir, "logs", "error.log")} notice;`,
      "events { worker_connections 1024; }",
      "http {",
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((name) => `  ${temp(name)}`),
      `  include ${join(dir, "tracker.conf")};`,
      "}",
      "",
    ].join("\n"),
  );
  const child = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      // QUIT: a graceful stop, which writes the log lines of streams still open.
      child.kill("SIGQUIT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of [httpPort, grpcPort]) await listening("nginx", child, "127.0.0.1", port, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    httpUrl: `http://127.0.0.1:${httpPort}`,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    accessLog: () => read(logPath),
    errorLog: () => `${output}${read(join(dir, "logs", "error.log"))}`,
    stop,
  };
}
