// Serves the built board (web/dist) from the API server: its files, and
// index.html for `/` and every other page path, so deep links such as
// /projects/CORE/issues/4 work (single-page app fallback). API and
// operations paths are left alone; so is anything not found (404 is the
// caller's job).
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type http from "node:http";
import type http2 from "node:http2";
import { extname, join, resolve, sep } from "node:path";
import { gzipSync } from "node:zlib";
import { writeHead } from "./write-head.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export interface ServeWebAppOptions {
  /** Paths to leave alone besides RPCs and the operations endpoints (exact, or prefixes ending in "/"). */
  reserved?: string[];
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

const COMPRESSIBLE = new Set([
  ".html",
  ".js",
  ".mjs",
  ".css",
  ".json",
  ".map",
  ".svg",
  ".txt",
  ".webmanifest",
]);

/** RPCs: `/<package>.<Service>/<Method>`, e.g. /tracker.v1.IssueService/GetIssue, /grpc.health.v1.Health/Check. */
const RPC_PATH = /^\/[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+\//;
const OPERATIONS = ["/healthz", "/readyz", "/metrics"];

/** Vite puts content-hashed files here: they never change, so caches keep them for good. */
const HASHED_DIR = "/assets/";

const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * The page itself: scripts, styles and API calls only from and to here. The
 * app only ever calls its own origin, so connect-src allows nothing else:
 * fetch, XHR, WebSocket and EventSource cannot send a token, or anything the
 * page read, to another origin.
 */
const PAGE_HEADERS: Record<string, string> = {
  ...SECURITY_HEADERS,
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
};

interface CachedFile {
  mtimeMs: number;
  size: number;
  body: Buffer;
  gzipped: Buffer | undefined;
  etag: string;
}

/**
 * A handler for GET and HEAD requests that answers from `distDir` and returns
 * true, or returns false without touching the response when the request is
 * not for the app: other methods, RPC and operations paths, reserved paths,
 * missing files that look like files (`/nope.png`), and any path when the
 * app is not built.
 */
export function serveWebApp(
  distDir: string,
  options: ServeWebAppOptions = {},
): (req: Request, res: Response) => boolean {
  const root = resolve(distDir);
  const reserved = [...OPERATIONS, ...(options.reserved ?? [])];
  const cache = new Map<string, CachedFile>();

  /** The file's contents, read once and again only when it changes on disk. */
  function load(file: string): CachedFile | undefined {
    let stats: ReturnType<typeof statSync>;
    try {
      stats = statSync(file);
    } catch {
      return undefined;
    }
    if (!stats.isFile()) return undefined;
    const known = cache.get(file);
    if (known && known.mtimeMs === stats.mtimeMs && known.size === stats.size) return known;
    const body = readFileSync(file);
    const gzipped = COMPRESSIBLE.has(extname(file)) && body.length > 1024 ? gzipSync(body) : undefined;
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    const entry = { mtimeMs: stats.mtimeMs, size: stats.size, body, gzipped, etag };
    cache.set(file, entry);
    return entry;
  }

  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const rawPath = (req.url ?? "/").split("?")[0] ?? "/";
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return false;
    }
    if (!path.startsWith("/") || path.includes("\0") || path.includes("\\")) return false;
    if (RPC_PATH.test(path)) return false;
    if (reserved.some((prefix) => (prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix)))
      return false;

    // Never outside distDir: no "..", and the resolved file must be inside it.
    const segments = path.split("/").filter((segment) => segment !== "");
    if (segments.some((segment) => segment === ".." || segment === ".")) return false;
    const candidate = resolve(root, ...segments);
    if (candidate !== root && !candidate.startsWith(root + sep)) return false;

    const asset = segments.length > 0 ? load(candidate) : undefined;
    if (asset) {
      const immutable = path.startsWith(HASHED_DIR);
      const type = CONTENT_TYPES[extname(candidate).toLowerCase()] ?? "application/octet-stream";
      const headers = extname(candidate) === ".html" ? PAGE_HEADERS : SECURITY_HEADERS;
      send(req, res, asset, type, immutable ? "public, max-age=31536000, immutable" : "no-cache", headers);
      return true;
    }
    // Something that looks like a file, or under the hashed assets, is missing: not ours to answer.
    const last = segments[segments.length - 1] ?? "";
    if (path.startsWith(HASHED_DIR) || last.includes(".")) return false;
    const index = load(join(root, "index.html"));
    if (!index) return false;
    send(req, res, index, CONTENT_TYPES[".html"] as string, "no-cache", PAGE_HEADERS);
    return true;
  };
}

function send(
  req: Request,
  res: Response,
  file: CachedFile,
  contentType: string,
  cacheControl: string,
  extra: Record<string, string>,
) {
  const acceptsGzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  const body = file.gzipped && acceptsGzip ? file.gzipped : file.body;
  const headers: Record<string, string> = {
    ...extra,
    "content-type": contentType,
    "cache-control": cacheControl,
    etag: file.etag,
  };
  if (file.gzipped) headers.vary = "Accept-Encoding, Origin";
  const match = req.headers["if-none-match"];
  if (
    typeof match === "string" &&
    match.split(/\s*,\s*/).some((tag) => tag === file.etag || tag === `W/${file.etag}`)
  ) {
    writeHead(res, 304, headers);
    res.end();
    return;
  }
  if (body === file.gzipped) headers["content-encoding"] = "gzip";
  headers["content-length"] = String(body.length);
  writeHead(res, 200, headers);
  if (req.method === "HEAD") res.end();
  else res.end(body);
}
