// npm run build: dist/ from scratch. The JS comes from tsup (tsup.config.ts): ESM in dist/, CommonJS in
// dist/cjs/ (a package.json there says so), ESM for browsers in dist/browser/. The declarations come
// from tsc, one .d.ts per source file, next to the ESM build and again in dist/cjs/ for `require` (there
// they are CommonJS declarations). tsc rather than a bundled .d.ts per entry: entries share classes
// (an NdArray of tracegrad/node is one of tracegrad), and bundled per-entry declarations would not.
import { execFileSync } from "node:child_process";
import { cpSync, rmSync, writeFileSync } from "node:fs";

const run = (tool, args = []) => execFileSync(`node_modules/.bin/${tool}`, args, { stdio: "inherit" });
const declarations = "dist/declarations";

rmSync("dist", { recursive: true, force: true });
run("tsup");
run("tsc", ["-p", "tsconfig.build.json", "--outDir", declarations]);
for (const to of ["dist", "dist/cjs"]) cpSync(declarations, to, { recursive: true });
rmSync(declarations, { recursive: true });
writeFileSync("dist/cjs/package.json", `${JSON.stringify({ type: "commonjs" })}\n`);
