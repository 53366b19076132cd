import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { compileErrors, validate } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { OPENAPI_DOCUMENT_PATH, serveApiDocs } from "../src/server/api-docs.js";
import { API_FILES } from "../src/server/create-server.js";
import { haveChromium, launchChromium } from "./support/chromium.js";
import { startTestServer, type TestServer } from "./support/server.js";

interface Operation {
  summary?: string;
  description?: string;
  operationId?: string;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, { get?: Operation; post?: Operation }>;
  components: { schemas: Record<string, { description?: string }> };
  tags: Array<{ name: string; description?: string }>;
}

const committed = readFileSync(OPENAPI_DOCUMENT_PATH, "utf8");
const load = () => parse(committed) as OpenApiDocument;

describe("the generated OpenAPI document (gen/openapi/tracker.openapi.yaml)", () => {
  it("is valid OpenAPI 3.1", async () => {
    const document = load();
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(document.info).toMatchObject({ title: "tracker API", version: "v1" });
    // validate() dereferences in place: give it its own copy.
    const result = await validate(parse(committed));
    expect(result.valid, result.valid ? "" : compileErrors(result)).toBe(true);
  });

  it("describes every RPC of the API, and only those", () => {
    const { paths } = load();
    const expected = API_FILES.flatMap((file) =>
      file.services.flatMap((service) => service.methods.map((method) => ({ service, method }))),
    );
    expect(expected.length).toBeGreaterThan(30);
    for (const { service, method } of expected) {
      const path = `/${service.typeName}/${method.name}`;
      expect(paths, path).toHaveProperty([path]);
      const item = paths[path];
      expect(item?.post?.operationId, path).toBe(`${service.typeName}.${method.name}`);
      // Connect GET for read-only unary RPCs, as the server answers them.
      const getAllowed =
        method.methodKind === "unary" &&
        method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
      expect(item?.get !== undefined, `${path} GET`).toBe(getAllowed);
    }
    // Neither grpc.health nor grpc.reflection, nor anything else.
    expect(Object.keys(paths).sort()).toEqual(
      expected.map(({ service, method }) => `/${service.typeName}/${method.name}`).sort(),
    );
  });

  it("carries the proto comments as descriptions", () => {
    const { paths, components, tags } = load();
    const getIssue = paths["/tracker.v1.IssueService/GetIssue"];
    expect(getIssue?.post?.summary).toBe("Gets an issue, also a deleted one (see `delete_time`).");
    expect(getIssue?.post?.description).toBe("Errors: NOT_FOUND.");
    expect(paths["/tracker.v1.IssueService/ListIssues"]?.post?.description).toBe(
      "Lists a project's issues matching a filter, in pages, in a chosen order.\n" +
        ' With `parent: "projects/-"` (AIP-159), lists the issues of every project\n' +
        " the caller is a member of, any role, each named in its own project;\n" +
        " other projects leave no trace (not in items, pages or errors).",
    );
    expect(components.schemas["tracker.v1.Issue"]?.description).toBe(
      "A unit of work in a project, e.g. CORE-42.",
    );
    expect(tags.find((tag) => tag.name === "IssueService")?.description).toMatch(
      /^IssueService files, finds, changes and watches issues\./,
    );
  });
});

/** GET helpers against a base URL. */
function client(baseUrl: () => string) {
  return (path: string, headers: Record<string, string> = {}) => fetch(`${baseUrl()}${path}`, { headers });
}

/** What every server that mounts serveApiDocs must answer. */
function servesTheDocs(get: ReturnType<typeof client>) {
  it("serves the committed document at /openapi.yaml", async () => {
    const response = await get("/openapi.yaml");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/yaml/);
    expect(await response.text()).toBe(committed);
  });

  it("serves the same document as JSON at /openapi.json", async () => {
    const response = await get("/openapi.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual(load());
  });

  it("serves a Redoc page at /docs that loads its bundle and the document from this server", async () => {
    const response = await get("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<script src="/docs/redoc.standalone.js"></script>');
    expect(html).toContain('spec-url="/openapi.yaml"');
    expect(html).not.toMatch(/https?:\/\//);

    const bundle = await get("/docs/redoc.standalone.js");
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(500_000);
  });

  it("answers a revalidation with 304", async () => {
    const first = await get("/openapi.yaml");
    const etag = first.headers.get("etag");
    expect(etag).toBeTruthy();
    const again = await get("/openapi.yaml", { "if-none-match": etag ?? "" });
    expect(again.status).toBe(304);
  });
}

describe("serveApiDocs on a plain HTTP server", () => {
  let server: http.Server;
  let baseUrl = "";
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (serveApiDocs(req, res)) return;
      res.writeHead(404);
      res.end("not ours");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  servesTheDocs(client(() => baseUrl));

  it("leaves other paths and methods to the rest of the server", async () => {
    for (const path of ["/", "/docs/other", "/openapi.yml", "/docsx"]) {
      expect((await fetch(`${baseUrl}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${baseUrl}/openapi.yaml`, { method: "POST", body: "{}" })).status).toBe(404);
  });

  // Chromium renders /docs with no network but this server: the page needs
  // no CDN. Skipped where Debian's Chromium is not installed (.ci/run installs it).
  it.skipIf(!haveChromium)(
    "renders the API in a browser",
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on("pageerror", (error) => errors.push(error.message));
        // Anything but this server (Redoc's logo on its CDN) fails as it would offline.
        await page.route("**/*", (route) =>
          route.request().url().startsWith(baseUrl) ? route.continue() : route.abort(),
        );
        await page.goto(`${baseUrl}/docs`);
        await page
          .getByRole("heading", { name: /Gets an issue, also a deleted one/ })
          .first()
          .waitFor({ timeout: 20_000 });
        const text = (await page.textContent("body")) ?? "";
        expect(text).toContain("tracker API");
        expect(text).toContain("/tracker.v1.IssueService/GetIssue");
        expect(text).toContain("WatchIssues");
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});

// The real server, where src/server/create-server.ts hands GET requests to serveApiDocs
// before authentication (no token here).
describe("the API server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  servesTheDocs(client(() => server.baseUrl));
});
