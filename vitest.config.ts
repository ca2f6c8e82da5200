import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = fileURLToPath(new URL("./src/", import.meta.url));

export default defineConfig({
  // The docs import the package by name, as a user's project would; here that name is the source
  // (tsconfig.json's paths say the same to tsc and tsx).
  resolve: {
    alias: [
      { find: /^tracegrad$/, replacement: `${src}index.ts` },
      { find: /^tracegrad\/(.+)$/, replacement: `${src}$1.ts` },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "laws/**/*.test.ts"],
    setupFiles: ["test/setup/fast-check-seed.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
