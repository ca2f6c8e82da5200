/**
 * The README quickstart (docs/examples/quickstart.ts) under Deno and Bun, where they are installed: each
 * runs the TypeScript source directly and must print what Node computes. Neither is a dependency of the
 * project (their binaries are about 100 MB each on npm); a runtime not on PATH is skipped, with the
 * reason printed.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "../../docs/examples/quickstart.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const quickstart = join("docs", "examples", "quickstart.ts");

function onPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The examples import the package by name; Bun maps it to the source by tsconfig.json's paths as tsx
 * does, Deno by an import map (without one it would take package.json's exports, the built dist/).
 */
function denoImportMap(): string {
  const file = join(mkdtempSync(join(tmpdir(), "tracegrad-deno-")), "import-map.json");
  const src = pathToFileURL(join(root, "src")).href;
  writeFileSync(file, JSON.stringify({ imports: { tracegrad: `${src}/index.ts`, "tracegrad/": `${src}/` } }));
  return file;
}

const runtimes = [
  {
    name: "deno",
    args: () => ["run", "--allow-read", "--allow-env", `--import-map=${denoImportMap()}`, quickstart],
  },
  { name: "bun", args: () => [quickstart] },
] as const;

describe("the README quickstart on other runtimes", () => {
  const { before, after } = main();

  for (const { name, args } of runtimes) {
    const binary = onPath(name);
    if (!binary) console.warn(`test/examples/runtimes.test.ts: ${name} skipped: no ${name} on PATH`);
    it.skipIf(!binary)(`${name} prints the losses and the per-example gradient shape Node computes`, () => {
      const output = execFileSync(binary!, args(), {
        cwd: root,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, NO_COLOR: "1" },
      });
      const lines = output.trim().split("\n");
      expect(lines[0]).toBe(`${before} -> ${after}`);
      expect(lines[1]).toBe("[ 2, 3, 1 ]");
    });
  }
});
