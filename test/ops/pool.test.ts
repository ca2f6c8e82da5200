/**
 * Max and average pooling: forward against naive loops (padding, strides, rectangular windows, -infinity
 * padding, NaN), PyTorch golden values, indices and gradients, the tie conventions, the gather/scatter
 * transpose pair, batching and second order.
 */
import { describe, expect, it } from "vitest";
import { ConcreteArray } from "../../src/core/array.js";
import { type Shape, sizeOf } from "../../src/core/shape.js";
import { grad, jit, jvp, makeProgram, type NdArray, nn, np, ShapeError, vjp, vmap } from "../../src/index.js";
import { convOutputSize } from "../../src/ops/conv.js";
import {
  type MaxPoolParams,
  maxPool2dArgmaxPrim,
  maxPool2dIndices,
  poolGatherPrim,
  poolScatterAddPrim,
} from "../../src/ops/pool.js";
import { expectClose, FLOAT64_TOLERANCE, loadVjpCases, toArray } from "../golden/golden.js";
import { rng } from "../helpers/numeric.js";

const TIGHT = { atol: 1e-12, rtol: 1e-12 };

function random(shape: Shape, seed: number): NdArray {
  const next = rng(seed);
  return np.array(Array.from({ length: sizeOf(shape) }, next), { shape: [...shape], dtype: "float64" });
}

const vdot = (a: NdArray, b: NdArray): number => np.sum(np.multiply(a, b)).item();

/** A naive pooling loop: max (with PyTorch's index) or average (with the chosen divisor). */
function naivePool(
  x: NdArray,
  kind: "max" | "avg",
  k: [number, number],
  s: [number, number],
  p: [number, number],
  countIncludePad = true,
): { values: NdArray; indices: number[] } {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const oh = convOutputSize(h, k[0], s[0], [p[0], p[0]], 1);
  const ow = convOutputSize(w, k[1], s[1], [p[1], p[1]], 1);
  const xs = x.toTypedArray();
  const out = new Float64Array(n * c * oh * ow);
  const indices: number[] = [];
  let o = 0;
  for (let plane = 0; plane < n * c; plane++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++, o++) {
        let best = Number.NEGATIVE_INFINITY;
        let at = -1;
        let sum = 0;
        let count = 0;
        for (let a = 0; a < k[0]; a++)
          for (let b = 0; b < k[1]; b++) {
            const hh = i * s[0] - p[0] + a;
            const ww = j * s[1] - p[1] + b;
            if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
            const v = xs[plane * h * w + hh * w + ww]!;
            if (at < 0 || v > best) {
              best = v;
              at = hh * w + ww;
            }
            sum += v;
            count++;
          }
        out[o] = kind === "max" ? best : sum / (countIncludePad ? k[0] * k[1] : count);
        indices.push(at);
      }
  return { values: new ConcreteArray([n, c, oh, ow], "float64", out), indices };
}

function poolParams(k: [number, number], s: [number, number], p: [number, number]): MaxPoolParams {
  return {
    kernel: k,
    stride: s,
    padding: [
      [p[0], p[0]],
      [p[1], p[1]],
    ],
  };
}

