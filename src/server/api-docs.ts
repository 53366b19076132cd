import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type http from "node:http";
import type http2 from "node:http2";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { writeHead } from "./write-head.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

// The project root holds schema.hcl: two levels up under tsx (src/server/),
// three when compiled (dist/src/server/, /app in the image).
const root = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "schema.hcl"))) return dir;
    if (dirname(dir) === dir) throw new Error(`schema.hcl not found in ${start} or above`);
  }
}

/** The OpenAPI document buf generate writes (buf.gen.yaml), committed with gen/. */
export const OPENAPI_DOCUMENT_PATH = join(root, "gen", "openapi", "tracker.openapi.yaml");
/** Redoc's self-contained browser bundle (the `redoc` dependency), served at /docs/redoc.standalone.js. */
export const REDOC_BUNDLE_PATH = join(root, "node_modules", "redoc", "bundles", "redoc.standalone.js");

interface Resource {
  contentType: string;
  body: Buffer;
  etag: string;
}

function resource(contentType: string, body: Buffer | string): Resource {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const etag = `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"`;
  return { contentType, body: bytes, etag };
}

const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>tracker API</title>
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="/openapi.yaml"></redoc>
    <script src="/docs/redoc.standalone.js"></script>
  </body>
</html>
`;

// Each read once, when first asked for (parsing the document for
// /openapi.json is a fifth of the server's start otherwise). What cannot be
// read (e.g. in an image built without gen/openapi/) is answered with a 500
// saying so, rather than stopping the API from starting. The `yaml` package
// is needed for /openapi.json only, so without it (`npm ci --omit=dev` while
// it is a devDependency) the rest is still served.
const openapiYaml = once(() =>
  attempt(() => readFileSync(OPENAPI_DOCUMENT_PATH, "utf8"), OPENAPI_DOCUMENT_PATH),
);
const yaml = await import("yaml").catch(() => new Error("the yaml package is not installed"));
const resources: Record<string, () => Resource | Error> = {
  "/openapi.yaml": once(() =>
    map(openapiYaml(), (text) => resource("application/yaml; charset=utf-8", text)),
  ),
  "/openapi.json": once(() =>
    map(yaml instanceof Error ? yaml : openapiYaml(), (text) => {
      // Only called when the yaml package loaded (map passes an Error through).
      const json = JSON.stringify((yaml as typeof import("yaml")).parse(text), null, 2);
      return resource("application/json; charset=utf-8", `${json}\n`);
    }),
  ),
  "/docs": once(() => resource("text/html; charset=utf-8", DOCS_PAGE)),
  "/docs/redoc.standalone.js": once(() =>
    map(
      attempt(() => readFileSync(REDOC_BUNDLE_PATH), REDOC_BUNDLE_PATH),
      (bundle) => resource("text/javascript; charset=utf-8", bundle),
    ),
  ),
};

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

/** What `read` returns, or an Error naming `file` relative to the root (no absolute paths in answers). */
function attempt<T>(read: () => T, file: string): T | Error {
  try {
    return read();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return new Error(`${relative(root, file)}: ${code === "ENOENT" ? "missing" : "unreadable"}`);
  }
}

function map<T>(value: T | Error, to: (value: T) => Resource): Resource | Error {
  if (value instanceof Error) return value;
  try {
    return to(value);
  } catch (error) {
    return new Error(`invalid: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The API's documentation, public like /healthz: GET /openapi.yaml (the
 * OpenAPI 3.1 document generated from proto/), /openapi.json (the same as
 * JSON), /docs (Redoc rendering it) and /docs/redoc.standalone.js (served
 * from node_modules, so /docs needs no CDN). Returns whether it answered.
 */
export function serveApiDocs(req: Request, res: Response): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  let path = (req.url ?? "").split("?")[0] ?? "";
  if (path === "/docs/") path = "/docs";
  const found = resources[path]?.();
  if (found === undefined) return false;
  if (found instanceof Error) {
    writeHead(res, 500, { "content-type": "text/plain; charset=utf-8" });
    res.end(`${path} is unavailable: ${found.message}\n`);
    return true;
  }
  const headers = {
    "content-type": found.contentType,
    etag: found.etag,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
  };
  if (req.headers["if-none-match"] === found.etag) {
    writeHead(res, 304, headers);
    res.end();
    return true;
  }
  writeHead(res, 200, { ...headers, "content-length": String(found.body.length) });
  if (req.method === "HEAD") res.end();
  else res.end(found.body);
  return true;
}
