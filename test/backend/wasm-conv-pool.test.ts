import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { wasmMoveCalls } from "../../src/backend/wasm/move-support.js";
import { backend, grad, jit, type Array as NdArray, nn, np, setBackend } from "../../src/index.js";
import { maxPool2dIndices } from "../../src/ops/pool.js";
import { expectClose, rng, seededArray } from "../helpers/numeric.js";

// The wasm data movement of jitted convolutions (src/backend/wasm/conv-moves.ts) and pooling
// (src/backend/wasm/pool.ts) against the JS kernels of the JS backend, on random geometries.

const initial = backend();
afterEach(() => setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads }));

const runs = {
  numRuns: Number(process.env.LAWS_RUNS ?? 25),
  seed: Number(process.env.LAWS_SEED ?? 20261122),
};

/** f's results on the JS backend and on the wasm one, and how many wasm move kernels ran. */
function bothBackends(f: () => NdArray[]): { js: NdArray[]; wasm: NdArray[]; conv: number; pool: number } {
  setBackend("js");
  const js = f();
  setBackend("wasm");
  const moves = (): number => wasmMoveCalls.conv + wasmMoveCalls.directConv; // im2col or direct
  const [conv0, pool0] = [moves(), wasmMoveCalls.pool];
  const wasm = f();
  return { js, wasm, conv: moves() - conv0, pool: wasmMoveCalls.pool - pool0 };
}

describe("wasm conv moves equal the JS kernels", () => {
  const geometry = fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 3 }),
    inPerGroup: fc.integer({ min: 1, max: 3 }),
    outPerGroup: fc.integer({ min: 1, max: 3 }),
    height: fc.integer({ min: 3, max: 13 }),
    width: fc.integer({ min: 3, max: 13 }),
    kernelH: fc.integer({ min: 1, max: 4 }),
    kernelW: fc.integer({ min: 1, max: 4 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    seed: fc.integer({ min: 1, max: 10_000 }),
  });

  for (const dtype of ["float64", "float32"] as const) {
    it(`${dtype}: forward, input gradient and weight gradient`, () => {
      fc.assert(
        fc.property(geometry, (g) => {
          const C = g.groups * g.inPerGroup;
          const O = g.groups * g.outPerGroup;
          if ((g.kernelH - 1) * g.dilation[0] + 1 > g.height + 2 * g.padding[0]) return;
          if ((g.kernelW - 1) * g.dilation[1] + 1 > g.width + 2 * g.padding[1]) return;
          const x = seededArray([g.batch, C, g.height, g.width], g.seed).astype(dtype);
          const w = seededArray([O, g.inPerGroup, g.kernelH, g.kernelW], g.seed + 1).astype(dtype);
          const opts = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups };
          const f = (a: NdArray, b: NdArray) => nn.conv2d(a, b, undefined, opts);
          // A weighted sum, so that the cotangent differs per element.
          const loss = (a: NdArray, b: NdArray) => np.sum(np.square(f(a, b)).mul(f(a, b)));
          const { js, wasm, conv } = bothBackends(() => [
            jit(f)(x, w),
            ...(jit(grad(loss, { argnums: [0, 1] }))(x, w) as NdArray[]),
          ]);
          expect(conv).toBeGreaterThanOrEqual(4); // forward twice, input and weight gradient: all in wasm
          const tol = dtype === "float64" ? 1e-12 : 2e-5;
          js.forEach((want, k) => expectClose(wasm[k]!, want, tol, tol));
        }),
        runs,
      );
    });
  }

  it("the plan input is unrolled once per run and a plan output is written through staging", () => {
    const x = seededArray([2, 3, 9, 7], 3);
    const w = seededArray([4, 3, 3, 3], 4);
    const f = (a: NdArray, b: NdArray) => nn.conv2d(a, b, undefined, { padding: 1 });
    const { js, wasm } = bothBackends(() => {
      const jf = jit(f);
      return [jf(x, w), jf(x.mul(2), w), jf(x, w)];
    });
    js.forEach((want, k) => expectClose(wasm[k]!, want, 1e-12, 1e-12));
  });
});

describe("wasm pooling equals the JS kernels", () => {
  const geometry = fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    channels: fc.integer({ min: 1, max: 4 }),
    height: fc.integer({ min: 2, max: 12 }),
    // Up to 24 columns: float32 rows with column stride 1 or 2 take four windows at a time, then the rest.
    width: fc.integer({ min: 2, max: 24 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
    /** Quantised values (ties) and NaNs. */
    levels: fc.integer({ min: 2, max: 50 }),
    nanRate: fc.constantFrom(0, 0, 0.05, 0.3),
    seed: fc.integer({ min: 1, max: 10_000 }),
  });

  interface Planes {
    batch: number;
    channels: number;
    height: number;
    width: number;
    levels: number;
    nanRate: number;
    seed: number;
  }
  function input(g: Planes, dtype: "float32" | "float64"): NdArray {
    const next = rng(g.seed);
    const n = g.batch * g.channels * g.height * g.width;
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = next();
      data[i] = (u + 1) / 2 < g.nanRate ? Number.NaN : Math.round(next() * g.levels) / g.levels;
    }
    return np.array(data, { shape: [g.batch, g.channels, g.height, g.width] }).astype(dtype);
  }

  const same = (got: NdArray, want: NdArray): void => {
    expect(got.shape).toEqual(want.shape);
    expect(Array.from(got.toTypedArray())).toEqual(Array.from(want.toTypedArray()));
  };

  for (const dtype of ["float64", "float32"] as const) {
    it(`${dtype}: values, indices, gradient (bit for bit, NaNs included)`, () => {
      fc.assert(
        fc.property(geometry, (g) => {
          const padding: [number, number] = [
            Math.min(g.padding[0], g.kernel[0] >> 1),
            Math.min(g.padding[1], g.kernel[1] >> 1),
          ];
          if (g.kernel[0] > g.height + 2 * padding[0] || g.kernel[1] > g.width + 2 * padding[1]) return;
          const x = input(g, dtype);
          const opts = { stride: g.stride as [number, number], padding };
          const f = (a: NdArray) => nn.maxPool2d(a, g.kernel as [number, number], opts);
          const params = {
            kernel: g.kernel as [number, number],
            stride: g.stride as [number, number],
            padding: [
              [padding[0]!, padding[0]!],
              [padding[1]!, padding[1]!],
            ] as const,
          };
          const weights = seededArray(f(x).shape as number[], g.seed + 2).astype(dtype);
          const loss = (a: NdArray) => np.sum(f(a).mul(weights));
          const { js, wasm, pool } = bothBackends(() => [
            jit(f)(x),
            jit((a: NdArray) => maxPool2dIndices(a, params))(x),
            jit(grad(loss))(x),
          ]);
          expect(pool).toBeGreaterThanOrEqual(4); // max_pool2d, argmax (twice), gather, scatter-add
          js.forEach((want, k) => same(wasm[k]!, want));
        }),
        runs,
      );
    });
  }

  it("overlapping windows accumulate their cotangents", () => {
    const x = seededArray([2, 3, 9, 8], 7).astype("float32");
    const weights = seededArray([2, 3, 7, 6], 8).astype("float32");
    const loss = (a: NdArray) => np.sum(nn.maxPool2d(a, 3, { stride: 1 }).mul(weights));
    const { js, wasm, pool } = bothBackends(() => [jit(grad(loss))(np.round(x.mul(3)))]);
    expect(pool).toBeGreaterThan(0);
    expect(Array.from(wasm[0]!.toTypedArray())).toEqual(Array.from(js[0]!.toTypedArray()));
  });
});
