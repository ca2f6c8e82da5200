import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { columnOrderWeightGrad, KERNEL_THRESHOLDS } from "../../src/backend/kernel-choice.js";
import { chooseTiling, directConvChunks, vectorStarts } from "../../src/backend/wasm/direct-conv.js";
import { wasmMoveCalls } from "../../src/backend/wasm/move-support.js";
import { backend, grad, jit, type Array as NdArray, nn, np, setBackend } from "../../src/index.js";
import { expectClose, seededArray } from "../helpers/numeric.js";

// The direct SIMD convolution (src/backend/wasm/direct-conv.ts) and the weight gradient that reads its
// unrolled input in place (direct-weight-grad.ts) against the im2col GEMMs they replace
// (same products summed in the same order: the same bits) and against a float64 loop over the definition.
// Where output rows are whole vectors the weight gradient sums per lane instead (column-weight-grad.ts):
// its bits are the JS backend's, which sums in that order for those geometries.

const initial = backend();
const defaults = { ...KERNEL_THRESHOLDS };
afterEach(() => {
  setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads });
  KERNEL_THRESHOLDS.directConv = defaults.directConv;
  KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = defaults.threadedDirectConvMultiplyAdds;
});

const runs = {
  numRuns: Number(process.env.LAWS_RUNS ?? 25),
  seed: Number(process.env.LAWS_SEED ?? 20261207),
};

type Pair = [number, number];
type Opts = { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number };

/** y[n, o, i, j] = Σ w[o, c, p, q] x[n, g*Cg + c, i*sh - pt + p*dh, j*sw - pl + q*dw], in float64. */
function naiveConv(x: NdArray, w: NdArray, opts: Opts): Float64Array {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, KH, KW] = w.shape as [number, number, number, number];
  const [sh, sw] = opts.stride ?? [1, 1];
  const [pt, pl] = opts.padding ?? [0, 0];
  const [dh, dw] = opts.dilation ?? [1, 1];
  const G = opts.groups ?? 1;
  const OH = Math.floor((H + 2 * pt - (KH - 1) * dh - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pl - (KW - 1) * dw - 1) / sw) + 1;
  const xs = Float64Array.from(x.toTypedArray());
  const ws = Float64Array.from(w.toTypedArray());
  const y = new Float64Array(N * O * OH * OW);
  const Og = O / G;
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let sum = 0;
          for (let c = 0; c < Cg; c++)
            for (let p = 0; p < KH; p++)
              for (let q = 0; q < KW; q++) {
                const [r, s] = [i * sh - pt + p * dh, j * sw - pl + q * dw];
                if (r < 0 || r >= H || s < 0 || s >= W) continue;
                const ch = Math.floor(o / Og) * Cg + c;
                sum += ws[((o * Cg + c) * KH + p) * KW + q]! * xs[((n * C + ch) * H + r) * W + s]!;
              }
          y[((n * O + o) * OH + i) * OW + j] = sum;
        }
  return y;
}

/** The jitted convolution with the direct kernel allowed or not, and how many direct calls ran. */
function jitted(x: NdArray, w: NdArray, opts: Opts, direct: boolean): { y: NdArray; directCalls: number } {
  KERNEL_THRESHOLDS.directConv = direct;
  const before = wasmMoveCalls.directConv;
  const y = jit((a: NdArray, b: NdArray) => nn.conv2d(a, b, undefined, opts))(x, w);
  return { y, directCalls: wasmMoveCalls.directConv - before };
}

/** dw[o, c, p, q] = Σ ct[n, o, i, j] x[n, c, i + p, j + q] (stride 1, no padding), in float64. */
function naiveWeightGrad(x: NdArray, ct: NdArray, wShape: number[]): Float64Array {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, , KH, KW] = wShape as [number, number, number, number];
  const [OH, OW] = [H - KH + 1, W - KW + 1];
  const [xs, cs] = [Float64Array.from(x.toTypedArray()), Float64Array.from(ct.toTypedArray())];
  const dw = new Float64Array(O * C * KH * KW);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < KH; p++)
        for (let q = 0; q < KW; q++) {
          let sum = 0;
          for (let n = 0; n < N; n++)
            for (let i = 0; i < OH; i++)
              for (let j = 0; j < OW; j++)
                sum += cs[((n * O + o) * OH + i) * OW + j]! * xs[((n * C + c) * H + i + p) * W + j + q]!;
          dw[((o * C + c) * KH + p) * KW + q] = sum;
        }
  return dw;
}

