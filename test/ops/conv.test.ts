/**
 * conv2d and its two transposes: forward against a naive loop (stride, padding, dilation, groups,
 * rectangular shapes, size-1 dims, unbatched input), the nn front-ends and their errors, PyTorch golden
 * values and gradients, the dot-product test of the transpose closure, every batching rule, and second
 * order derivatives.
 */
import { describe, expect, it } from "vitest";
import { ConcreteArray } from "../../src/core/array.js";
import type { DType } from "../../src/core/dtype.js";
import { type Shape, sizeOf } from "../../src/core/shape.js";
import { grad, jvp, makeProgram, type NdArray, nn, np, ShapeError, vjp, vmap } from "../../src/index.js";
import {
  type ConvParams,
  conv2dInputGradPrim,
  conv2dPrim,
  conv2dWeightGradPrim,
  convOutputSize,
} from "../../src/ops/conv.js";
import { expectClose, FLOAT64_TOLERANCE, loadVjpCases, toArray } from "../golden/golden.js";
import { rng } from "../helpers/numeric.js";

const TIGHT = { atol: 1e-12, rtol: 1e-12 };

function random(shape: Shape, seed: number, dtype: DType = "float64"): NdArray {
  const next = rng(seed);
  return np.array(Array.from({ length: sizeOf(shape) }, next), { shape: [...shape], dtype });
}

function params(p: Partial<ConvParams> = {}): ConvParams {
  return {
    stride: p.stride ?? [1, 1],
    padding: p.padding ?? [
      [0, 0],
      [0, 0],
    ],
    dilation: p.dilation ?? [1, 1],
    groups: p.groups ?? 1,
  };
}

/** The definition, one output element at a time. */
function naiveConv(x: NdArray, w: NdArray, p: ConvParams): NdArray {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [o, cg, kh, kw] = w.shape as [number, number, number, number];
  const oh = convOutputSize(h, kh, p.stride[0], p.padding[0], p.dilation[0]);
  const ow = convOutputSize(wd, kw, p.stride[1], p.padding[1], p.dilation[1]);
  const xs = x.toTypedArray();
  const ws = w.toTypedArray();
  const og = o / p.groups;
  const out = new Float64Array(n * o * oh * ow);
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = 0;
          const g = Math.floor(oc / og);
          for (let ci = 0; ci < cg; ci++)
            for (let pi = 0; pi < kh; pi++)
              for (let qi = 0; qi < kw; qi++) {
                const hh = i * p.stride[0] - p.padding[0][0] + pi * p.dilation[0];
                const ww = j * p.stride[1] - p.padding[1][0] + qi * p.dilation[1];
                if (hh < 0 || hh >= h || ww < 0 || ww >= wd) continue;
                s +=
                  xs[((b * c + g * cg + ci) * h + hh) * wd + ww]! * ws[((oc * cg + ci) * kh + pi) * kw + qi]!;
              }
          out[((b * o + oc) * oh + i) * ow + j] = s;
        }
  return new ConcreteArray([n, o, oh, ow], "float64", out);
}

