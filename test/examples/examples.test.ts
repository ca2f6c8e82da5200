/**
 * The runnable examples in docs/examples, each in a short mode, so the docs never rot: they must run,
 * give sane numbers, and write their pictures.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { fizzBuzzClass, fizzBuzzText, run as runFizzBuzz } from "../../docs/examples/fizzbuzz.js";
import { run as runGp } from "../../docs/examples/gp-regression.js";
import { train } from "../../docs/examples/lenet-mnist.js";
import { main as runTutorial } from "../../docs/examples/tutorial.js";
import { np } from "../../src/index.js";

const outDir = mkdtempSync(join(tmpdir(), "tracegrad-examples-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("docs/examples/lenet-mnist.ts", () => {
  it("trains a few batches, evaluates, and writes the training curves", async () => {
    const result = await train({
      epochs: 1,
      batchSize: 64,
      lr: 0.05,
      momentum: 0.9,
      seed: 0,
      maxBatches: 3,
      maxTest: 200,
      outDir,
      quiet: true,
    });
    expect(result.losses).toHaveLength(3);
    for (const loss of result.losses) expect(Number.isFinite(loss)).toBe(true);
    expect(result.testAccuracy).toHaveLength(1);
    expect(result.testAccuracy[0]).toBeGreaterThanOrEqual(0);
    expect(result.testAccuracy[0]).toBeLessThanOrEqual(1);
    const svg = readFileSync(join(outDir, "lenet-curves.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("test accuracy");
  });

  it("logs one line per epoch, without carriage returns, when stdout is not a terminal", async () => {
    const written: string[] = [];
    const tty = Object.getOwnPropertyDescriptor(process.stdout, "isTTY");
    Object.defineProperty(process.stdout, "isTTY", { value: false, configurable: true });
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await train({
        epochs: 2,
        batchSize: 64,
        lr: 0.05,
        momentum: 0.9,
        seed: 0,
        maxBatches: 10,
        maxTest: 100,
        outDir,
        quiet: false,
      });
    } finally {
      write.mockRestore();
      if (tty) Object.defineProperty(process.stdout, "isTTY", tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
    const log = written.join("");
    expect(log).not.toContain("\r");
    const epochLines = log.split("\n").filter((line) => line.startsWith("epoch "));
    expect(epochLines).toHaveLength(2);
    expect(epochLines[0]).toMatch(/^epoch 1\/2 10 steps, loss [\d.]+ \d+ img\/s {2}test accuracy [\d.]+%/);
  });
});

describe("docs/examples/fizzbuzz.ts", () => {
  it("knows the rules it is trained on", () => {
    expect([1, 3, 5, 15, 30, 98].map((n) => fizzBuzzText(n, fizzBuzzClass(n)))).toEqual([
      "1",
      "fizz",
      "buzz",
      "fizzbuzz",
      "fizzbuzz",
      "98",
    ]);
  });

  it("runs in a short mode: 100 answers, finite losses that go down", () => {
    const result = runFizzBuzz({ epochs: 40, logEvery: 20, quiet: true, dropout: 0.1 });
    expect(result.predictions).toHaveLength(100);
    expect(result.correct).toBeGreaterThanOrEqual(0);
    expect(result.correct).toBeLessThanOrEqual(100);
    expect(result.epochLosses).toHaveLength(40);
    for (const loss of result.epochLosses) expect(Number.isFinite(loss)).toBe(true);
    expect(result.epochLosses[39]!).toBeLessThan(result.epochLosses[0]!);
    expect(result.progress.map((p) => p.epoch)).toEqual([20, 40]);
  });

  it("float16 parameters (Adam's moments in float32) train as float32 does", () => {
    const common = { loss: "crossEntropy", epochs: 400, logEvery: 400, quiet: true } as const;
    const single = runFizzBuzz({ ...common, dtype: "float32" });
    const half = runFizzBuzz({ ...common, dtype: "float16" });
    // The float16 run's loss is a float16 value (its forward pass rounds every op to float16)...
    const last = half.epochLosses.at(-1)!;
    const asHalf = np.array([last], { dtype: "float64" }).astype("float16").astype("float64").item();
    expect(asHalf).toBe(last);
    expect(single.epochLosses.at(-1)!).not.toBe(last);
    // ...and follow float32's curve: the same loss to 1% and the same answers to within 3 of 100.
    expect(Math.abs(last - single.epochLosses.at(-1)!) / single.epochLosses.at(-1)!).toBeLessThan(0.01);
    expect(Math.abs(half.correct - single.correct)).toBeLessThanOrEqual(3);
    expect(half.epochLosses.at(-1)!).toBeLessThan(half.epochLosses[0]! * 0.8);
  });

  it("learns FizzBuzz for 1..100 from 101..1023 (cross-entropy, the quicker loss)", () => {
    const result = runFizzBuzz({ loss: "crossEntropy", epochs: 800, logEvery: 800, quiet: true });
    expect(result.correct).toBeGreaterThanOrEqual(90);
  });
});

describe("docs/examples/tutorial.ts", () => {
  it("walks through the tutorial and writes the graph", () => {
    const result = runTutorial({ outDir, quiet: true });
    expect(result.parameterArrays).toBe(10);
    expect(result.parameterCount).toBe(61_706);
    expect(result.outputShape).toEqual([1, 10]);
    expect(result.conv1BiasGrad).toHaveLength(6);
    for (const g of result.conv1BiasGrad) expect(Number.isFinite(g)).toBe(true);
    // A small gradient step lowers the loss; plain SGD is exactly the manual update.
    expect(result.losses.afterManualUpdate).toBeLessThan(result.losses.initial);
    expect(result.losses.afterOptimizerStep).toBeCloseTo(result.losses.afterManualUpdate, 6);
    expect(result.program).toContain("conv2d_weight_grad");
    expect(result.dot.startsWith("digraph")).toBe(true);
    expect(readFileSync(result.dotPath, "utf8")).toBe(result.dot);
    if (result.svgPath !== undefined) expect(existsSync(result.svgPath)).toBe(true);
  });
});

describe("docs/examples/gp-regression.ts", () => {
  it("fits the hyperparameters (the loss falls, the noise comes out near the data's 0.1) and draws the posterior", () => {
    const out = join(outDir, "gp-regression.svg");
    const result = runGp({ steps: 150, out, quiet: true });
    expect(result.losses).toHaveLength(151);
    expect(result.losses[150]!).toBeLessThan(result.losses[0]! - 10);
    expect(result.noise).toBeGreaterThan(0.05);
    expect(result.noise).toBeLessThan(0.2);
    const svg = readFileSync(out, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("posterior mean, 2σ band");
    expect(svg).toContain('fill-opacity="0.18"');
  });
});
