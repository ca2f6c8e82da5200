/**
 * Builds the demo page into a folder: the page and its Worker bundled by esbuild for the browser, the
 * HTML, and the `mnist` package's digits as two gzipped IDX files (see digits.ts).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { encodeDigits } from "./digits.js";

const here = dirname(fileURLToPath(import.meta.url));

/** The folder `npm run demo` builds into. */
export const DEMO_OUT_DIR = join(here, "..", "..", "out", "demo");

/** Builds the page into `outDir`. */
export async function buildDemo(outDir: string = DEMO_OUT_DIR): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { page: join(here, "page.ts"), worker: join(here, "worker.ts") },
    outdir: outDir,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify: true,
    logLevel: "warning",
  });
  copyFileSync(join(here, "index.html"), join(outDir, "index.html"));
  const mnist = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
  const digits = Array.from({ length: 10 }, (_, d) => {
    const text = readFileSync(join(mnist, "src", "digits", `${d}.json`), "utf8");
    return JSON.parse(text) as { data: number[] };
  });
  const files = encodeDigits(digits);
  writeFileSync(join(outDir, "digits-images.idx.gz"), gzipSync(files.images, { level: 9 }));
  writeFileSync(join(outDir, "digits-labels.idx.gz"), gzipSync(files.labels, { level: 9 }));
}