/** PyTorch's conv_transpose2d by its definition: every input element scatters weight * value. */
function naiveConvTranspose(
  x: NdArray,
  w: NdArray,
  stride: [number, number],
  padding: [number, number],
  outputPadding: [number, number],
  dilation: [number, number],
  groups: number,
): NdArray {
  const [n, cin, h, wd] = x.shape as [number, number, number, number];
  const [, cog, kh, kw] = w.shape as [number, number, number, number];
  const cout = cog * groups;
  const cig = cin / groups;
  const oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + outputPadding[0] + 1;
  const ow = (wd - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + outputPadding[1] + 1;
  const xs = x.toTypedArray();
  const ws = w.toTypedArray();
  const out = new Float64Array(n * cout * oh * ow);
  for (let b = 0; b < n; b++)
    for (let ci = 0; ci < cin; ci++) {
      const g = Math.floor(ci / cig);
      for (let i = 0; i < h; i++)
        for (let j = 0; j < wd; j++)
          for (let co = 0; co < cog; co++)
            for (let pi = 0; pi < kh; pi++)
              for (let qi = 0; qi < kw; qi++) {
                const hh = i * stride[0] - padding[0] + pi * dilation[0];
                const ww = j * stride[1] - padding[1] + qi * dilation[1];
                if (hh < 0 || hh >= oh || ww < 0 || ww >= ow) continue;
                out[((b * cout + g * cog + co) * oh + hh) * ow + ww]! +=
                  xs[((b * cin + ci) * h + i) * wd + j]! * ws[((ci * cog + co) * kh + pi) * kw + qi]!;
              }
    }
  return new ConcreteArray([n, cout, oh, ow], "float64", out);
}

const vdot = (a: NdArray, b: NdArray): number => np.sum(np.multiply(a, b)).item();

/** Stacks concrete arrays along a new axis 0 (test-local, so these tests depend only on conv). */
function stack(xs: NdArray[]): NdArray {
  const parts = xs.map((x) => x.toTypedArray());
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let k = 0;
  for (const p of parts) {
    out.set(p, k);
    k += p.length;
  }
  return new ConcreteArray([xs.length, ...xs[0]!.shape], "float64", out);
}

/** Slice `i` of axis `axis`, as a concrete array. */
function take(x: NdArray, axis: number, i: number): NdArray {
  const moved = np.moveaxis(x, axis, 0);
  const inner = sizeOf(moved.shape.slice(1));
  const data = moved.toTypedArray().slice(i * inner, (i + 1) * inner);
  return new ConcreteArray(moved.shape.slice(1), x.dtype, data);
}

// ---------------------------------------------------------------------------------------------------

describe("conv2d forward", () => {
  const cases: { name: string; x: Shape; w: Shape; p: Partial<ConvParams> }[] = [
    { name: "plain", x: [2, 3, 7, 6], w: [4, 3, 3, 2], p: {} },
    { name: "stride 2x3", x: [1, 2, 9, 10], w: [3, 2, 3, 3], p: { stride: [2, 3] } },
    {
      name: "asymmetric padding",
      x: [2, 2, 5, 6],
      w: [3, 2, 3, 3],
      p: {
        padding: [
          [2, 0],
          [1, 3],
        ],
      },
    },
    { name: "dilation", x: [1, 2, 9, 9], w: [2, 2, 3, 2], p: { dilation: [2, 3] } },
    { name: "groups 3", x: [2, 6, 5, 5], w: [9, 2, 2, 3], p: { groups: 3 } },
    {
      name: "depthwise",
      x: [2, 4, 6, 6],
      w: [4, 1, 3, 3],
      p: {
        groups: 4,
        padding: [
          [1, 1],
          [1, 1],
        ],
      },
    },
    {
      name: "everything at once",
      x: [2, 4, 11, 8],
      w: [6, 2, 3, 2],
      p: {
        stride: [2, 1],
        padding: [
          [1, 2],
          [0, 1],
        ],
        dilation: [2, 3],
        groups: 2,
      },
    },
    { name: "1x1 kernel", x: [3, 5, 4, 4], w: [2, 5, 1, 1], p: {} },
    { name: "kernel covers input", x: [2, 3, 4, 5], w: [2, 3, 4, 5], p: {} },
    { name: "size-1 dims", x: [1, 1, 1, 7], w: [1, 1, 1, 3], p: {} },
    { name: "stride bigger than kernel", x: [1, 1, 10, 10], w: [1, 1, 2, 2], p: { stride: [4, 3] } },
    {
      name: "padding bigger than kernel",
      x: [1, 2, 3, 3],
      w: [1, 2, 2, 2],
      p: {
        padding: [
          [3, 3],
          [2, 4],
        ],
      },
    },
    {
      name: "negative padding crops",
      x: [1, 2, 6, 6],
      w: [2, 2, 2, 2],
      p: {
        padding: [
          [-1, 0],
          [0, -2],
        ],
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const x = random(c.x, 1);
      const w = random(c.w, 2);
      const p = params(c.p);
      expectClose(conv2dPrim.bind1([x, w], p), naiveConv(x, w, p), TIGHT, c.name);
    });
  }

  it("float32 agrees with float64 and stays float32", () => {
    const x = random([2, 3, 8, 8], 3);
    const w = random([4, 3, 3, 3], 4);
    const y32 = nn.conv2d(x.astype("float32"), w.astype("float32"), null, { padding: 1, stride: 2 });
    expect(y32.dtype).toBe("float32");
    expectClose(y32.astype("float64"), nn.conv2d(x, w, null, { padding: 1, stride: 2 }), {
      atol: 1e-5,
      rtol: 1e-5,
    });
  });

  it("the IR shows the parameters", () => {
    const program = makeProgram((x: NdArray, w: NdArray) => nn.conv2d(x, w, null, { stride: 2, padding: 1 }))(
      np.zeros([1, 1, 5, 5]),
      np.zeros([1, 1, 3, 3]),
    );
    expect(program.toString()).toContain(
      "conv2d[stride=(2,2) padding=((1,1),(1,1)) dilation=(1,1) groups=1]",
    );
  });
});

describe("nn.conv2d", () => {
  const x = random([2, 3, 7, 8], 5);
  const w = random([4, 3, 3, 3], 6);
  const b = random([4], 7);

  it("adds the bias over [1, C, 1, 1]", () => {
    const y = nn.conv2d(x, w, b);
    const ref = np.add(naiveConv(x, w, params()), np.reshape(b, [1, 4, 1, 1]));
    expectClose(y, ref, TIGHT);
  });

  it("number and pair arguments", () => {
    const y = nn.conv2d(x, w, null, { stride: [2, 1], padding: [1, 2], dilation: 2 });
    const p = params({
      stride: [2, 1],
      padding: [
        [1, 1],
        [2, 2],
      ],
      dilation: [2, 2],
    });
    expectClose(y, naiveConv(x, w, p), TIGHT);
  });

  it("padding 'valid' and 'same' (odd total padding goes bottom/right)", () => {
    expectClose(nn.conv2d(x, w, null, { padding: "valid" }), naiveConv(x, w, params()), TIGHT);
    const same = nn.conv2d(x, w, null, { padding: "same" });
    expect(same.shape).toEqual([2, 4, 7, 8]);
    expectClose(
      same,
      naiveConv(
        x,
        w,
        params({
          padding: [
            [1, 1],
            [1, 1],
          ],
        }),
      ),
      TIGHT,
    );
    const wEven = random([2, 3, 4, 2], 8);
    const sameEven = nn.conv2d(x, wEven, null, { padding: "same", dilation: [1, 3] });
    expect(sameEven.shape).toEqual([2, 2, 7, 8]);
    // total 3 rows -> 1 top, 2 bottom; total 3 columns (dilation 3) -> 1 left, 2 right.
    expectClose(
      sameEven,
      naiveConv(
        x,
        wEven,
        params({
          padding: [
            [1, 2],
            [1, 2],
          ],
          dilation: [1, 3],
        }),
      ),
      TIGHT,
    );
  });

  it("takes an unbatched [C, H, W] input", () => {
    const x3 = take(x, 0, 1);
    const y = nn.conv2d(x3, w, b, { padding: 1 });
    expect(y.shape).toEqual([4, 7, 8]);
    expectClose(y, take(nn.conv2d(x, w, b, { padding: 1 }), 0, 1), TIGHT);
  });

  it("promotes integer input to float", () => {
    const xi = np.ones([1, 1, 3, 3], { dtype: "int32" });
    const y = nn.conv2d(xi, np.ones([1, 1, 2, 2]));
    expect(y.dtype).toBe("float32");
    expect(Array.from(y.toTypedArray())).toEqual([4, 4, 4, 4]);
  });

  it("errors name the op and both shapes", () => {
    expect(() => nn.conv2d(np.zeros([1, 3, 32, 32]), np.zeros([6, 1, 5, 5]))).toThrow(
      "conv2d: input has 3 channels but weight expects 1 (groups=1): x [1,3,32,32], w [6,1,5,5]",
    );
    expect(() => nn.conv2d(np.zeros([3, 32, 32]), np.zeros([6, 1, 5, 5]))).toThrow(
      "conv2d: input has 3 channels but weight expects 1 (groups=1): x [3,32,32], w [6,1,5,5]",
    );
    expect(() => nn.conv2d(np.zeros([1, 4, 8, 8]), np.zeros([6, 2, 3, 3]), null, { groups: 4 })).toThrow(
      "conv2d: weight has 6 output channels, not divisible by groups=4",
    );
    expect(() => nn.conv2d(np.zeros([32, 32]), np.zeros([6, 1, 5, 5]))).toThrow(
      "conv2d: expected a 3-D (unbatched) or 4-D (batched) input [N, C, H, W], got [32,32]",
    );
    expect(() => nn.conv2d(np.zeros([1, 1, 8, 8]), np.zeros([1, 5, 5]))).toThrow(
      "conv2d: expected a 4-D weight",
    );
    expect(() => nn.conv2d(np.zeros([1, 1, 4, 4]), np.zeros([1, 1, 5, 5]))).toThrow(ShapeError);
    expect(() => nn.conv2d(np.zeros([1, 1, 4, 4]), np.zeros([1, 1, 5, 5]))).toThrow("output would be empty");
    expect(() => nn.conv2d(np.zeros([1, 1, 8, 8]), np.zeros([2, 1, 3, 3]), np.zeros([3]))).toThrow(
      "conv2d: bias has shape [3] but there are 2 output channels",
    );
    expect(() =>
      nn.conv2d(np.zeros([1, 1, 8, 8]), np.zeros([2, 1, 3, 3]), null, { padding: "same", stride: 2 }),
    ).toThrow("padding='same' is not supported for strided convolutions");
    expect(() => nn.conv2d(np.zeros([1, 1, 8, 8]), np.zeros([2, 1, 3, 3]), null, { stride: 0 })).toThrow(
      "stride",
    );
    expect(() => nn.conv2d(np.zeros([1, 1, 8, 8]), np.zeros([2, 1, 3, 3]), null, { padding: -1 })).toThrow(
      "padding",
    );
  });

  it("the primitive's shape rule throws ShapeError too (and for an empty output)", () => {
    expect(() => conv2dPrim.bind1([np.zeros([1, 3, 32, 32]), np.zeros([6, 1, 5, 5])], params())).toThrow(
      "conv2d: input has 3 channels but weight expects 1 (groups=1): x [1,3,32,32], w [6,1,5,5]",
    );
    expect(() =>
      conv2dPrim.bind1([np.zeros([1, 1, 3, 3]), np.zeros([1, 1, 2, 2])], params({ dilation: [3, 1] })),
    ).toThrow(/conv2d: empty output 0x2/);
    expect(() =>
      conv2dPrim.bind1([np.zeros([1, 1, 3, 3]), np.zeros([1, 1, 2, 2], { dtype: "float64" })], params()),
    ).toThrow("conv2d: operand dtypes differ: float32 vs float64");
    expect(() =>
      conv2dInputGradPrim.bind1([np.zeros([1, 2, 3, 3]), np.zeros([2, 1, 2, 2])], {
        ...params(),
        inputShape: [1, 1, 5, 5],
      }),
    ).toThrow("conv2d_input_grad: cotangent [1,2,3,3] does not match the conv2d output [1,2,4,4]");
  });
});

describe("nn.convTranspose2d", () => {
  const cases: {
    name: string;
    x: Shape;
    w: Shape;
    stride?: [number, number];
    padding?: [number, number];
    outputPadding?: [number, number];
    dilation?: [number, number];
    groups?: number;
  }[] = [
    { name: "plain", x: [2, 3, 4, 5], w: [3, 2, 3, 3] },
    {
      name: "stride 2, padding 1, output padding 1",
      x: [1, 2, 4, 4],
      w: [2, 3, 3, 3],
      stride: [2, 2],
      padding: [1, 1],
      outputPadding: [1, 1],
    },
    {
      name: "rectangular",
      x: [2, 2, 3, 5],
      w: [2, 2, 2, 3],
      stride: [3, 1],
      padding: [0, 1],
      outputPadding: [2, 0],
      dilation: [1, 2],
    },
    { name: "groups", x: [1, 4, 3, 3], w: [4, 3, 2, 2], stride: [2, 2], groups: 2 },
    // Output padding >= stride (allowed because it is below the dilation): the last row gets no taps.
    {
      name: "output padding beyond stride",
      x: [1, 2, 3, 3],
      w: [2, 1, 3, 3],
      dilation: [3, 2],
      outputPadding: [2, 1],
      padding: [1, 0],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const x = random(c.x, 11);
      const w = random(c.w, 12);
      const stride = c.stride ?? [1, 1];
      const padding = c.padding ?? [0, 0];
      const outputPadding = c.outputPadding ?? [0, 0];
      const dilation = c.dilation ?? [1, 1];
      const groups = c.groups ?? 1;
      const y = nn.convTranspose2d(x, w, null, { stride, padding, outputPadding, dilation, groups });
      expectClose(
        y,
        naiveConvTranspose(x, w, stride, padding, outputPadding, dilation, groups),
        TIGHT,
        c.name,
      );
    });
  }

  it("is the adjoint of conv2d, takes a bias and unbatched input", () => {
    const w = random([3, 2, 3, 3], 13);
    const x = random([2, 2, 9, 9], 14);
    const y = random([2, 3, 5, 5], 15);
    const convX = nn.conv2d(x, w, null, { stride: 2, padding: 1 });
    const convTY = nn.convTranspose2d(y, w, null, { stride: 2, padding: 1 });
    expect(vdot(convTY, x)).toBeCloseTo(vdot(y, convX), 12);
    const b = random([2], 16);
    const yb = nn.convTranspose2d(take(y, 0, 0), w, b, { stride: 2, padding: 1, outputPadding: 1 });
    expect(yb.shape).toEqual([2, 10, 10]);
    const ref = np.add(
      naiveConvTranspose(y, w, [2, 2], [1, 1], [1, 1], [1, 1], 1),
      np.reshape(b, [1, 2, 1, 1]),
    );
    expectClose(yb, take(ref, 0, 0), TIGHT);
  });

  it("errors", () => {
    expect(() => nn.convTranspose2d(np.zeros([1, 2, 4, 4]), np.zeros([3, 2, 3, 3]))).toThrow(
      "convTranspose2d: input has 2 channels but weight expects 3",
    );
    expect(() =>
      nn.convTranspose2d(np.zeros([1, 2, 4, 4]), np.zeros([2, 2, 3, 3]), null, { outputPadding: 1 }),
    ).toThrow("output padding must be smaller than either stride or dilation");
    expect(() => nn.convTranspose2d(np.zeros([1, 2, 4, 4]), np.zeros([2, 2, 3, 3]), np.zeros([3]))).toThrow(
      "convTranspose2d: bias has shape [3] but there are 2 output channels",
    );
  });
});

