/**
 * Each primitive's ONNX lowering, exported alone (or with the few primitives its function binds) and
 * run in ONNX Runtime against tracegrad's own result, in float32 and float64; convolutions and pooling
 * with strides, padding and dilation, forward and both gradients (float32 exports Conv/ConvTranspose,
 * float64 the Gather + MatMul form). And the typed error for a primitive without a lowering.
 */
import { describe, expect, it } from "vitest";
import { customVjp, debug, grad, type NdArray, nn, np, onnx, random, vjp } from "../../src/index.js";
import { expectSameInOrt } from "./ort.js";

type Float = "float32" | "float64";

function normal(seed: number, shape: number[], dtype: Float): NdArray {
  return random.normal(random.key(seed), shape, { dtype });
}

interface Case {
  readonly name: string;
  readonly f: (...args: NdArray[]) => NdArray | NdArray[];
  readonly args: (dtype: Float) => NdArray[];
}

const x34 = (d: Float) => [normal(1, [3, 4], d)];
const pos34 = (d: Float) => [np.add(np.abs(normal(1, [3, 4], d)), 0.5)];
const two34 = (d: Float) => [normal(1, [3, 4], d), normal(2, [3, 4], d)];
// H = 10 with stride 2: the input gradient needs ConvTranspose's output_padding.
const image = (d: Float) => [normal(3, [2, 3, 10, 8], d)];
const convArgs = (d: Float) => [normal(3, [2, 3, 10, 8], d), normal(4, [4, 3, 3, 2], d)];

const CASES: readonly Case[] = [
  {
    name: "add, sub, mul, div",
    f: (a, b) => np.divide(np.subtract(np.multiply(np.add(a, b), a), b), np.add(np.abs(b), 1)),
    args: two34,
  },
  {
    name: "neg, abs, sign, floor, ceil, round, trunc",
    f: (a) => [
      np.negative(a),
      np.abs(a),
      np.sign(a),
      np.floor(np.multiply(a, 3)),
      np.ceil(np.multiply(a, 3)),
      np.round(np.multiply(a, 3)),
      np.trunc(np.multiply(a, 3)),
    ],
    args: x34,
  },
  {
    name: "exp, log, sqrt, tanh, sigmoid, sin, cos",
    f: (a) => [np.exp(a), np.log(a), np.sqrt(a), np.tanh(a), nn.sigmoid(a), np.sin(a), np.cos(a)],
    args: pos34,
  },
  {
    // The ratios to x show the relative error where x is tiny (Log(1 + x) would lose every digit).
    name: "log1p and expm1 (compensated): tiny, large, -1, infinities, NaN",
    f: (a) => [np.log1p(a), np.expm1(a), np.divide(np.log1p(a), a), np.divide(np.expm1(a), a)],
    args: (d) => [
      np.array([1e-10, -3e-9, 1e-5, 0.3, -0.7, 2, 50, 700, -1, -40, 1e30, Infinity, -Infinity, Number.NaN], {
        dtype: d,
      }),
    ],
  },
  {
    name: "pow, maximum, minimum, rem",
    f: (a, b) => [
      np.power(np.abs(a), b),
      np.maximum(a, b),
      np.minimum(a, b),
      np.rem(a, np.add(np.abs(b), 0.5)),
    ],
    args: two34,
  },
  {
    name: "mod and floorDivide (numpy signs, signed zeros, a zero divisor), floats and int32",
    f: (a, b) => {
      const ia = np.multiply(a, 7).astype("int32");
      const ib = np.round(np.multiply(b, 2)).astype("int32");
      const bz = np.where(np.less(np.abs(b), 0.3), 0, b);
      return [
        np.mod(a, bz),
        np.floorDivide(a, bz),
        np.mod(ia, ib),
        np.floorDivide(ia, ib),
        np.mod(np.negative(a), 0.25),
      ];
    },
    args: two34,
  },
  {
    name: "comparisons, logic and select",
    f: (a, b) => [
      np.less(a, b),
      np.lessEqual(a, b),
      np.greater(a, b),
      np.greaterEqual(a, b),
      np.equal(a, a),
      np.notEqual(a, b),
      np.where(np.logicalAnd(np.less(a, b), np.greater(a, 0)), a, b),
    ],
    args: two34,
  },
  {
    name: "convert (cast to int32 and back)",
    f: (a) => [
      np.multiply(a, 5).astype("int32"),
      np
        .multiply(a, 5)
        .astype("int32")
        .astype(a.dtype as Float),
    ],
    args: x34,
  },
  {
    name: "reshape, transpose, broadcast",
    f: (a) => [
      np.reshape(a, [2, 6]),
      np.transpose(a),
      np.add(np.reshape(a, [3, 1, 4]), np.ones([3, 2, 4], { dtype: a.dtype })),
    ],
    args: x34,
  },
  {
    name: "reduce_sum, reduce_max, reduce_min, reduce_prod",
    f: (a) => [
      np.sum(a, { axis: 1 }),
      np.sum(a),
      np.max(a, { axis: 0 }),
      np.min(a, { axis: 1 }),
      np.prod(a, { axis: 1 }),
    ],
    args: x34,
  },
  {
    name: "reduce_and, reduce_or",
    f: (a) => [np.all(np.greater(a, -1), { axis: 1 }), np.any(np.greater(a, 1), { axis: 0 })],
    args: x34,
  },
  { name: "argmax, argmin", f: (a) => [np.argmax(a, { axis: 1 }), np.argmin(a, { axis: 0 })], args: x34 },
  {
    name: "matmul (batched)",
    f: (a, b) => np.matmul(a, b),
    args: (d) => [normal(1, [2, 3, 5], d), normal(2, [2, 5, 4], d)],
  },
  {
    name: "conv2d (stride, padding, dilation)",
    f: (x, w) => nn.conv2d(x, w, null, { stride: [2, 1], padding: [1, 2], dilation: [1, 2] }),
    args: convArgs,
  },
  {
    name: "conv2d_input_grad and conv2d_weight_grad (stride, padding, dilation)",
    f: (x, w) => {
      const [y, back] = vjp(
        (a: NdArray, b: NdArray) =>
          nn.conv2d(a, b, null, { stride: [2, 1], padding: [1, 2], dilation: [1, 2] }),
        x,
        w,
      );
      return back(np.sin(y));
    },
    args: convArgs,
  },
  {
    name: "max_pool2d (overlapping, padded)",
    f: (x) => nn.maxPool2d(x, 3, { stride: 2, padding: 1 }),
    args: image,
  },
  {
    name: "max_pool2d_argmax, pool_gather, pool_scatter_add (its gradient)",
    f: (x) =>
      grad((a: NdArray) => np.sum(np.multiply(nn.maxPool2d(a, 3, { stride: 2, padding: 1 }), 1.5)))(x),
    args: image,
  },
];