/** The jitted weight gradient of <conv2d(x, w), ct>, with the direct kernels allowed or not. */
function jittedWeightGrad(x: NdArray, w: NdArray, ct: NdArray, direct: boolean, opts: Opts = {}) {
  KERNEL_THRESHOLDS.directConv = direct;
  const before = wasmMoveCalls.directConv;
  const dw = jit(grad((b: NdArray) => np.sum(np.multiply(nn.conv2d(x, b, undefined, opts), ct))))(w);
  return { dw, directCalls: wasmMoveCalls.directConv - before };
}

const expectSameBits = (got: NdArray, want: NdArray): void => {
  const [a, b] = [got.toTypedArray(), want.toTypedArray()];
  expect(a.length).toBe(b.length);
  let differing = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differing++;
  expect(differing).toBe(0);
};

describe("direct wasm convolution and weight gradient", () => {
  // Stride 1 and no padding (what the direct kernel takes): channels and widths that leave ragged
  // channel blocks and rows that are not whole vectors or whole tiles.
  const geometry = fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    inChannels: fc.integer({ min: 1, max: 7 }),
    outChannels: fc.integer({ min: 1, max: 13 }),
    kernelH: fc.integer({ min: 1, max: 5 }),
    kernelW: fc.integer({ min: 1, max: 5 }),
    outHeight: fc.integer({ min: 1, max: 6 }),
    outWidth: fc.integer({ min: 4, max: 30 }),
    seed: fc.integer({ min: 1, max: 10_000 }),
  });

  for (const dtype of ["float32", "float64"] as const) {
    for (const threaded of [false, true]) {
      // Without FMA (relaxedSimd off) both GEMMs, wasm and JS (small products), round every product and
      // sum like the direct kernel; with FMA only the wasm GEMM does, so that the bits are compared here.
      it(`${dtype}${threaded ? ", threaded" : ""}: the im2col GEMM's bits, and the definition's values`, () => {
        setBackend("wasm", { relaxedSimd: false });
        // 0: every direct convolution shares its chunks with the workers (where the plan memory is shared).
        KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = threaded ? 0 : Number.POSITIVE_INFINITY;
        fc.assert(
          fc.property(geometry, (g) => {
            const shape = [g.batch, g.inChannels, g.outHeight + g.kernelH - 1, g.outWidth + g.kernelW - 1];
            if (dtype === "float64" && g.outWidth < 2) return;
            const x = seededArray(shape, g.seed).astype(dtype);
            const w = seededArray([g.outChannels, g.inChannels, g.kernelH, g.kernelW], g.seed + 1).astype(
              dtype,
            );
            const direct = jitted(x, w, {}, true);
            const gemm = jitted(x, w, {}, false);
            expect(direct.directCalls).toBe(1);
            expect(gemm.directCalls).toBe(0);
            expectSameBits(direct.y, gemm.y);
            const want = naiveConv(x, w, {});
            const tol = dtype === "float64" ? 1e-12 : 2e-5;
            expectClose(direct.y.astype("float64"), want, tol, tol);
          }),
          runs,
        );
      });
    }
  }

  for (const dtype of ["float32", "float64"] as const) {
    for (const threaded of [false, true]) {
      it(`weight gradient, ${dtype}${threaded ? ", threaded" : ""}: the im2col GEMM's bits, and the definition's values`, () => {
        setBackend("wasm", { relaxedSimd: false });
        KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = threaded ? 0 : Number.POSITIVE_INFINITY;
        fc.assert(
          fc.property(geometry, (g) => {
            const shape = [g.batch, g.inChannels, g.outHeight + g.kernelH - 1, g.outWidth + g.kernelW - 1];
            const x = seededArray(shape, g.seed).astype(dtype);
            const wShape = [g.outChannels, g.inChannels, g.kernelH, g.kernelW];
            const w = seededArray(wShape, g.seed + 1).astype(dtype);
            const ct = seededArray([g.batch, g.outChannels, g.outHeight, g.outWidth], g.seed + 2).astype(
              dtype,
            );
            const direct = jittedWeightGrad(x, w, ct, true);
            const { batch, inChannels, outChannels, outHeight, outWidth } = g;
            const [inHeight, inWidth, kernelHeight, kernelWidth] = [
              shape[2]!,
              shape[3]!,
              g.kernelH,
              g.kernelW,
            ];
            const stride1 = { strideH: 1, strideW: 1, padTop: 0, padLeft: 0, dilationH: 1, dilationW: 1 };
            const sizes = { batch, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth };
            const columnOrder = columnOrderWeightGrad(
              { ...sizes, kernelHeight, kernelWidth, groups: 1, ...stride1 },
              dtype,
            );
            expect(columnOrder).toBe(g.outWidth % (dtype === "float32" ? 4 : 2) === 0);
            const gemm = jittedWeightGrad(x, w, ct, false);
            expect(direct.directCalls).toBe(1); // the weight gradient alone (the forward is not needed)
            expect(gemm.directCalls).toBe(0);
            if (columnOrder) {
              // summed per lane: the JS backend's kernel sums in the same order
              setBackend("js");
              const js = jittedWeightGrad(x, w, ct, true);
              setBackend("wasm", { relaxedSimd: false });
              expectSameBits(direct.dw, js.dw);
            } else expectSameBits(direct.dw, gemm.dw);
            const tol = dtype === "float64" ? 1e-12 : 2e-5;
            expectClose(direct.dw.astype("float64"), naiveWeightGrad(x, ct, wShape), tol, tol);
          }),
          runs,
        );
      });
    }
  }

  it("LeNet's layers at batch 32: threaded, single-threaded and im2col give the same bits", () => {
    setBackend("wasm"); // FMA where the engine has relaxed SIMD: the GEMM is the wasm one at this size
    for (const [C, O, size] of [
      [1, 6, 32],
      [6, 16, 14],
    ] as const) {
      const x = seededArray([32, C, size, size], C).astype("float32");
      const w = seededArray([O, C, 5, 5], O).astype("float32");
      KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = 0;
      const threaded = jitted(x, w, {}, true);
      KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = Number.POSITIVE_INFINITY;
      const alone = jitted(x, w, {}, true);
      const gemm = jitted(x, w, {}, false);
      expect([threaded.directCalls, alone.directCalls, gemm.directCalls]).toEqual([1, 1, 0]);
      expectSameBits(threaded.y, alone.y);
      expectSameBits(alone.y, gemm.y);
      expectClose(alone.y.astype("float64"), naiveConv(x, w, {}), 2e-5, 2e-5);
      const ct = seededArray([32, O, size - 4, size - 4], 7).astype("float32");
      KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = 0;
      const dwThreaded = jittedWeightGrad(x, w, ct, true);
      KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = Number.POSITIVE_INFINITY;
      const dwAlone = jittedWeightGrad(x, w, ct, true);
      const dwGemm = jittedWeightGrad(x, w, ct, false);
      expect([dwThreaded.directCalls, dwAlone.directCalls, dwGemm.directCalls]).toEqual([1, 1, 0]);
      expectSameBits(dwThreaded.dw, dwAlone.dw);
      // conv1's rows (28 columns) are whole vectors: summed per lane, not in the GEMM's order
      if (C === 6) expectSameBits(dwAlone.dw, dwGemm.dw);
      // sums of N*OH*OW = 25088 (conv1) products of magnitude ~1: float32 rounding reaches ~1e-4
      expectClose(dwAlone.dw.astype("float64"), naiveWeightGrad(x, ct, [O, C, 5, 5]), 2e-5, 1e-3);
    }
  });

  it("column-order weight gradient with many taps: threaded, single-threaded and the JS kernel agree", () => {
    setBackend("wasm", { relaxedSimd: false });
    // 8 channels x 3 x 3 = 72 taps (enough to share chunks with the workers), 8 output columns
    const x = seededArray([3, 8, 6, 10], 21).astype("float32");
    const w = seededArray([5, 8, 3, 3], 22).astype("float32");
    const ct = seededArray([3, 5, 4, 8], 23).astype("float32");
    KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = 0;
    const threaded = jittedWeightGrad(x, w, ct, true);
    KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds = Number.POSITIVE_INFINITY;
    const alone = jittedWeightGrad(x, w, ct, true);
    setBackend("js");
    const js = jittedWeightGrad(x, w, ct, true);
    expect([threaded.directCalls, alone.directCalls]).toEqual([1, 1]);
    expectSameBits(threaded.dw, alone.dw);
    expectSameBits(alone.dw, js.dw);
    expectClose(alone.dw.astype("float64"), naiveWeightGrad(x, ct, [5, 8, 3, 3]), 2e-5, 2e-5);
  });

  it("stride, padding, dilation, groups and narrow rows keep the im2col path", () => {
    setBackend("wasm");
    const cases: [number[], number[], Opts][] = [
      [[2, 4, 11, 13], [6, 4, 3, 3], { stride: [2, 1] }],
      [[2, 4, 11, 13], [6, 4, 3, 3], { padding: [1, 0] }],
      [[2, 4, 11, 13], [6, 4, 3, 3], { dilation: [1, 2] }],
      [[2, 4, 11, 13], [6, 2, 3, 3], { groups: 2 }],
      [[2, 3, 9, 3], [5, 3, 3, 3], {}], // 1 output column: less than a float64 vector
    ];
    for (const [xShape, wShape, opts] of cases) {
      const x = seededArray(xShape, 5);
      const w = seededArray(wShape, 6);
      const { y, directCalls } = jitted(x, w, opts, true);
      expect(directCalls).toBe(0);
      expectClose(y, naiveConv(x, w, opts), 1e-12, 1e-12);
      const ct = seededArray(y.shape as number[], 8);
      const weightGrad = jittedWeightGrad(x, w, ct, true, opts);
      expect(weightGrad.directCalls).toBe(0);
      expectSameBits(weightGrad.dw, jittedWeightGrad(x, w, ct, false, opts).dw);
    }
  });

  it("tiles: a row's vectors end at its end, and a tile's registers stay within the limit", () => {
    expect(vectorStarts(10, 4)).toEqual([0, 4, 6]);
    expect(vectorStarts(28, 4)).toEqual([0, 4, 8, 12, 16, 20, 24]);
    expect(vectorStarts(3, 4)).toEqual([]);
    const lenet = { batch: 32, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, dilationH: 1, dilationW: 1 };
    const conv1 = chooseTiling(
      {
        ...lenet,
        inChannels: 1,
        inHeight: 32,
        inWidth: 32,
        outChannels: 6,
        kernelHeight: 5,
        kernelWidth: 5,
        outHeight: 28,
        outWidth: 28,
        groups: 1,
      },
      4,
      8,
    );
    // eight accumulators or more (LATENCY_ACCUMULATORS), the fewest wasted columns: 2 channels x 4 vectors
    expect(conv1).toEqual({ channelBlock: 2, tileVectors: 4, bandRows: 28 });
    const conv2b1 = { ...lenet, batch: 1, inChannels: 6, inHeight: 14, inWidth: 14, outChannels: 16 };
    const g = { ...conv2b1, kernelHeight: 5, kernelWidth: 5, outHeight: 10, outWidth: 10, groups: 1 };
    const b1 = chooseTiling(g, 4, 8);
    expect(b1.channelBlock * b1.tileVectors + b1.channelBlock + b1.tileVectors).toBeLessThanOrEqual(15);
    expect([b1.channelBlock, b1.tileVectors]).toEqual([3, 3]); // 9 accumulators, a row's 3 vectors
    expect(directConvChunks(g, b1)).toBe(5); // one image: its 10 rows in bands of 2, a chunk each
    expect(directConvChunks(g, chooseTiling(g, 4, 0))).toBe(1); // unthreaded: one chunk per image
  });
});
