import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The folders of src/ in the order their imports may point: each may import
// from the layers before it, never from one after it. CONTRIBUTING.md draws
// the same picture.
const LAYERS: string[][] = [
  ["gen"],
  ["startup-error.ts", "node-version.ts"],
  ["db"],
  ["domain"],
  ["auth"],
  ["shared"],
  ["observability"],
  ["context.ts"],
  ["services"],
  ["server"],
  ["config.ts"],
  ["app.ts"],
  ["main.ts"],
];

const root = resolve(import.meta.dirname, "../..");
const layerOf = (path: string): number => {
  const [top = "", second = ""] = relative(root, path).split("/");
  const name = top === "src" ? second : top;
  return LAYERS.findIndex((layer) => layer.includes(name));
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every relative import of src/, as "from -> to". */
function imports(): Array<{ from: string; to: string }> {
  return sourceFiles(join(root, "src")).flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/^(?:import|export)[^;]*?from "(\.[^"]+)"/gms)].map(
      ([, target]) => ({
        from: file,
        to: resolve(dirname(file), target ?? ""),
      }),
    ),
  );
}

describe("the layers of src/", () => {
  it("puts every file of src/ in a layer", () => {
    const unplaced = sourceFiles(join(root, "src"))
      .filter((file) => layerOf(file) < 0)
      .map((file) => relative(root, file));
    expect(unplaced).toEqual([]);
  });

  it("imports only from the same layer or the layers below", () => {
    const upward = imports()
      .filter(({ from, to }) => layerOf(to) > layerOf(from))
      .map(({ from, to }) => `${relative(root, from)} -> ${relative(root, to)}`);
    expect(upward).toEqual([]);
  });

  it("keeps Connect out of the domain", () => {
    const domain = sourceFiles(join(root, "src/domain")).filter((file) =>
      /from "@connectrpc\//.test(readFileSync(file, "utf8")),
    );
    expect(domain.map((file) => relative(root, file))).toEqual([]);
  });
});
