/**
 * The demo page in headless Chromium (the system's, driven by playwright-core; nothing is downloaded):
 * the bundle loads, the Worker's kernels run on Web Workers, float64 training steps in the page equal
 * Node's bit for bit, and the demo's own training path reaches 90% in one epoch. Writes a screenshot to
 * out/demo.png. Skipped, with the reason printed, where no Chromium is installed.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDemo } from "../../docs/demo/build.js";
import type { Reply } from "../../docs/demo/protocol.js";
import { type DemoServer, serveDemo } from "../../docs/demo/serve.js";
import {
  createTrainer,
  DEFAULT_TRAINER_OPTIONS,
  firstLosses,
  MNIST_NORMALIZATION,
} from "../../docs/demo/training.js";
import { type BackendInfo, setBackend } from "../../src/index.js";
import { io } from "../../src/node.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`test/demo/browser.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const SCREENSHOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "out", "demo.png");

/** What page.ts puts on `window` for this test. */
interface DemoHandle {
  state: {
    ready: Extract<Reply, { type: "ready" }> | null;
    epochs: Extract<Reply, { type: "epoch" }>[];
    losses: unknown[];
    done: boolean;
    prediction: number | null;
    error: string | null;
  };
  request(message: { type: "losses"; steps: number }): Promise<Extract<Reply, { type: "losses" }>>;
}
declare const window: { tracegradDemo?: DemoHandle; crossOriginIsolated: boolean };

