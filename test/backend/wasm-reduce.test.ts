import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { wasmReduceCalls } from "../../src/backend/wasm/reduce.js";
import { backend, jit, type Array as NdArray, np, setBackend } from "../../src/index.js";
import { reduceMaxPrim, reduceMinPrim, reduceProdPrim, reduceSumPrim } from "../../src/ops/reduce.js";
import { rng } from "../helpers/numeric.js";

// The wasm reductions of jitted programs (src/backend/wasm/reduce.ts) against the JS kernel of the JS
// backend, bit for bit: same float64 accumulation order, same NaN rules, same rounding.

const initial = backend();
afterEach(() => setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads }));

const runs = {
  numRuns: Number(process.env.LAWS_RUNS ?? 60),
  seed: Number(process.env.LAWS_SEED ?? 20261123),
};

const prims = { sum: reduceSumPrim, prod: reduceProdPrim, max: reduceMaxPrim, min: reduceMinPrim };

/** f's results on the JS backend and on the wasm one, and how many wasm reduction kernels ran. */
function bothBackends(f: () => NdArray[]): { js: NdArray[]; wasm: NdArray[]; runs: number } {
  setBackend("js");
  const js = f();
  setBackend("wasm");
  const runs0 = wasmReduceCalls.runs;
  const wasm = f();
  return { js, wasm, runs: wasmReduceCalls.runs - runs0 };
}

/** Object.is per element (NaN equal to NaN, -0 different from +0). */
function same(got: NdArray, want: NdArray): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  const [g, w] = [got.toTypedArray(), want.toTypedArray()];
  for (let i = 0; i < w.length; i++) {
    if (!Object.is(g[i], w[i])) throw new Error(`element ${i}: got ${g[i]}, want ${w[i]}`);
  }
}

/** Values of widely varying magnitude (so that the summation order shows), some NaN / ±Infinity / -0. */
function input(shape: number[], seed: number, special: number, dtype: "float32" | "float64"): NdArray {
  const next = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = (next() + 1) / 2;
    if (u < special) {
      const k = Math.floor(((next() + 1) / 2) * 4);
      data[i] = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0][k] ?? 0;
    } else {
      data[i] = next() * 10 ** Math.floor(((next() + 1) / 2) * 12 - 4);
    }
  }
  return np.array(data, { shape }).astype(dtype);
}

const size = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 7 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 33, 130) },
);
const problem = fc
  .record({
    shape: fc.array(size, { minLength: 0, maxLength: 5 }),
    axisMask: fc.integer({ min: 0, max: 31 }),
    op: fc.constantFrom("sum", "sum", "max", "min", "prod") as fc.Arbitrary<keyof typeof prims>,
    special: fc.constantFrom(0, 0, 0.02, 0.2),
    seed: fc.integer({ min: 1, max: 100_000 }),
  })
  .filter(({ shape }) => shape.reduce((a, b) => a * b, 1) <= 60_000);

describe("wasm reductions equal the JS kernel bit for bit", () => {
  for (const dtype of ["float64", "float32"] as const) {
    it(`${dtype}: random shapes, axes, NaN and ±Infinity`, () => {
      fc.assert(
        fc.property(problem, ({ shape, axisMask, op, special, seed }) => {
          const axes = shape.map((_, i) => i).filter((i) => (axisMask >> i) & 1);
          const x = input(shape, seed, special, dtype);
          const prim = prims[op];
          const reduce = (a: NdArray) => prim.bind1([a], { axes });
          const { js, wasm, runs } = bothBackends(() => [
            jit(reduce)(x),
            // A resident input and output: produced and consumed by other kernels in the plan.
            jit((a: NdArray) => np.negative(reduce(np.negative(a))))(x),
          ]);
          expect(runs).toBeGreaterThanOrEqual(1); // the plan-input reduction at least ran in wasm
          js.forEach((want, k) => same(wasm[k]!, want));
        }),
        runs,
      );
    });
  }

  it("the conv and linear bias gradients and a full reduction run in wasm", () => {
    const cases: [number[], number[]][] = [
      [
        [32, 6, 28, 28],
        [0, 2, 3],
      ],
      [[128, 512], [0]],
      [[128, 512], [1]],
      [
        [7, 130, 33],
        [0, 1, 2],
      ],
      [[3, 0, 5], [1]],
    ];
    for (const dtype of ["float32", "float64"] as const) {
      for (const [shape, axes] of cases) {
        const x = input(shape, shape.length * 31 + axes.length, 0.001, dtype);
        for (const prim of Object.values(prims)) {
          const { js, wasm, runs } = bothBackends(() => [jit((a: NdArray) => prim.bind1([a], { axes }))(x)]);
          expect(runs).toBe(1);
          same(wasm[0]!, js[0]!);
        }
      }
    }
  });

  it("repeated runs of one plan (staged input refreshed, accumulators reset)", () => {
    const xs = [1, 2, 3].map((s) => input([5, 4, 9], s, 0.05, "float32"));
    const { js, wasm, runs } = bothBackends(() => {
      const f = jit((a: NdArray) => reduceSumPrim.bind1([a], { axes: [0, 2] }));
      return xs.map((x) => f(x));
    });
    expect(runs).toBe(3);
    js.forEach((want, k) => same(wasm[k]!, want));
  });
});
