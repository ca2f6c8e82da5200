import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import { collapseTranspose, wasmTransposeCalls } from "../../src/backend/wasm/transpose.js";
import { backend, jit, type Array as NdArray, np, setBackend } from "../../src/index.js";
import { rng } from "../helpers/numeric.js";

const initial = backend();
afterEach(() => {
  setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads });
});

/** Values with NaN payloads and signed zeros among them: a transpose moves bits. */
function arrayOf(shape: number[], dtype: "float32" | "float64", seed: number): NdArray {
  const next = rng(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const data = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = next() < -0.9 ? -0 : next() * 100;
  return np.array(data, { shape });
}

function expectSameBits(got: NdArray, want: NdArray): void {
  expect(got.shape).toEqual(want.shape);
  const a = got.toTypedArray();
  const b = want.toTypedArray();
  for (let i = 0; i < b.length; i++)
    if (!Object.is(a[i], b[i])) throw new Error(`element ${i}: wasm ${a[i]}, js ${b[i]}`);
}

const describeWasm = simdSupported() ? describe : describe.skip;

describeWasm("wasm transposes in jit plans", () => {
  it("equal the JS kernel for every permutation (runs copied, strided axes gathered)", () => {
    const caseArb = fc
      .record({
        shape: fc.array(fc.constantFrom(1, 2, 3, 4, 5, 8, 9, 32), { minLength: 1, maxLength: 4 }),
        keys: fc.array(fc.double({ noNaN: true }), { minLength: 4, maxLength: 4 }),
        dtype: fc.constantFrom<"float32" | "float64">("float32", "float64"),
        seed: fc.nat(),
      })
      .map(({ shape, keys, dtype, seed }) => ({
        shape,
        perm: shape.map((_, i) => i).sort((p, q) => keys[p]! - keys[q]! || p - q),
        dtype,
        seed,
      }));
    fc.assert(
      fc.property(caseArb, ({ shape, perm, dtype, seed }) => {
        const x = arrayOf(shape, dtype, seed);
        // Between two loops, so the transpose reads and writes the plan memory.
        const f = (v: NdArray) => np.transpose(v.mul(2), perm).add(1);
        setBackend("wasm");
        const before = wasmTransposeCalls.runs;
        const got = jit(f)(x);
        const moves = jit(f)
          .lower(x)
          .executable.steps.some((s) => s.kind === "eqn" && s.equation.primitive.name === "transpose");
        if (moves) expect(wasmTransposeCalls.runs).toBeGreaterThan(before);
        setBackend("js");
        expectSameBits(got, jit(f)(x));
      }),
      { numRuns: 150 },
    );
  });

  it("collapses size-1 axes and input neighbours that stay neighbours", () => {
    // Attention's head split [B, T, H, D] -> [B, H, T, D]: runs of D, three loops.
    expect(collapseTranspose([16, 64, 4, 32], [0, 2, 1, 3])).toEqual({
      sizes: [16, 4, 64, 32],
      strides: [8192, 32, 128, 1],
    });
    // [A, B, C] -> [C, A, B]: A and B stay neighbours.
    expect(collapseTranspose([2, 3, 5], [2, 0, 1])).toEqual({ sizes: [5, 6], strides: [1, 5] });
    expect(collapseTranspose([1, 7, 1], [2, 1, 0])).toEqual({ sizes: [7], strides: [1] });
  });
});
