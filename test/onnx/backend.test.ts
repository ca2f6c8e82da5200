/**
 * jit(f, { backend: "onnxruntime" }): one ONNX Runtime session per signature, an asynchronous call,
 * results equal to the default backend's (float32 and float64), the cache and `backend()` report.
 */
import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, nn, np, random } from "../../src/index.js";

function mlpLoss(w1: NdArray, w2: NdArray, x: NdArray, y: NdArray): NdArray {
  const h = nn.relu(np.matmul(x, w1));
  return np.mean(np.square(np.subtract(np.matmul(h, w2), y)));
}

describe('jit(f, { backend: "onnxruntime" })', () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`runs an MLP training step in ONNX Runtime, equal to the default backend, ${dtype}`, async () => {
      const step = (w1: NdArray, w2: NdArray, x: NdArray, y: NdArray) => {
        const [g1, g2] = grad(mlpLoss, { argnums: [0, 1] })(w1, w2, x, y) as [NdArray, NdArray];
        return [np.subtract(w1, np.multiply(g1, 0.1)), np.subtract(w2, np.multiply(g2, 0.1))];
      };
      const args = [
        random.normal(random.key(1), [8, 16], { dtype }),
        random.normal(random.key(2), [16, 3], { dtype }),
        random.normal(random.key(3), [5, 8], { dtype }),
        random.normal(random.key(4), [5, 3], { dtype }),
      ] as const;
      const ort = jit(step, { backend: "onnxruntime", threads: 1 });
      const pending = ort(...args);
      expect(pending).toBeInstanceOf(Promise);
      const got = await pending;
      const want = jit(step)(...args);
      const tolerance = dtype === "float32" ? 1e-5 : 1e-12;
      got.forEach((g, i) => {
        expect(g.shape).toEqual(want[i]!.shape);
        expect(g.dtype).toBe(dtype);
        expect(np.max(np.abs(np.subtract(g, want[i]!))).item()).toBeLessThan(tolerance);
      });
      await ort(...args);
      expect(ort.cacheInfo()).toEqual({ hits: 1, misses: 1, size: 1 });
      expect(ort.backend()).toEqual({ name: "onnxruntime", threads: 1, version: "1.30.0" });
      await ort.release();
    });
  }

  it("rejects traced arguments: an asynchronous function cannot be transformed", async () => {
    const f = jit((x: NdArray) => np.sin(x), { backend: "onnxruntime", threads: 1 });
    await expect(
      (async () => {
        let inner: Promise<NdArray> | null = null;
        grad((x: NdArray) => {
          inner = f(x);
          return np.sum(x);
        })(np.ones([2]));
        await inner;
      })(),
    ).rejects.toThrow(/traced value; a function run by ONNX Runtime is asynchronous/);
  });

  it("rejects threads without the onnxruntime backend, and unknown backends", () => {
    expect(() => jit((x: NdArray) => x, { threads: 2 })).toThrow(
      /threads is an option of backend "onnxruntime"/,
    );
    expect(() => jit((x: NdArray) => x, { backend: "gpu" as "wasm" })).toThrow(
      /backend must be "wasm", "onnxruntime" or "webgpu", got "gpu"/,
    );
  });
});