describe.skipIf(!hasChromium)("the demo page in headless Chromium", () => {
  let folder: string;
  let server: DemoServer;
  let context: BrowserContext;
  const errors: string[] = [];

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "tracegrad-demo-"));
    await buildDemo(join(folder, "site"));
    server = await serveDemo(join(folder, "site"));
    context = await chromium.launchPersistentContext(join(folder, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1180, height: 800 },
    });
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  /** Opens the page with `query` and waits until its Worker has loaded the digits. */
  async function open(query: string): Promise<{ page: Page; ready: Extract<Reply, { type: "ready" }> }> {
    const page = await context.newPage();
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${server.url}${query}`);
    await page.waitForFunction(
      () => window.tracegradDemo?.state.ready || window.tracegradDemo?.state.error,
      null,
      {
        timeout: 60_000,
      },
    );
    const state = await page.evaluate(() => window.tracegradDemo!.state);
    expect(state.error).toBeNull();
    return { page, ready: state.ready! };
  }

  it("loads the bundle, cross-origin isolated; the Worker's kernels are wasm-simd on more than one thread", async () => {
    const { page, ready } = await open("?train=0&relaxed=0");
    expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(true);
    expect(ready.backend).toMatchObject({ name: "wasm-simd", simd: true, platform: "browser-worker" });
    expect(ready.backend.threads).toBeGreaterThan(1);
    expect([ready.trainImages, ready.testImages]).toEqual([8004, 1996]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("50 float64 LeNet steps in the page give losses bit-identical to the same steps in Node", async () => {
    const { page } = await open("?train=0&relaxed=0");
    const inPage = await page.evaluate(() => window.tracegradDemo!.request({ type: "losses", steps: 50 }));
    await page.close();
    expect(inPage.backend).toMatchObject({ name: "wasm-simd", platform: "browser-worker" });
    expect(inPage.backend.threads).toBeGreaterThan(1);
    const data = io.mnist.loadBundled({ dtype: "float64", normalize: MNIST_NORMALIZATION });
    // Plain SIMD in Node too (relaxed SIMD is its default, and fused multiply-adds round differently).
    setBackend("wasm", { relaxedSimd: false });
    let inNode: number[];
    try {
      inNode = firstLosses(createTrainer(data, { ...DEFAULT_TRAINER_OPTIONS, schedule: "constant" }), 50);
    } finally {
      setBackend("wasm", { relaxedSimd: true });
    }
    expect(inNode).toHaveLength(50);
    expect(inNode[49]!).toBeLessThan(inNode[0]!); // they train
    expect(inPage.losses).toEqual(inNode);
    expect(errors).toEqual([]);
  });

  it("trains one epoch above 90% test accuracy, classifies a drawn 7, and writes a screenshot", async () => {
    const { page, ready } = await open("?epochs=1");
    await page.waitForFunction(
      () => window.tracegradDemo!.state.done || window.tracegradDemo!.state.error,
      null,
      {
        timeout: 300_000,
      },
    );
    const state = await page.evaluate(() => window.tracegradDemo!.state);
    expect(state.error).toBeNull();
    expect(state.losses).toHaveLength(125);
    expect(state.epochs).toHaveLength(1);
    expect(state.epochs[0]!.accuracy).toBeGreaterThan(0.9);
    // A 7 drawn with the mouse: a bar, then the stem.
    const pad = (await page.locator("#pad").boundingBox())!;
    const point = (x: number, y: number) =>
      [pad.x + (x / 280) * pad.width, pad.y + (y / 280) * pad.height] as const;
    await page.mouse.move(...point(70, 60));
    await page.mouse.down();
    await page.mouse.move(...point(210, 60), { steps: 12 });
    await page.mouse.move(...point(130, 230), { steps: 16 });
    await page.mouse.up();
    await page.waitForFunction(() => window.tracegradDemo!.state.prediction !== null, null, {
      timeout: 30_000,
    });
    expect(await page.evaluate(() => window.tracegradDemo!.state.prediction)).toBe(7);
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    const { name, threads }: BackendInfo = ready.backend;
    console.log(
      `demo in Chromium: ${name}, ${threads} threads; epoch 1 at ${state.epochs[0]!.imagesPerSecond.toFixed(0)} images/s, ` +
        `test accuracy ${(100 * state.epochs[0]!.accuracy).toFixed(2)}%; screenshot ${SCREENSHOT}`,
    );
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe.skipIf(!hasChromium)("the demo page on WebGPU (Chromium's software adapter)", () => {
  it("trains one epoch above 90% test accuracy on the GPU when switched to it (the Worker's step on WebGPU)", async () => {
    const folder = mkdtempSync(join(tmpdir(), "tracegrad-demo-webgpu-"));
    await buildDemo(join(folder, "site"));
    const server = await serveDemo(join(folder, "site"));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--enable-unsafe-webgpu", "--no-first-run", "--disable-sync"],
    });
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      const warnings: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      page.on("console", (m) => warnings.push(m.text()));
      await page.goto(`${server.url}?backend=webgpu&epochs=1`);
      // The demo's whole epoch (125 steps of 64 images) and its test-split evaluation, on SwiftShader.
      await page.waitForFunction(
        () => window.tracegradDemo?.state.done || window.tracegradDemo?.state.error,
        null,
        { timeout: 1_100_000 },
      );
      const state = await page.evaluate(() => window.tracegradDemo!.state);
      expect(state.error).toBeNull();
      expect(state.ready!.backend).toMatchObject({ name: "webgpu" });
      expect(state.ready!.backend.webgpu).toMatch(/\w/);
      expect(await page.locator("#backend").inputValue()).toBe("webgpu");
      expect(await page.locator("#status").textContent()).toMatch(/on WebGPU/);
      const losses = (state.losses as { loss: number }[]).map((l) => l.loss);
      expect(losses).toHaveLength(125);
      for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
      expect(state.epochs).toHaveLength(1);
      expect(state.epochs[0]!.accuracy).toBeGreaterThan(0.9);
      // The step ran on the GPU: no fallback to the CPU was announced.
      expect(warnings.filter((w) => /runs on the CPU/.test(w))).toEqual([]);
      expect(pageErrors).toEqual([]);
      console.log(
        `demo in Chromium on WebGPU (${state.ready!.backend.webgpu}): epoch 1 at ${state.epochs[0]!.imagesPerSecond.toFixed(0)} images/s, ` +
          `test accuracy ${(100 * state.epochs[0]!.accuracy).toFixed(2)}%`,
      );
    } finally {
      await browser.close();
      await server.close();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 1_200_000);
});
