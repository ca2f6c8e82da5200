import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KERNEL_THRESHOLDS } from "../../src/backend/kernel-choice.js";
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

// The forward and weight-gradient kernels of one geometry share the unrolled input within a run, as the
// memory plan says (src/compiler/shared-buffers.ts): it must never be reused for another input or run.
// These stride-1 convolutions would run the direct kernels (wasm/direct-conv.ts, direct-weight-grad.ts),
// which read x in place and unroll nothing: turned off here, as on the im2col path of other geometries.
describe("the unrolled conv input shared by forward and weight gradient", () => {
  beforeAll(() => {
    KERNEL_THRESHOLDS.directConv = false;
  });
  afterAll(() => {
    KERNEL_THRESHOLDS.directConv = true;
  });
  const w = seededArray([4, 3, 3, 3], 41);
  const x1 = seededArray([2, 3, 8, 8], 42);
  const x2 = seededArray([2, 3, 8, 8], 43);
  const gradW = (f: (x: NdArray, v: NdArray) => NdArray) => grad(f, { argnums: 1 });

  it("a plan called again with a different input recomputes it", () => {
    const loss = (x: NdArray, v: NdArray) => np.sum(np.tanh(nn.conv2d(x, v)));
    const jitted = jit(gradW(loss));
    expectClose(jitted(x1, w), gradW(loss)(x1, w), 1e-12);
    expectClose(jitted(x2, w), gradW(loss)(x2, w), 1e-12);
    expectClose(jitted(x1, w), gradW(loss)(x1, w), 1e-12);
  });

  it("an intermediate buffer refilled by the next run is unrolled again (a lone weight gradient fills)", () => {
    // Linear in the conv output, so the plan keeps only the weight gradient, whose input tanh(x) lives
    // in the same arena slot on every run, with new contents.
    const c = seededArray([2, 4, 6, 6], 44);
    const loss = (x: NdArray, v: NdArray) => np.sum(nn.conv2d(np.tanh(x), v).mul(c));
    const [want1, want2] = [gradW(loss)(x1, w), gradW(loss)(x2, w)];
    const jitted = jit(gradW(loss));
    const got1 = jitted(x1, w);
    const got2 = jitted(x2, w); // directly after: nothing else touched the shared columns
    expectClose(got1, want1, 1e-12);
    expectClose(got2, want2, 1e-12);
    expect(sharedLines(jit(gradW(loss)).lower(x1, w).toString())).toEqual([
      "step 1 conv2d_weight_grad fills from d",
    ]);
  });

  it("two convolutions of one geometry on different inputs in one run keep their own", () => {
    const loss = (x: NdArray, v: NdArray) =>
      np.sum(np.tanh(nn.conv2d(x, v)).mul(nn.conv2d(x.mul(-2).add(1), v)));
    expectClose(jit(gradW(loss))(x1, w), gradW(loss)(x1, w), 1e-12);
    // One buffer for the geometry: each step finds it holding the other input's columns, so each fills.
    expect(sharedLines(jit(gradW(loss)).lower(x1, w).toString())).toEqual([
      "step 0 conv2d fills from a, step 2 conv2d fills from k, step 4 conv2d_weight_grad fills from a, step 5 conv2d_weight_grad fills from k",
    ]);
  });

  it("the weight gradient reads what the forward of the same input filled, in the printed plan", () => {
    const loss = (x: NdArray, v: NdArray) => np.sum(np.tanh(nn.conv2d(x, v)));
    expect(sharedLines(jit(gradW(loss)).lower(x1, w).toString())).toEqual([
      "step 0 conv2d fills from a, step 2 conv2d_weight_grad reads (a)",
    ]);
  });

  it("with several groups the buffer holds one group's columns: never read again", () => {
    const w3 = seededArray([6, 1, 3, 3], 45);
    const loss = (x: NdArray, v: NdArray) => np.sum(np.tanh(nn.conv2d(x, v, undefined, { groups: 3 })));
    expect(sharedLines(jit(gradW(loss)).lower(x1, w3).toString())).toEqual([
      "step 0 conv2d fills from a, step 2 conv2d_weight_grad fills from a",
    ]);
    expectClose(jit(gradW(loss))(x1, w3), gradW(loss)(x1, w3), 1e-12);
  });

  it("eager calls between jit runs do not see a stale one", () => {
    const loss = (x: NdArray, v: NdArray) => np.sum(np.square(nn.conv2d(x, v)));
    const eager1 = gradW(loss)(x1, w);
    const jitted = jit(gradW(loss));
    jitted(x2, w);
    expectClose(gradW(loss)(x1, w), eager1, 0);
    expectClose(jitted(x1, w), eager1, 1e-12);
    expectClose(gradW(loss)(x2, w), jitted(x2, w), 1e-12);
  });
});

/** The uses of each shared buffer, as the printed plan lists them. */
function sharedLines(plan: string): string[] {
  return [...plan.matchAll(/^ {2}shared \d+ @\d+ \d+ bytes, [^:]*: (.*)$/gm)].map((m) => m[1]!);
}
