/**
 * The platform-neutral entries bundle for browsers: nothing reachable from `tracegrad` (src/index.ts) or
 * `tracegrad/testing` (src/testing.ts) may import a Node built-in module. `tracegrad/node` does, and the
 * same check finds its imports (so the check can fail).
 */
import { builtinModules } from "node:module";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "../..");
const nodeBuiltins = new Set(builtinModules);

interface BuiltinImport {
  readonly module: string;
  readonly importer: string;
}

/** Bundles `entry` for browsers; returns the Node built-ins it imports, with the file importing each. */
async function builtinImports(entry: string): Promise<BuiltinImport[]> {
  const found: BuiltinImport[] = [];
  const recordBuiltins: Plugin = {
    name: "record-node-builtins",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, "").split("/")[0]!;
        if (!args.path.startsWith("node:") && !nodeBuiltins.has(bare)) return undefined;
        found.push({ module: args.path, importer: args.importer.replace(`${root}/`, "") });
        return { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "silent",
    plugins: [recordBuiltins],
  });
  expect(result.errors).toEqual([]);
  expect(result.outputFiles[0]!.text.length).toBeGreaterThan(0);
  return found;
}

describe("browser bundle", () => {
  it.each(["src/index.ts", "src/testing.ts"])("%s imports no Node built-in", async (entry) => {
    expect(await builtinImports(entry)).toEqual([]);
  });

  it("finds the Node built-ins of src/node.ts (the check can fail)", async () => {
    const modules = (await builtinImports("src/node.ts")).map((i) => i.module);
    expect(modules).toEqual(
      expect.arrayContaining(["node:fs", "node:fs/promises", "node:zlib", "node:module"]),
    );
  });
});