describe("conv2d golden (PyTorch, float64)", () => {
  for (const c of loadVjpCases("conv2d.json")) {
    it(c.name, () => {
      const attrs = c.attrs as { stride: number[]; padding: number[]; dilation: number[]; groups: number };
      const options = {
        stride: attrs.stride as [number, number],
        padding: attrs.padding as [number, number],
        dilation: attrs.dilation as [number, number],
        groups: attrs.groups,
      };
      const f = (x: NdArray, w: NdArray, b: NdArray) => nn.conv2d(x, w, b, options);
      const [out, back] = vjp(
        f,
        toArray(c.inputs["input"]!),
        toArray(c.inputs["weight"]!),
        toArray(c.inputs["bias"]!),
      );
      expectClose(out, c.outputs["out"]!, FLOAT64_TOLERANCE, `${c.name} out`);
      const [dx, dw, db] = back(toArray(c.cotangent["out"]!));
      expectClose(dx, c.grads["input"]!, FLOAT64_TOLERANCE, `${c.name} d input`);
      expectClose(dw, c.grads["weight"]!, FLOAT64_TOLERANCE, `${c.name} d weight`);
      expectClose(db, c.grads["bias"]!, FLOAT64_TOLERANCE, `${c.name} d bias`);
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// the transpose closure

const closureParams = params({
  stride: [2, 1],
  padding: [
    [1, 0],
    [2, 1],
  ],
  dilation: [1, 2],
  groups: 2,
});
const X_SHAPE: Shape = [2, 4, 9, 8];
const W_SHAPE: Shape = [6, 2, 3, 3];
const Y_SHAPE: Shape = [2, 6, 4, 7];

const inputGrad = (ct: NdArray, w: NdArray) =>
  conv2dInputGradPrim.bind1([ct, w], { ...closureParams, inputShape: X_SHAPE });
const weightGrad = (x: NdArray, ct: NdArray) =>
  conv2dWeightGradPrim.bind1([x, ct], { ...closureParams, weightShape: W_SHAPE });
const conv = (x: NdArray, w: NdArray) => conv2dPrim.bind1([x, w], closureParams);

describe("the three primitives are closed under transposition", () => {
  const x = random(X_SHAPE, 21);
  const w = random(W_SHAPE, 22);
  const y = random(Y_SHAPE, 23);

  it("the closure's shapes are consistent", () => {
    expect(conv(x, w).shape).toEqual(Y_SHAPE);
  });

  it("all three are the same trilinear form", () => {
    const t = vdot(y, conv(x, w));
    expect(vdot(x, inputGrad(y, w))).toBeCloseTo(t, 11);
    expect(vdot(w, weightGrad(x, y))).toBeCloseTo(t, 11);
  });

  // For f bilinear and one argument fixed, v -> f(v) is linear: <u, J v> must equal <Jᵀ u, v> where Jᵀ
  // comes from the transpose rule (through vjp).
  const linearMaps: { name: string; f: (v: NdArray) => NdArray; inShape: Shape; outShape: Shape }[] = [
    { name: "conv2d in x", f: (v) => conv(v, w), inShape: X_SHAPE, outShape: Y_SHAPE },
    { name: "conv2d in w", f: (v) => conv(x, v), inShape: W_SHAPE, outShape: Y_SHAPE },
    { name: "conv2d_input_grad in ct", f: (v) => inputGrad(v, w), inShape: Y_SHAPE, outShape: X_SHAPE },
    { name: "conv2d_input_grad in w", f: (v) => inputGrad(y, v), inShape: W_SHAPE, outShape: X_SHAPE },
    { name: "conv2d_weight_grad in x", f: (v) => weightGrad(v, y), inShape: X_SHAPE, outShape: W_SHAPE },
    { name: "conv2d_weight_grad in ct", f: (v) => weightGrad(x, v), inShape: Y_SHAPE, outShape: W_SHAPE },
  ];
  for (const m of linearMaps) {
    it(`dot-product test: ${m.name}`, () => {
      const v = random(m.inShape, 31);
      const u = random(m.outShape, 32);
      const [jv, back] = vjp(m.f, v);
      const [jtu] = back(u);
      const lhs = vdot(u, jv);
      expect(Math.abs(lhs - vdot(jtu, v))).toBeLessThan(1e-12 * Math.max(1, Math.abs(lhs)));
      // And the forward-mode rule agrees with the map itself (it is linear).
      const t = random(m.inShape, 33);
      const [, tangent] = jvp(m.f, [v], [t]);
      expectClose(tangent, m.f(t), TIGHT, `${m.name} jvp`);
    });
  }

  it("jvp of each primitive is the bilinear product rule", () => {
    const tx = random(X_SHAPE, 41);
    const tw = random(W_SHAPE, 42);
    const ty = random(Y_SHAPE, 43);
    const [, t1] = jvp(conv, [x, w], [tx, tw]);
    expectClose(t1, np.add(conv(tx, w), conv(x, tw)), TIGHT);
    const [, t2] = jvp(inputGrad, [y, w], [ty, tw]);
    expectClose(t2, np.add(inputGrad(ty, w), inputGrad(y, tw)), TIGHT);
    const [, t3] = jvp(weightGrad, [x, y], [tx, ty]);
    expectClose(t3, np.add(weightGrad(tx, y), weightGrad(x, ty)), TIGHT);
  });
});

// ---------------------------------------------------------------------------------------------------
// batching

describe("vmap of the conv primitives", () => {
  const B = 3;
  const xb = random([B, ...X_SHAPE], 51);
  const wb = random([B, ...W_SHAPE], 52);
  const yb = random([B, ...Y_SHAPE], 53);
  const x = take(xb, 0, 0);
  const w = take(wb, 0, 0);
  const y = take(yb, 0, 0);

  type Binary = (a: NdArray, b: NdArray) => NdArray;
  const prims: { name: string; f: Binary; a: [NdArray, NdArray]; b: [NdArray, NdArray] }[] = [
    { name: "conv2d", f: conv, a: [x, xb], b: [w, wb] },
    { name: "conv2d_input_grad", f: inputGrad, a: [y, yb], b: [w, wb] },
    { name: "conv2d_weight_grad", f: weightGrad, a: [x, xb], b: [y, yb] },
  ];
  const axesCases: [number | null, number | null][] = [
    [0, null],
    [null, 0],
    [0, 0],
    [2, 3],
    [null, 4],
  ];
  for (const p of prims) {
    for (const [da, db] of axesCases) {
      it(`${p.name} with inAxes [${da}, ${db}]`, () => {
        const a = da === null ? p.a[0] : np.moveaxis(p.a[1], 0, da);
        const b = db === null ? p.b[0] : np.moveaxis(p.b[1], 0, db);
        const got = vmap(p.f, { inAxes: [da, db] })(a, b);
        const expected = stack(
          Array.from({ length: B }, (_, i) =>
            p.f(da === null ? a : take(a, da, i), db === null ? b : take(b, db, i)),
          ),
        );
        expectClose(got, expected, TIGHT, `${p.name} [${da}, ${db}]`);
      });
    }
  }

  it("per-example weight gradients: vmap(grad) over examples", () => {
    const loss = (wt: NdArray, xi: NdArray) =>
      np.sum(np.tanh(nn.conv2d(np.expandDims(xi, 0), wt, null, { stride: 2, groups: 2 })));
    const wt = random([6, 2, 3, 3], 61);
    const xs = random([4, 4, 9, 9], 62);
    const perExample = vmap(grad(loss), { inAxes: [null, 0] })(wt, xs);
    const loop = stack(Array.from({ length: 4 }, (_, i) => grad(loss)(wt, take(xs, 0, i))));
    expectClose(perExample, loop, TIGHT);
  });
});

// ---------------------------------------------------------------------------------------------------
// second order

describe("second-order derivatives through conv", () => {
  const x = random([2, 2, 6, 6], 71);
  const w = random([3, 2, 3, 3], 72);
  const v = random([3, 2, 3, 3], 73);

  it("Hessian-vector product of 0.5*|conv(x, w)|^2 in w is weight_grad(x, conv(x, v))", () => {
    const p = { stride: 2, padding: 1 };
    const f = (wt: NdArray) => np.multiply(np.sum(np.square(nn.conv2d(x, wt, null, p))), 0.5);
    const [, hvp] = jvp(grad(f), [w], [v]);
    const pp = params({
      stride: [2, 2],
      padding: [
        [1, 1],
        [1, 1],
      ],
    });
    const expected = conv2dWeightGradPrim.bind1([x, conv2dPrim.bind1([x, v], pp)], {
      ...pp,
      weightShape: w.shape,
    });
    expectClose(hvp, expected, TIGHT);
    // Reverse over reverse gives the same.
    const hvpRev = grad((wt: NdArray) => np.sum(np.multiply(grad(f)(wt), v)))(w);
    expectClose(hvpRev, expected, TIGHT);
  });

  it("grad of grad of a nonlinear function matches finite differences", () => {
    const f = (xt: NdArray, wt: NdArray) =>
      np.sum(np.tanh(nn.conv2d(xt, wt, null, { padding: 1, dilation: [1, 2] })));
    // g(x) = <grad_w f(x, w), v>; its gradient in x needs the derivative of conv2d_weight_grad.
    const g = (xt: NdArray) => np.sum(np.multiply(grad(f, { argnums: 1 })(xt, w), v));
    const gx = grad(g)(x);
    const dx = random(x.shape, 74);
    const h = 1e-5;
    const fd =
      (g(np.add(x, np.multiply(dx, h))).item() - g(np.subtract(x, np.multiply(dx, h))).item()) / (2 * h);
    expect(vdot(gx, dx)).toBeCloseTo(fd, 7);
  });
});