describe("maxPool2d forward", () => {
  const cases: { name: string; x: Shape; k: [number, number]; s: [number, number]; p: [number, number] }[] = [
    { name: "2x2 stride 2", x: [2, 3, 8, 8], k: [2, 2], s: [2, 2], p: [0, 0] },
    { name: "floor output", x: [1, 2, 7, 9], k: [2, 3], s: [2, 2], p: [0, 0] },
    { name: "overlapping with padding", x: [2, 2, 7, 6], k: [3, 3], s: [1, 2], p: [1, 1] },
    { name: "rectangular", x: [1, 1, 5, 11], k: [1, 4], s: [3, 1], p: [0, 2] },
    { name: "size-1 input", x: [1, 1, 1, 1], k: [1, 1], s: [1, 1], p: [0, 0] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const x = random(c.x, 1);
      const ref = naivePool(x, "max", c.k, c.s, c.p);
      expectClose(nn.maxPool2d(x, c.k, { stride: c.s, padding: c.p }), ref.values, TIGHT);
      expect(Array.from(maxPool2dIndices(x, poolParams(c.k, c.s, c.p)).toTypedArray())).toEqual(ref.indices);
    });
  }

  it("stride defaults to the kernel; unbatched [C, H, W] input", () => {
    const x = random([3, 6, 6], 2);
    const y = nn.maxPool2d(x, 2);
    expect(y.shape).toEqual([3, 3, 3]);
    expectClose(
      y,
      np.reshape(naivePool(np.reshape(x, [1, 3, 6, 6]), "max", [2, 2], [2, 2], [0, 0]).values, [3, 3, 3]),
      TIGHT,
    );
  });

  it("padding is -infinity: it never wins, even over all-negative windows", () => {
    const x = np.array(
      [
        [
          [
            [-5, -4],
            [-3, -2],
          ],
        ],
      ],
      { dtype: "float64" },
    );
    const y = nn.maxPool2d(x, 2, { stride: 1, padding: 1 });
    expect(y.toArray()).toEqual([
      [
        [
          [-5, -4, -4],
          [-3, -2, -2],
          [-3, -2, -2],
        ],
      ],
    ]);
  });

  it("NaN propagates; -infinity inputs keep the first real index", () => {
    const x = np.array(
      [
        [
          [
            [1, Number.NaN, 3, 4],
            [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, 0],
          ],
        ],
      ],
      {
        dtype: "float64",
      },
    );
    const y = nn.maxPool2d(x, [1, 2]).toTypedArray();
    expect(Number.isNaN(y[0])).toBe(true);
    expect(Array.from(y.slice(1))).toEqual([4, Number.NEGATIVE_INFINITY, 0]);
    const idx = Array.from(maxPool2dIndices(x, poolParams([1, 2], [1, 2], [0, 0])).toTypedArray());
    expect(idx).toEqual([1, 3, 4, 6]);
  });

  it("float32 stays float32", () => {
    const x = random([1, 2, 4, 4], 3).astype("float32");
    const y = nn.maxPool2d(x, 2);
    expect(y.dtype).toBe("float32");
    expectClose(y.astype("float64"), nn.maxPool2d(x.astype("float64"), 2), TIGHT);
  });

  it("errors", () => {
    expect(() => nn.maxPool2d(np.zeros([1, 1, 8, 8]), 3, { padding: 2 })).toThrow(
      "maxPool2d: padding should be at most half of the kernel size",
    );
    expect(() => nn.maxPool2d(np.zeros([1, 1, 2, 2]), 3)).toThrow(ShapeError);
    expect(() => nn.maxPool2d(np.zeros([1, 1, 2, 2]), 3)).toThrow("maxPool2d: output would be empty (0x0)");
    expect(() => nn.maxPool2d(np.zeros([8, 8]), 2)).toThrow(
      "maxPool2d: expected a 3-D (unbatched) or 4-D (batched) input",
    );
    expect(() => nn.maxPool2d(np.zeros([1, 1, 4, 4], { dtype: "int32" }), 2)).toThrow(
      "expected a float32 or float64 input",
    );
    expect(() => nn.maxPool2d(np.zeros([1, 1, 4, 4]), 0)).toThrow("kernel must be a positive integer");
    expect(() =>
      maxPool2dArgmaxPrim.bind1([np.zeros([1, 1, 4, 4])], poolParams([2, 2], [1, 1], [2, 0])),
    ).toThrow(
      "max_pool2d_argmax: padding must be [[top, bottom], [left, right]] non-negative integers smaller than the kernel",
    );
  });
});

describe("avgPool2d forward", () => {
  it("count_include_pad true and false, divisorOverride, unbatched", () => {
    const x = random([2, 3, 7, 8], 4);
    const k: [number, number] = [3, 2];
    const s: [number, number] = [2, 1];
    const p: [number, number] = [1, 1];
    expectClose(
      nn.avgPool2d(x, k, { stride: s, padding: p }),
      naivePool(x, "avg", k, s, p, true).values,
      TIGHT,
    );
    expectClose(
      nn.avgPool2d(x, k, { stride: s, padding: p, countIncludePad: false }),
      naivePool(x, "avg", k, s, p, false).values,
      TIGHT,
    );
    expectClose(
      nn.avgPool2d(x, k, { stride: s, padding: p, divisorOverride: 5 }),
      np.divide(np.multiply(naivePool(x, "avg", k, s, p, true).values, 6), 5),
      TIGHT,
    );
    const x3 = np.reshape(np.moveaxis(x, 0, 0), [6, 7, 8]);
    expect(nn.avgPool2d(x3, 2).shape).toEqual([6, 3, 4]);
  });

  it("errors", () => {
    expect(() => nn.avgPool2d(np.zeros([1, 1, 8, 8]), 2, { padding: 2 })).toThrow(
      "avgPool2d: padding should be at most half",
    );
    expect(() => nn.avgPool2d(np.zeros([1, 1, 8, 8]), 2, { divisorOverride: 0 })).toThrow("divisorOverride");
  });
});

// ---------------------------------------------------------------------------------------------------

