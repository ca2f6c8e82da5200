/**
 * Runs a test page in headless Chromium with WebGPU on (`--enable-unsafe-webgpu`; without a GPU that is
 * Chromium's software adapter, SwiftShader): the page's script is bundled for the browser by esbuild,
 * served on 127.0.0.1 (a secure context, cross-origin isolated) and awaited until it sets
 * `window.pageResult`. The system's Chromium, driven by playwright-core; nothing is downloaded.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { serveDemo } from "../../docs/demo/serve.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

export interface PageRun<T> {
  readonly result: T;
  /** What the page logged (console.warn and console.error included), in order. */
  readonly console: string[];
  /** Uncaught errors of the page. */
  readonly errors: string[];
}

/** Bundles `entry` (a .ts file), opens it in Chromium and returns what it put in `window.pageResult`. */
export async function runPage<T>(entry: string, timeoutMs = 240_000): Promise<PageRun<T>> {
  const folder = mkdtempSync(join(tmpdir(), "tracegrad-page-"));
  try {
    await build({
      entryPoints: { page: entry },
      outdir: folder,
      bundle: true,
      format: "iife",
      platform: "browser",
      target: "es2022",
      logLevel: "warning",
    });
    writeFileSync(
      join(folder, "index.html"),
      '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body><script src="page.js"></script></body></html>',
    );
    const server = await serveDemo(folder);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--enable-unsafe-webgpu", "--no-first-run", "--disable-sync"],
    });
    try {
      const page = await browser.newPage();
      const consoleLines: string[] = [];
      const errors: string[] = [];
      page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(server.url);
      await page.waitForFunction(() => (window as { pageResult?: unknown }).pageResult !== undefined, null, {
        timeout: timeoutMs,
      });
      const result = await page.evaluate(() => (window as unknown as { pageResult: T }).pageResult);
      return { result, console: consoleLines, errors };
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