describe("onnx export: each lowering in ONNX Runtime against tracegrad", () => {
  for (const c of CASES)
    for (const dtype of ["float32", "float64"] as const)
      it(`${c.name}, ${dtype}`, async () => {
        await expectSameInOrt(c.f, c.args(dtype));
      });
});

describe("onnx export: select on every dtype ONNX Runtime loads", () => {
  // ONNX Runtime's CPU Where has no bool, int8, int16, uint16 or uint32 kernel: without the widening
  // casts the session does not load ("Could not find an implementation for Where(16)"), which is what
  // stopped the char-GPT train step's model (a bool mask select) from running. ONNX's orderings and
  // Max/Min take no bools at all: they compare bools cast to int32.
  for (const dtype of ["bool", "int8", "int16", "uint16", "uint32", "uint8"] as const) {
    it(`np.where on ${dtype} operands, extremes included`, async () => {
      const extremes: Record<typeof dtype, [number, number]> = {
        bool: [1, 0],
        int8: [-128, 127],
        int16: [-32768, 32767],
        uint16: [0, 65535],
        uint32: [4294967295, 2147483648],
        uint8: [255, 0],
      };
      const [hi, lo] = extremes[dtype];
      const cond = np.array([true, false, true, false, true]);
      const a = np.array([hi, lo, lo, hi, 1], { dtype });
      const b = np.array([lo, hi, 1, lo, hi], { dtype });
      await expectSameInOrt((c, x, y) => np.where(c, x, y), [cond, a, b]);
      // and inside a fused loop: a comparison's mask selected between two bool arrays
      await expectSameInOrt((c, x, y) => np.where(np.logicalNot(c), np.greater(x, y), c), [cond, a, b]);
      // orderings and max/min of these dtypes (bools as 0 and 1, as numpy orders them)
      await expectSameInOrt(
        (x, y) => [np.less(x, y), np.greaterEqual(x, y), np.maximum(x, y), np.minimum(x, y)],
        [a, b],
      );
    });
  }
});

describe("onnx export of call-like and effect primitives", () => {
  it("customVjp exports its primal function (custom_vjp_call), alone and under grad", async () => {
    const clipGrad = customVjp(
      (x: NdArray) => np.multiply(np.sin(x), 2),
      (x: NdArray) => [np.multiply(np.sin(x), 2), np.cos(x)] as [NdArray, NdArray],
      (c: NdArray, g: NdArray) => [np.clip(np.multiply(np.multiply(g, c), 2), -0.5, 0.5)] as [NdArray],
    );
    const x = normal(1, [6], "float64");
    await expectSameInOrt((a) => [clipGrad(a), grad((b: NdArray) => np.sum(clipGrad(b)))(a)], [x]);
  });

  it("debug.print and debug.check are left out of the model; debug.callback is refused by name", async () => {
    const x = normal(2, [3], "float32");
    await expectSameInOrt(
      (a) => {
        debug.print("a = {}", a);
        debug.check(np.all(np.isfinite(a)), "finite");
        return np.exp(a);
      },
      [x],
    );
    const withCallback = () =>
      onnx.exportProgram((a: NdArray) => {
        debug.callback(function logIt(_v: NdArray) {}, a);
        return a;
      }, x);
    expect(withCallback).toThrow(onnx.OnnxExportError);
    expect(withCallback).toThrow(
      /debug_callback \(debug.callback "logIt" on 1 operands\) cannot run in an ONNX graph/,
    );
  });
});

describe("onnx export: what it cannot export", () => {
  it("throws an OnnxExportError naming the primitive without a lowering", () => {
    const x = np.add(np.eye(3), 1);
    const export_ = () => onnx.exportProgram((a: NdArray) => np.linalg.cholesky(a), x);
    expect(export_).toThrow(onnx.OnnxExportError);
    expect(export_).toThrow(/primitive cholesky has no ONNX lowering \(operands float32\[3,3\]\)/);
  });

  it("refuses float16 operands by name", () => {
    const x = np.ones([3], { dtype: "float16" });
    expect(() => onnx.exportProgram((a: NdArray) => np.add(a, a), x)).toThrow(/float16/);
  });
});
