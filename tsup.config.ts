import { defineConfig } from "tsup";

// Each entry is a subpath of the package: "tracegrad" is src/index.ts, "tracegrad/X" is src/X.ts.
// `npm run build` empties dist first (the two builds below run at once, so neither cleans).
export default defineConfig([
  {
    // For Node (and Deno, Bun): ESM and CommonJS, sharing chunks so that every entry uses the same
    // classes (an NdArray from tracegrad/node is an NdArray of tracegrad).
    entry: ["src/index.ts", "src/node.ts", "src/testing.ts"],
    format: ["esm", "cjs"],
    platform: "node",
    target: "node20",
    splitting: true,
    // import.meta.url in the CommonJS build (tracegrad/node resolves the optional `mnist` package by it).
    shims: true,
    dts: true,
    sourcemap: false,
  },
  {
    // For browsers (the package's "browser" condition): the platform-neutral entries as ESM.
    entry: ["src/index.ts", "src/testing.ts"],
    outDir: "dist/browser",
    format: ["esm"],
    platform: "browser",
    target: "es2022",
    splitting: true,
    dts: false,
    sourcemap: false,
  },
]);
