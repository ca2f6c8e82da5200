/**
 * The WebGPU prototype's tiled GEMM (bench/webgpu/gemm-wgsl.ts) in headless Chromium on its software
 * adapter (SwiftShader): on every shape of the page, square and with edges no 64x64x16 tile divides,
 * transposed operands included, it equals tracegrad's wasm matmul to float32 rounding. Skipped, with the
 * reason printed, where no Chromium is installed.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildWebgpuBench, CHROMIUM, runWebgpuBench } from "../../bench/webgpu/run.js";

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(
    `test/webgpu/gemm-prototype.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`,
  );

describe.skipIf(!hasChromium)("the WGSL GEMM on Chromium's WebGPU", () => {
  it("matches the wasm matmul on square, ragged and transposed shapes", { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tracegrad-webgpu-"));
    try {
      await buildWebgpuBench(dir);
      const result = await runWebgpuBench(dir, "?rounds=1");
      expect(result.error).toBeNull();
      expect(result.rows.length).toBe(7);
      for (const row of result.rows) {
        expect(row.webgpuMs).toBeGreaterThan(0);
        // float32 sums of up to 512 products in a different order: within a few ulps of the largest |C|.
        expect(row.relativeError, JSON.stringify(row)).toBeLessThan(1e-5);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
