/**
 * The n = 1 products that the wasm backend computes with its GEMV kernel sum k in SIMD lanes (then the
 * lanes, then the tail); the JS kernel emulates that order for exactly those shapes, so that eager, jit
 * and both backends give the same bits. Elements are compared with Object.is (NaN matches any NaN).
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { gemvLaneOrder } from "../../src/backend/index.js";
import { gemvLaneKernel, matmulKernel } from "../../src/backend/js/matmul.js";
import { wasmGemm } from "../../src/backend/wasm/gemm-kernel.js";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import { backend, jit, type Array as NdArray, np, setBackend } from "../../src/index.js";

const initial = backend();
// Plain SIMD: relaxed SIMD's fused multiply-add (the default where the engine has it) rounds differently
// from the JS lane kernel.
const useWasm = (): void => setBackend("wasm", { threads: initial.threads, relaxedSimd: false });
afterEach(() =>
  setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads, relaxedSimd: true }),
);

type Float = "float32" | "float64";

/** Deterministic values in [-1, 1) (mulberry32), with NaN, ±Inf and -0 sprinkled in when `special`. */
function values(dtype: Float, size: number, seed: number, special: boolean): Float32Array | Float64Array {
  const out = dtype === "float32" ? new Float32Array(size) : new Float64Array(size);
  const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0];
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = special && u < 0.01 ? specials[Math.floor(u * 400)]! : u * 2 - 1;
  }
  return out;
}

/** The first element whose bits differ (any NaN matching any NaN), or null. */
function firstDifference(got: ArrayLike<number>, want: ArrayLike<number>): string | null {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  for (let i = 0; i < got.length; i++) {
    const [g, w] = [got[i]!, want[i]!];
    if (!(Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w))))
      return `element ${i}: ${Object.is(g, -0) ? "-0" : g} vs ${Object.is(w, -0) ? "-0" : w}`;
  }
  return null;
}

describe.runIf(simdSupported())("n = 1 products sum in the wasm GEMV kernel's lanes", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype}: the JS lane kernel gives the wasm GEMV kernel's bits`, () => {
      const shapes = fc.record({
        batch: fc.integer({ min: 1, max: 3 }),
        m: fc.integer({ min: 1, max: 13 }),
        k: fc.integer({ min: 1, max: 70 }),
        special: fc.boolean(),
        seed: fc.nat(),
      });
      fc.assert(
        fc.property(shapes, ({ batch, m, k, special, seed }) => {
          const a = values(dtype, batch * m * k, seed, special);
          const b = values(dtype, batch * k, seed + 1, special);
          const want = dtype === "float32" ? new Float32Array(batch * m) : new Float64Array(batch * m);
          gemvLaneKernel(a, b, want, batch, m, k);
          const got = want.slice().fill(7);
          wasmGemm(dtype, { batch, m, k, n: 1 }, { relaxedSimd: false })(a, b, got);
          expect(firstDifference(got, want)).toBeNull();
        }),
        { numRuns: 150 },
      );
    });

    it(`${dtype}: eager, jitted and on the JS backend, with NaN, ±Inf and -0, k not a multiple of the lanes`, () => {
      for (const [m, k] of [
        [5, 1031],
        [7, 1027],
        [33, 130],
        [120, 257],
      ] as const) {
        expect(gemvLaneOrder(dtype, 1, m, k, 1)).toBe(true); // the wasm backend takes the GEMV kernel
        for (const special of [false, true]) {
          const a = values(dtype, m * k, m + k, special);
          const b = values(dtype, k, m * k, special);
          const x = np.array(a, { shape: [m, k], dtype });
          const v = np.array(b, { shape: [k, 1], dtype });
          const xT = np.array(np.transpose(x).toTypedArray(), { shape: [k, m], dtype });
          // The lane order is not k order for these values: the kernels below must all take it.
          const kOrder = dtype === "float32" ? new Float32Array(m) : new Float64Array(m);
          matmulKernel(a, b, kOrder, 1, m, k, 1);
          useWasm();
          const eager = np.matmul(x, v).toTypedArray();
          if (!special) expect(firstDifference(eager, kOrder)).not.toBeNull();
          const results: [string, ArrayLike<number>][] = [
            ["jit (wasm)", jit(np.matmul)(x, v).toTypedArray()],
            [
              "jit of a transposed operand (wasm)",
              jit((t: NdArray, w: NdArray) => np.matmul(np.transpose(t), w))(xT, v).toTypedArray(),
            ],
            [
              "jit of a transposed product (wasm)",
              jit((t: NdArray, w: NdArray) => np.transpose(np.matmul(np.transpose(t), w)))(
                xT,
                v,
              ).toTypedArray(),
            ],
          ];
          setBackend("js");
          results.push(
            ["eager (JS)", np.matmul(x, v).toTypedArray()],
            ["jit (JS)", jit(np.matmul)(x, v).toTypedArray()],
          );
          for (const [way, got] of results)
            expect(`${way} ${firstDifference(got, eager)}`).toBe(`${way} null`);
          // A row vector against W.T (m = 1, k order): jit must not turn it into W @ x.T (n = 1, lanes).
          const row = np.array(b, { shape: [1, k], dtype });
          const linear = (r: NdArray, w: NdArray) => np.matmul(r, np.transpose(w));
          useWasm();
          const eagerRow = linear(row, x).toTypedArray();
          const rows: [string, ArrayLike<number>][] = [
            ["jit of x @ W.T (wasm)", jit(linear)(row, x).toTypedArray()],
          ];
          setBackend("js");
          rows.push(["eager x @ W.T (JS)", linear(row, x).toTypedArray()]);
          rows.push(["jit of x @ W.T (JS)", jit(linear)(row, x).toTypedArray()]);
          for (const [way, got] of rows)
            expect(`${way} ${firstDifference(got, eagerRow)}`).toBe(`${way} null`);
        }
      }
    });
  }

  it("only n = 1, untransposed, float products big enough for wasm sum in lanes", () => {
    expect(gemvLaneOrder("float32", 1, 512, 784, 1)).toBe(true);
    expect(gemvLaneOrder("float32", 1, 512, 784, 2)).toBe(false);
    expect(gemvLaneOrder("float32", 1, 1, 784, 512)).toBe(false);
    expect(gemvLaneOrder("float32", 1, 4, 8, 1)).toBe(false); // small: the JS kernel on both backends
    expect(gemvLaneOrder("float32", 1, 512, 784, 1, { transposeA: true })).toBe(false);
    expect(gemvLaneOrder("int32", 1, 512, 784, 1)).toBe(false);
  });
});
