import { defineConfig } from "tsup";

// Each entry is a subpath of the package: "tracegrad" is src/index.ts, "tracegrad/X" is src/X.ts.
// `npm run build` (scripts/build.mjs) empties dist/ first, runs this, then emits the declarations.
const entry = ["src/index.ts", "src/node.ts", "src/testing.ts"];
// Entries share chunks, so that they share classes (an NdArray of tracegrad/node is one of tracegrad).
const common = { splitting: true, sourcemap: false, dts: false } as const;

export default defineConfig([
  // Node, Deno and Bun: ESM in dist/, CommonJS in dist/cjs/.
  { ...common, entry, format: "esm", platform: "node", target: "node20" },
  {
    ...common,
    entry,
    format: "cjs",
    outDir: "dist/cjs",
    outExtension: () => ({ js: ".js" }),
    platform: "node",
    target: "node20",
    // import.meta.url in CommonJS (tracegrad/node resolves the optional `mnist` package by it).
    shims: true,
  },
  // Browsers (the "browser" condition): the platform-neutral entries as ESM.
  {
    ...common,
    entry: ["src/index.ts", "src/testing.ts"],
    format: "esm",
    outDir: "dist/browser",
    platform: "browser",
    target: "es2022",
  },
]);
