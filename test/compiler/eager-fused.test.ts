/**
 * Eager elementwise calls from fusedThresholds.eager elements on run the compiler's WebAssembly SIMD loop
 * (compiler/eager-fused.ts) instead of the JS loop: the same bits as the JS backend's loops (NaN matching
 * any NaN), constant operands (broadcast scalars) included, and the wasm path is the one taken.
 */
import { afterEach, describe, expect, it } from "vitest";
import { eagerFusedCalls } from "../../src/compiler/eager-fused.js";
import { fusedThresholds } from "../../src/compiler/fused-wasm.js";
import type { ConcreteArray } from "../../src/core/array.js";
import { backend, type Array as NdArray, nn, np, setBackend } from "../../src/index.js";
import { rng } from "../helpers/numeric.js";

const initial = backend();
afterEach(() => {
  if (initial.name === "js") setBackend("js");
  else setBackend("wasm", { threads: initial.threads });
});

const SPECIAL = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1e30, -1e-40];

function values(size: number, seed: number, dtype: "float32" | "float64"): NdArray {
  const next = rng(seed);
  const v = Array.from({ length: size }, (_, i) =>
    i % 17 === 0 ? SPECIAL[i % SPECIAL.length]! : 8 * next() - 4,
  );
  return np.array(v, { shape: [size / 50, 50], dtype });
}

const OPS: readonly [string, (x: NdArray, y: NdArray) => NdArray][] = [
  ["add", (x, y) => np.add(x, y)],
  ["multiply by a constant", (x) => np.multiply(x, 0.3)],
  ["relu (le and select with constants)", (x) => nn.relu(x)],
  ["where(x > y, x, 2)", (x, y) => np.where(np.greater(x, y), x, 2)],
  ["exp", (x) => np.exp(x)],
  ["divide", (x, y) => np.divide(x, y)],
  ["maximum", (x, y) => np.maximum(x, y)],
];

function sameBits(got: NdArray, want: NdArray): boolean {
  const g = got.toTypedArray() as ArrayLike<number>;
  const w = want.toTypedArray() as ArrayLike<number>;
  if (got.dtype !== want.dtype || g.length !== w.length) return false;
  for (let i = 0; i < w.length; i++)
    if (!(Object.is(g[i], w[i]) || (Number.isNaN(g[i]) && Number.isNaN(w[i])))) return false;
  return true;
}

describe("eager elementwise calls in WebAssembly", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const [name, op] of OPS) {
      it(`${name} (${dtype}, 2,500 elements) has the JS loop's bits, through the wasm loop`, () => {
        const [x, y] = [values(2500, 1, dtype), values(2500, 2, dtype)];
        setBackend("js");
        const want = op(x, y);
        setBackend("wasm", { threads: 1 });
        const before = eagerFusedCalls.count;
        const got = op(x, y);
        expect(eagerFusedCalls.count).toBeGreaterThan(before);
        expect(sameBits(got, want)).toBe(true);
      });
    }
  }

  it("an op without a wasm rendering for the dtype (tanh in float64) runs the JS loop", () => {
    const x = values(2500, 4, "float64");
    const x32 = values(2500, 4, "float32");
    setBackend("js");
    const want = np.tanh(x);
    setBackend("wasm", { threads: 1 });
    const before = eagerFusedCalls.count;
    const got = np.tanh(x);
    expect(eagerFusedCalls.count).toBe(before);
    expect(sameBits(got, want)).toBe(true);
    // float32 tanh renders in wasm
    np.tanh(x32);
    expect(eagerFusedCalls.count).toBe(before + 1);
  });

  it("a deferred broadcast (a bias row) is read through the broadcast, never written, with the JS loop's bits", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const y = values(2500, 5, dtype).reshape([10, 5, 50]);
      const bias = np.array([0.5, -1, 3e38, -0, Number.NaN], { dtype }).reshape([1, 5, 1]);
      setBackend("js");
      const want = np.add(y, bias);
      setBackend("wasm", { threads: 1 });
      const wide = np.broadcastTo(bias, [10, 5, 50]);
      expect((wide as ConcreteArray).pendingBroadcastOf?.source === bias).toBe(true);
      const before = eagerFusedCalls.count;
      const got = np.add(y, wide);
      expect(eagerFusedCalls.count).toBe(before + 1);
      expect(sameBits(got, want)).toBe(true);
      expect((wide as ConcreteArray).pendingBroadcastOf).toBeDefined();
      // Anything else that reads it gets its values written out.
      const rows = wide.toArray() as number[][][];
      expect((wide as ConcreteArray).pendingBroadcastOf).toBe(undefined);
      expect(rows[9]![2]![49]).toBe(dtype === "float32" ? Math.fround(3e38) : 3e38);
      expect(Object.is(rows[3]![3]![0], -0)).toBe(true);
      // Below the threshold the JS loop reads it written out.
      const small = np.broadcastTo(bias, [2, 5, 3]);
      expect(sameBits(np.multiply(small, 2), np.multiply(small.mul(1), 2))).toBe(true);
    }
  });

  it("below the threshold the JS loop runs", () => {
    setBackend("wasm", { threads: 1 });
    const x = values(Math.floor((fusedThresholds.eager - 1) / 50) * 50, 3, "float32");
    const before = eagerFusedCalls.count;
    np.add(x, 1);
    expect(eagerFusedCalls.count).toBe(before);
  });
});