describe("pool golden (PyTorch, float64)", () => {
  for (const c of loadVjpCases("pool.json")) {
    it(c.name, () => {
      const attrs = c.attrs as {
        kernel_size: [number, number];
        stride: [number, number];
        padding: [number, number];
        count_include_pad?: boolean;
      };
      const x = toArray(c.inputs["x"]!);
      const options = { stride: attrs.stride, padding: attrs.padding };
      const f =
        c.op === "max_pool2d"
          ? (a: NdArray) => nn.maxPool2d(a, attrs.kernel_size, options)
          : (a: NdArray) =>
              nn.avgPool2d(a, attrs.kernel_size, {
                ...options,
                countIncludePad: attrs.count_include_pad ?? true,
              });
      const [out, back] = vjp(f, x);
      expectClose(out, c.outputs["out"]!, FLOAT64_TOLERANCE, `${c.name} out`);
      const [dx] = back(toArray(c.cotangent["out"]!));
      expectClose(dx, c.grads["x"]!, FLOAT64_TOLERANCE, `${c.name} d x`);
      if (c.outputs["indices"]) {
        const indices = maxPool2dIndices(x, poolParams(attrs.kernel_size, attrs.stride, attrs.padding));
        expect(Array.from(indices.toTypedArray())).toEqual(c.outputs["indices"].data);
      }
    });
  }
});

