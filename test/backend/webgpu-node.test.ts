/**
 * The WebGPU backend where there is no WebGPU (Node): setBackend("webgpu") rejects with a
 * WebgpuUnavailableError saying what it needs, a function jitted for WebGPU says to await it, and the CPU
 * backend is untouched. (On the GPU itself: test/webgpu/, in Chromium.)
 */
import { describe, expect, it } from "vitest";
import { backend, jit, np, setBackend, WebgpuUnavailableError } from "../../src/index.js";

describe("WebGPU without WebGPU", () => {
  it("setBackend('webgpu') rejects with a typed error naming what it needs, and leaves the backend", async () => {
    const before = backend();
    await expect(setBackend("webgpu")).rejects.toThrow(WebgpuUnavailableError);
    await expect(setBackend("webgpu")).rejects.toThrow(/navigator\.gpu.*Node has none/);
    expect(backend()).toEqual(before);
    expect(backend().webgpu).toBeNull();
  });

  it("jit(f, { backend: 'webgpu' }) asks for `await setBackend(\"webgpu\")`; 'wasm' runs as before", () => {
    const x = np.array([1, 2, 3], { dtype: "float32" });
    const gpu = jit((a: typeof x) => a.mul(2), { backend: "webgpu" });
    expect(() => gpu(x)).toThrow(WebgpuUnavailableError);
    expect(() => gpu(x)).toThrow(/await setBackend\("webgpu"\)/);
    expect(jit((a: typeof x) => a.mul(2), { backend: "wasm" })(x).toArray()).toEqual([2, 4, 6]);
    expect(jit((a: typeof x) => a.mul(2), { backend: "wasm" }).lower(x).backend).toBe("wasm");
  });

  it("an unknown backend is refused by name", () => {
    expect(() => jit((a: number) => a, { backend: "gpu" as "webgpu" })).toThrow(
      /backend must be "wasm", "onnxruntime" or "webgpu", got "gpu"/,
    );
  });
});
