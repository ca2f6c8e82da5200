import fc from "fast-check";
import { describe, it } from "vitest";
import { grad, jit, type Array as NdArray, nn, np } from "../../src/index.js";
import { expectClose, seededArray } from "../helpers/numeric.js";

// The jitted convolution runs batched im2col + GEMM kernels (src/backend/conv-gemm.ts); eager runs the
// per-image JS kernels. Random geometries check the three lowered kernels against eager evaluation.
describe("jitted conv2d kernels equal eager ones", () => {
  const geometry = fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 3 }),
    inPerGroup: fc.integer({ min: 1, max: 3 }),
    outPerGroup: fc.integer({ min: 1, max: 3 }),
    size: fc.integer({ min: 5, max: 11 }),
    kernel: fc.integer({ min: 1, max: 4 }),
    stride: fc.integer({ min: 1, max: 3 }),
    padding: fc.integer({ min: 0, max: 2 }),
    dilation: fc.integer({ min: 1, max: 2 }),
    seed: fc.integer({ min: 1, max: 10_000 }),
  });

  for (const dtype of ["float64", "float32"] as const) {
    it(`${dtype}: forward, input gradient and weight gradient`, () => {
      fc.assert(
        fc.property(geometry, (g) => {
          const C = g.groups * g.inPerGroup;
          const O = g.groups * g.outPerGroup;
          if ((g.kernel - 1) * g.dilation + 1 > g.size + 2 * g.padding) return; // empty output
          const x = seededArray([g.batch, C, g.size, g.size + 1], g.seed).astype(dtype);
          const w = seededArray([O, g.inPerGroup, g.kernel, g.kernel], g.seed + 1).astype(dtype);
          const opts = { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups };
          const f = (a: NdArray, b: NdArray) => nn.conv2d(a, b, undefined, opts);
          const loss = (a: NdArray, b: NdArray) => np.sum(np.square(f(a, b)));
          const tol = dtype === "float64" ? 1e-12 : 2e-5;
          expectClose(jit(f)(x, w), f(x, w), tol, tol);
          const [gx, gw] = grad(loss, { argnums: [0, 1] })(x, w) as NdArray[];
          const [jx, jw] = jit(grad(loss, { argnums: [0, 1] }))(x, w) as NdArray[];
          expectClose(jx!, gx!, tol, tol);
          expectClose(jw!, gw!, tol, tol);
        }),
        { numRuns: Number(process.env.LAWS_RUNS ?? 25), seed: Number(process.env.LAWS_SEED ?? 20261122) },
      );
    });
  }
});