describe("max-pool tie conventions (edge_semantics.json)", () => {
  for (const c of loadVjpCases("edge_semantics.json").filter((e) => e.op === "max_pool2d")) {
    it(`${c.name}: ${c.note}`, () => {
      const attrs = c.attrs as {
        kernel_size: [number, number];
        stride: [number, number];
        padding: [number, number];
      };
      const x = toArray(c.inputs["x"]!);
      const [out, back] = vjp(
        (a: NdArray) => nn.maxPool2d(a, attrs.kernel_size, { stride: attrs.stride, padding: attrs.padding }),
        x,
      );
      expectClose(out, c.outputs["out"]!, FLOAT64_TOLERANCE, "out");
      expectClose(back(toArray(c.cotangent["out"]!))[0], c.grads["x"]!, FLOAT64_TOLERANCE, "grad");
      if (c.outputs["indices"]) {
        const indices = maxPool2dIndices(x, poolParams(attrs.kernel_size, attrs.stride, attrs.padding));
        expect(Array.from(indices.toTypedArray())).toEqual(c.outputs["indices"].data);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------

describe("gather / scatter-add and max-pool derivatives", () => {
  const x = random([2, 3, 7, 6], 5);
  const params = poolParams([3, 2], [2, 2], [1, 1]);
  const idx = maxPool2dArgmaxPrim.bind1([x], params);
  const gather = (t: NdArray) => poolGatherPrim.bind1([t, idx], {});
  const scatter = (ct: NdArray) => poolScatterAddPrim.bind1([ct, idx], { planeShape: [7, 6] });

  it("dot-product test: pool_gather and pool_scatter_add are each other's transpose", () => {
    const u = random(idx.shape, 6);
    const v = random(x.shape, 7);
    expect(vdot(u, gather(v))).toBeCloseTo(vdot(scatter(u), v), 12);
    const [, backGather] = vjp(gather, v);
    expectClose(backGather(u)[0], scatter(u), TIGHT);
    const [, backScatter] = vjp(scatter, u);
    expectClose(backScatter(v)[0], gather(v), TIGHT);
  });

  it("jvp gathers the tangent at the argmax", () => {
    const t = random(x.shape, 8);
    const [y, ty] = jvp((a: NdArray) => nn.maxPool2d(a, [3, 2], { stride: 2, padding: 1 }), [x], [t]);
    expectClose(y, nn.maxPool2d(x, [3, 2], { stride: 2, padding: 1 }), TIGHT);
    expectClose(ty, gather(t), TIGHT);
  });

  it("second order: grad of grad of sum(maxPool(x)^3) matches finite differences", () => {
    const f = (a: NdArray) => np.sum(np.power(nn.maxPool2d(a, 2, { stride: 1 }), 3));
    const v = random(x.shape, 9);
    const g = (a: NdArray) => np.sum(np.multiply(grad(f)(a), v));
    const hv = grad(g)(x);
    const h = 1e-6;
    const fd = np.divide(
      np.subtract(grad(f)(np.add(x, np.multiply(v, h))), grad(f)(np.subtract(x, np.multiply(v, h)))),
      2 * h,
    );
    expectClose(hv, fd, { atol: 1e-7, rtol: 1e-6 });
  });

  it("disjoint windows mark their indices distinct; the scatter then writes each cell once, same bits", () => {
    const program = (kernel: number, stride: number) =>
      makeProgram(grad((a: NdArray) => np.sum(nn.maxPool2d(a, kernel, { stride }))))(x).toString();
    expect(program(2, 2)).toContain("distinctIndices=true"); // LeNet's pooling
    expect(program(3, 3)).toContain("distinctIndices=true");
    expect(program(3, 2)).not.toContain("distinctIndices"); // overlapping windows accumulate
    expect(program(2, 1)).not.toContain("distinctIndices");
    const disjoint = poolParams([2, 2], [2, 2], [0, 0]);
    for (const dtype of ["float32", "float64"] as const) {
      const xd = x.astype(dtype);
      const at = maxPool2dArgmaxPrim.bind1([xd], disjoint);
      // signed zeros and values that float32 rounds: 0 + ct in the dtype is the float64 sum rounded once
      const values = Array.from(random(at.shape, 11).toTypedArray());
      values[0] = 0;
      values[1] = -0;
      values[2] = 1e-30; // below float32's normal range
      const ct = np.array(values, { shape: [...at.shape], dtype: "float64" }).astype(dtype);
      const scatterWith = (params: { distinctIndices?: boolean }) =>
        jit((c: NdArray, i: NdArray) => poolScatterAddPrim.bind1([c, i], { planeShape: [7, 6], ...params }));
      const want = poolScatterAddPrim.bind1([ct, at], { planeShape: [7, 6] }).toTypedArray(); // eager, float64 sums
      for (const got of [scatterWith({ distinctIndices: true })(ct, at), scatterWith({})(ct, at)]) {
        const g = got.toTypedArray();
        expect(g.length).toBe(want.length);
        for (let k = 0; k < g.length; k++) expect(Object.is(g[k], want[k])).toBe(true);
      }
    }
  });

  it("avg-pool gradients spread the cotangent evenly (through conv2d's rules)", () => {
    const xs = random([1, 1, 4, 4], 10);
    const g = grad((a: NdArray) => np.sum(nn.avgPool2d(a, 2)))(xs);
    expect(Array.from(g.toTypedArray())).toEqual(new Array(16).fill(0.25));
  });
});

describe("vmap of pooling", () => {
  const xs = random([3, 2, 2, 6, 6], 11);
  const slices = (a: NdArray, axis: number): NdArray[] =>
    Array.from({ length: a.shape[axis]! }, (_, i) => {
      const moved = np.moveaxis(a, axis, 0);
      const inner = sizeOf(moved.shape.slice(1));
      return new ConcreteArray(
        moved.shape.slice(1),
        a.dtype,
        moved.toTypedArray().slice(i * inner, (i + 1) * inner),
      );
    });
  const stacked = (parts: NdArray[]): NdArray =>
    np.reshape(
      np.array(
        parts.flatMap((p) => Array.from(p.toTypedArray())),
        { dtype: "float64" },
      ),
      [parts.length, ...parts[0]!.shape],
    );

  it("maxPool2d, its gradient and avgPool2d under vmap (batch on axis 2)", () => {
    const moved = np.moveaxis(xs, 0, 2);
    const f = (a: NdArray) => nn.maxPool2d(a, 3, { stride: 2, padding: 1 });
    expectClose(vmap(f, { inAxes: 2 })(moved), stacked(slices(xs, 0).map(f)), TIGHT);
    const loss = (a: NdArray) => np.sum(np.square(f(a)));
    expectClose(vmap(grad(loss), { inAxes: 2 })(moved), stacked(slices(xs, 0).map(grad(loss))), TIGHT);
    const avg = (a: NdArray) => nn.avgPool2d(a, 2, { padding: 1, countIncludePad: false });
    expectClose(vmap(avg, { inAxes: 2 })(moved), stacked(slices(xs, 0).map(avg)), TIGHT);
  });

  it("gather and scatter-add with batched values and unbatched indices (and the reverse)", () => {
    const x = slices(xs, 0)[0]!;
    const params = poolParams([2, 2], [2, 2], [0, 0]);
    const idx = maxPool2dArgmaxPrim.bind1([x], params);
    const gather = (t: NdArray, i: NdArray) => poolGatherPrim.bind1([t, i], {});
    expectClose(
      vmap(gather, { inAxes: [0, null] })(xs, idx),
      stacked(slices(xs, 0).map((t) => gather(t, idx))),
      TIGHT,
    );
    const idxs = vmap((a: NdArray) => maxPool2dArgmaxPrim.bind1([a], params))(xs);
    expectClose(
      vmap(gather, { inAxes: [null, 0] })(x, idxs),
      stacked(slices(idxs, 0).map((i) => gather(x, i))),
      TIGHT,
    );
    const cts = random([3, 2, 2, 3, 3], 12);
    const scatter = (c: NdArray, i: NdArray) => poolScatterAddPrim.bind1([c, i], { planeShape: [6, 6] });
    expectClose(
      vmap(scatter, { inAxes: [0, 0] })(cts, idxs),
      stacked(slices(cts, 0).map((c, b) => scatter(c, slices(idxs, 0)[b]!))),
      TIGHT,
    );
  });
});
