/**
 * `npm run bench:webgpu`: builds the WebGPU benchmark page (page.ts) for the browser, serves it on
 * 127.0.0.1 and runs it in headless Chromium with WebGPU on (`--enable-unsafe-webgpu`; without a GPU,
 * Chromium's software adapter, SwiftShader), then prints its table. `--serve` only serves it, for a
 * browser on a machine with a GPU. Figures from the software adapter say nothing about real GPUs.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { serveDemo } from "../../docs/demo/serve.js";
import type { BenchRow, PageResult } from "./page.js";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "..", "out", "bench-webgpu");
/** The Chromium to run (the system's, as the demo's test). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Builds the page into `dir`. */
export async function buildWebgpuBench(dir: string = outDir): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: { page: join(here, "page.ts") },
    outdir: dir,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    logLevel: "warning",
  });
  copyFileSync(join(here, "index.html"), join(dir, "index.html"));
}

/** Runs the built page in headless Chromium and returns what it measured. */
export async function runWebgpuBench(dir: string = outDir, query = ""): Promise<PageResult> {
  const server = await serveDemo(dir);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--enable-unsafe-webgpu", "--no-first-run", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}${query}`);
    await page.waitForFunction(() => (window as { webgpuBench?: unknown }).webgpuBench !== undefined, null, {
      timeout: 600_000,
    });
    return await page.evaluate(() => (window as unknown as { webgpuBench: PageResult }).webgpuBench);
  } finally {
    await browser.close();
    await server.close();
  }
}

function table(result: PageResult): string {
  const gflops = (r: BenchRow, ms: number) => (r.flops ? (r.flops / ms / 1e6).toFixed(2) : "");
  const lines = [
    `WebGPU adapter: ${result.adapter}; CPU kernels: ${result.cpuBackend} (the page's thread)`,
    "",
    "| workload | CPU ms | CPU GFLOP/s | WebGPU ms | WebGPU GFLOP/s | WebGPU/CPU time | rel. error |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...result.rows.map(
      (r) =>
        `| ${r.name} | ${r.cpuMs.toFixed(3)} | ${gflops(r, r.cpuMs)} | ${r.webgpuMs.toFixed(3)} | ${gflops(r, r.webgpuMs)} | ` +
        `${(r.webgpuMs / r.cpuMs).toFixed(2)}× | ${r.relativeError.toExponential(1)} |`,
    ),
  ];
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildWebgpuBench();
  if (process.argv.includes("--serve")) {
    const { url } = await serveDemo(outDir, 8081);
    console.log(`WebGPU benchmark page: ${url} (open it in a browser with WebGPU)`);
  } else {
    const result = await runWebgpuBench();
    if (result.error) throw new Error(`WebGPU benchmark page: ${result.error}`);
    const text = table(result);
    console.log(text);
    const outIndex = process.argv.indexOf("--out");
    if (outIndex >= 0) writeFileSync(process.argv[outIndex + 1]!, `${text}\n`);
  }
}
