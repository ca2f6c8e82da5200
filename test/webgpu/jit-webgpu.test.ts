/**
 * jit plans on WebGPU, in headless Chromium on its software adapter (SwiftShader): every kind of kernel
 * a plan lowers to against the same function on the CPU backend (pages/kernels.ts), the asynchronous
 * boundary (device arrays read with `await x.data()`, a clear error for synchronous reads and eager
 * ops), float64 programs staying on the CPU, and GPU errors (a kernel that does not compile) surfacing
 * as a WebgpuError where the values are read (pages/errors.ts). Skipped, with the reason printed, without Chromium.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CHROMIUM, hasChromium, runPage } from "../helpers/chromium-page.js";
import type { ErrorsResult } from "./pages/errors.js";
import type { KernelsResult } from "./pages/kernels.js";
import type { LenetResult } from "./pages/lenet.js";

if (!hasChromium)
  console.warn(
    `test/webgpu/jit-webgpu.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`,
  );

const page = (name: string) => fileURLToPath(new URL(`./pages/${name}`, import.meta.url));

describe.skipIf(!hasChromium)("jit on WebGPU in Chromium", () => {
  it(
    "lowers every kind of kernel and matches the CPU plan on ragged shapes",
    { timeout: 300_000 },
    async () => {
      const { result, errors, console: lines } = await runPage<KernelsResult>(page("kernels.ts"));
      expect(result.error).toBeNull();
      expect(errors).toEqual([]);
      expect(result.backend).toMatchObject({ name: "webgpu" });
      expect((result.backend as { webgpu: string }).webgpu).toMatch(/swiftshader|./);
      expect(result.cases.length).toBe(73);
      for (const c of result.cases) {
        const where = JSON.stringify(c);
        expect(c.backend, where).toBe("webgpu");
        expect(c.shape, where).toEqual(c.cpuShape);
        // float32 math on the GPU (exp, tanh, ...) differs from the CPU kernels by a few ulps.
        expect(c.relativeError, where).toBeGreaterThanOrEqual(0);
        expect(c.relativeError, where).toBeLessThan(1e-5);
      }
      expect(result.syncReadError).toMatch(/await x\.data\(\)/);
      expect(result.eagerError).toMatch(/await x\.data\(\)/);
      expect(result.float64Backend).toBe("wasm");
      expect(lines.some((l) => /runs on the CPU \(wasm\), not WebGPU.*float64/.test(l))).toBe(true);
    },
  );

  it(
    "a kernel that does not compile makes reading its outputs, and what is computed from them, throw",
    { timeout: 300_000 },
    async () => {
      const { result, errors } = await runPage<ErrorsResult>(page("errors.ts"));
      expect(result.error).toBeNull();
      expect(errors).toEqual([]);
      expect(result.returnedDeviceArray).toBe(true);
      expect(result.brokenRead).toMatch(
        /^WebgpuError: the WebGPU plan's kernels did not build on .*test_invalid_wgsl/s,
      );
      expect(result.brokenRead).toMatch(/undeclared_name/);
      expect(result.downstreamRead).toMatch(/^WebgpuError: .*did not build/s);
      expect(result.validValues).toEqual([2, 3, 4]);
    },
  );

  it(
    "trains LeNet for 20 steps on the device, matching the CPU plan to 1e-5",
    { timeout: 300_000 },
    async () => {
      const { result, errors, console: lines } = await runPage<LenetResult>(page("lenet.ts"));
      expect(result.error).toBeNull();
      expect(errors).toEqual([]);
      expect(lines.filter((l) => /runs on the CPU/.test(l))).toEqual([]);
      expect(result.backends).toEqual(["webgpu", "webgpu"]);
      expect(result.deviceOutputs).toBe(true);
      // The values between dispatches share buffers (compiler/webgpu-memory.ts): less than one each.
      const [, buffers, bytes, unshared] = /(\d+) shared buffers, (\d+) bytes \((\d+) with one each\)/
        .exec(result.planSummary)!
        .map(Number);
      expect(buffers).toBeGreaterThan(0);
      expect(bytes).toBeLessThan(unshared! * 0.75);
      expect(result.gradErrors).toHaveLength(10);
      for (const e of result.gradErrors) expect(e).toBeLessThan(1e-5);
      expect(result.forwardError).toBeLessThan(1e-5);
      expect(result.lossErrors).toHaveLength(20);
      for (const e of result.lossErrors) expect(e).toBeLessThan(1e-5);
      expect(result.paramError).toBeGreaterThanOrEqual(0);
      expect(result.paramError).toBeLessThan(1e-5);
      expect(result.losses[19]!).toBeLessThan(result.losses[0]!); // it trains
    },
  );
});
