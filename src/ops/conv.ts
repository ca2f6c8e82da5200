/**
 * 2-D convolution on NCHW input and OIHW weights (PyTorch's conv2d: cross-correlation, I = C_in/groups).
 *
 * Three primitives, closed under transposition. With T(x, w, ct) = <ct, conv2d(x, w)> (trilinear):
 *   conv2d(x, w)               = ∂T/∂ct
 *   conv2d_input_grad(ct, w)   = ∂T/∂x   (carries inputShape: the output size floors, so x's shape is not
 *                                          recoverable from ct's)
 *   conv2d_weight_grad(x, ct)  = ∂T/∂w   (carries weightShape, for the same reason)
 * Each is bilinear, and the transpose of any of them in one argument is another of the three.
 */

import {
  conv2dGemm,
  conv2dInputGradGemm,
  conv2dWeightGradGemm,
  unrolledInputUnlessDirect,
} from "../backend/conv-gemm.js";
import type { ConvGeometry } from "../backend/conv-geometry.js";
import { webgpuConv2d, webgpuConv2dInputGrad, webgpuConv2dWeightGrad } from "../backend/webgpu/conv.js";
import { WgslUnsupportedError } from "../backend/webgpu/wgsl.js";
import { type AbstractValue, ConcreteArray, type NdArray } from "../core/array.js";
import { type DType, isFloat } from "../core/dtype.js";
import { type BatchDim, type Primitive, UndefinedPrimal } from "../core/primitive.js";
import { fmtShape, type Shape, ShapeError, shapeEquals } from "../core/shape.js";
import { add } from "./binary.js";
import {
  convByGather,
  convInputGradByGather,
  convInputGradToOnnx,
  convToOnnx,
  convWeightGradByGather,
  convWeightGradToOnnx,
} from "./conv-onnx.js";
import { loweredPrimitive } from "./eager.js";
import { moveAxisTo0, moveaxis, reshape } from "./layout.js";

export type Pair = readonly [number, number];

export interface ConvParams {
  stride: Pair;
  /** [[top, bottom], [left, right]]; negative values crop (used by conv-transpose's output padding). */
  padding: readonly [Pair, Pair];
  dilation: Pair;
  groups: number;
}

export interface ConvInputGradParams extends ConvParams {
  /** The shape of conv2d's input [N, C, H, W]. */
  inputShape: Shape;
}

export interface ConvWeightGradParams extends ConvParams {
  /** The shape of conv2d's weight [O, C/groups, KH, KW]. */
  weightShape: Shape;
}

// ---------------------------------------------------------------------------------------------------
// shape rules

/** PyTorch's output size: floor((in + padding - dilation*(k-1) - 1) / stride) + 1. */
export function convOutputSize(
  inSize: number,
  kernel: number,
  stride: number,
  pad: Pair,
  dilation: number,
): number {
  return Math.floor((inSize + pad[0] + pad[1] - dilation * (kernel - 1) - 1) / stride) + 1;
}

function checkParams(op: string, p: ConvParams): void {
  const positive = (v: number) => Number.isInteger(v) && v >= 1;
  if (!p.stride.every(positive))
    throw new ShapeError(`${op}: stride must be positive integers, got ${JSON.stringify(p.stride)}`);
  if (!p.dilation.every(positive)) {
    throw new ShapeError(`${op}: dilation must be positive integers, got ${JSON.stringify(p.dilation)}`);
  }
  if (!positive(p.groups)) throw new ShapeError(`${op}: groups must be a positive integer, got ${p.groups}`);
  if (
    p.padding.length !== 2 ||
    !p.padding.every((side) => side.length === 2 && side.every(Number.isInteger))
  ) {
    throw new ShapeError(
      `${op}: padding must be [[top, bottom], [left, right]] integers, got ${JSON.stringify(p.padding)}`,
    );
  }
}

/** The channel rule: C_in = groups * weight's I, and the output channels split evenly into the groups. */
export function checkConvChannels(
  op: string,
  xShape: Shape,
  wShape: Shape,
  groups: number,
  xName = "x",
): void {
  const channels = xShape[xShape.length - 3]!;
  const shapes = `${xName} ${fmtShape(xShape)}, w ${fmtShape(wShape)}`;
  if (wShape[0]! % groups !== 0) {
    throw new ShapeError(
      `${op}: weight has ${wShape[0]} output channels, not divisible by groups=${groups}: ${shapes}`,
    );
  }
  if (channels !== wShape[1]! * groups) {
    throw new ShapeError(
      `${op}: input has ${channels} channels but weight expects ${wShape[1]! * groups} (groups=${groups}): ${shapes}`,
    );
  }
}

/** Validates a convolution of an input of `xShape` with a weight of `wShape`; errors name the op and both shapes. */
function geometry(op: string, xShape: Shape, wShape: Shape, p: ConvParams): ConvGeometry {
  checkParams(op, p);
  const shapes = `x ${fmtShape(xShape)}, w ${fmtShape(wShape)}`;
  if (xShape.length !== 4) throw new ShapeError(`${op}: expected a 4-D input [N, C, H, W]: ${shapes}`);
  if (wShape.length !== 4)
    throw new ShapeError(`${op}: expected a 4-D weight [O, C/groups, KH, KW]: ${shapes}`);
  checkConvChannels(op, xShape, wShape, p.groups);
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [o, , kh, kw] = wShape as [number, number, number, number];
  const oh = convOutputSize(h, kh, p.stride[0], p.padding[0], p.dilation[0]);
  const ow = convOutputSize(w, kw, p.stride[1], p.padding[1], p.dilation[1]);
  if (oh < 1 || ow < 1 || kh < 1 || kw < 1) {
    throw new ShapeError(
      `${op}: empty output ${oh}x${ow}: the padded input is smaller than the dilated kernel ` +
        `(padding ${JSON.stringify(p.padding)}, dilation ${JSON.stringify(p.dilation)}): ${shapes}`,
    );
  }
  return {
    batch: n,
    inChannels: c,
    inHeight: h,
    inWidth: w,
    outChannels: o,
    kernelHeight: kh,
    kernelWidth: kw,
    outHeight: oh,
    outWidth: ow,
    strideH: p.stride[0],
    strideW: p.stride[1],
    padTop: p.padding[0][0],
    padLeft: p.padding[1][0],
    dilationH: p.dilation[0],
    dilationW: p.dilation[1],
    groups: p.groups,
  };
}

function outputShape(g: ConvGeometry): number[] {
  return [g.batch, g.outChannels, g.outHeight, g.outWidth];
}

function checkOperands(op: string, a: AbstractValue, b: AbstractValue): void {
  if (a.dtype !== b.dtype) throw new ShapeError(`${op}: operand dtypes differ: ${a.dtype} vs ${b.dtype}`);
  if (!isFloat(a.dtype))
    throw new ShapeError(`${op}: dtype ${a.dtype} is not supported (expected float32 or float64)`);
}

function checkCotangent(op: string, ct: Shape, g: ConvGeometry, xShape: Shape, wShape: Shape): void {
  const expected = outputShape(g);
  if (!shapeEquals(ct, expected)) {
    throw new ShapeError(
      `${op}: cotangent ${fmtShape(ct)} does not match the conv2d output ${fmtShape(expected)} ` +
        `of x ${fmtShape(xShape)} and w ${fmtShape(wShape)}`,
    );
  }
}

/** Only the convolution's own parameters (dropping inputShape / weightShape). */
function convParams(p: ConvParams): ConvParams {
  return { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups };
}

// ---------------------------------------------------------------------------------------------------
// batching: the vmap axis is folded into an existing axis and split off again afterwards

/**
 * Folds the vmap axis `bdim` of `x` into axis `axis` (counted in the unbatched layout) inside each of
 * `groups` blocks, so that the axis becomes [groups, batch, size/groups] flattened. With groups = 1 the
 * batch simply becomes the outer part of the axis.
 */
function foldBatch(x: NdArray, bdim: number, axis: number, groups: number): NdArray {
  const size = x.shape[bdim]!;
  if (groups === 1) {
    const moved = moveaxis(x, bdim, axis);
    const s = moved.shape;
    return reshape(moved, [...s.slice(0, axis), s[axis]! * s[axis + 1]!, ...s.slice(axis + 2)]);
  }
  const front = moveAxisTo0(x, bdim);
  const rest = front.shape.slice(1);
  const split = reshape(front, [
    size,
    ...rest.slice(0, axis),
    groups,
    rest[axis]! / groups,
    ...rest.slice(axis + 1),
  ]);
  const inner = moveaxis(split, 0, axis + 1);
  return reshape(inner, [...rest.slice(0, axis), rest[axis]! * size, ...rest.slice(axis + 1)]);
}

/** The inverse of foldBatch: splits a batch of `size` out of axis `axis`, returned as the batch axis. */
function unfoldBatch(y: NdArray, axis: number, groups: number, size: number): [NdArray[], BatchDim[]] {
  const s = y.shape;
  const pre = s.slice(0, axis);
  const post = s.slice(axis + 1);
  const inner = s[axis]! / (groups * size);
  if (groups === 1) return [[reshape(y, [...pre, size, inner, ...post])], [axis]];
  const split = reshape(y, [...pre, groups, size, inner, ...post]);
  const batchFirst = moveaxis(split, axis + 1, axis);
  return [[reshape(batchFirst, [...pre, size, groups * inner, ...post])], [axis]];
}

function batchSize(args: readonly NdArray[], dims: readonly BatchDim[]): number {
  const i = dims.findIndex((d) => d !== null);
  return args[i]!.shape[dims[i]!]!;
}

function withDim(shape: Shape, axis: number, size: number): number[] {
  return shape.map((d, i) => (i === axis ? size : d));
}

// ---------------------------------------------------------------------------------------------------
// derivatives

/** True for a concrete array of zeros: the instantiated tangent of an input that is not differentiated. */
function isConcreteZero(t: NdArray): boolean {
  if (!(t instanceof ConcreteArray)) return false;
  const data = t.storage;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

/**
 * d f(a, b) = f(ta, b) + f(a, tb) for bilinear f. Tangents arrive instantiated, so a constant operand
 * (the data batch, pooling weights) brings a tangent of zeros; skipping its term saves a convolution.
 */
function productRule(
  f: (a: NdArray, b: NdArray) => NdArray,
  a: NdArray,
  b: NdArray,
  ta: NdArray,
  tb: NdArray,
): NdArray {
  if (isConcreteZero(ta)) return f(a, tb);
  if (isConcreteZero(tb)) return f(ta, b);
  return add(f(ta, b), f(a, tb));
}

/** The WebGPU convolutions compute float32 (an integer convolution stays on the CPU). */
function floatOnWebgpu(op: string, dtype: DType): DType {
  if (dtype !== "float32") throw new WgslUnsupportedError(`${op} of ${dtype} (WebGPU convolves float32)`);
  return dtype;
}

// ---------------------------------------------------------------------------------------------------
// the primitives

export const conv2dPrim: Primitive<ConvParams> = loweredPrimitive<ConvParams>({
  name: "conv2d",
  // ONNX Runtime's CPU Conv takes float32 only: other dtypes export as Gather + MatMul.
  onnx: (g, [x, w], p, [xAval, wAval], [out]) => [
    xAval!.dtype === "float32" ? convToOnnx(g, x!, w!, p) : convByGather(g, x!, w!, p, xAval!, wAval!, out!),
  ],
  widenNarrow: { kind: "modular" },
  abstractEval([x, w], p) {
    checkOperands("conv2d", x!, w!);
    return [{ shape: outputShape(geometry("conv2d", x!.shape, w!.shape, p)), dtype: x!.dtype }];
  },
  compiler: {
    derivedInput: ([x, w], _, p) =>
      unrolledInputUnlessDirect(geometry("conv2d", x!.shape, w!.shape, p), x!.dtype),
  },
  webgpu: ([x, w], [y], p) =>
    webgpuConv2d(geometry("conv2d", x!.shape, w!.shape, p), floatOnWebgpu("conv2d", y!.dtype)),
  lower([x, w], [y], p, context) {
    const run = conv2dGemm(geometry("conv2d", x!.shape, w!.shape, p), y!.dtype, context);
    return ([xa, wa], [ya]) => run(xa!, wa!, ya!);
  },
  jvp: ([x, w], [tx, tw], p) => ({
    primalsOut: [conv2dPrim.bind1([x!, w!], p)],
    tangentsOut: [productRule((a, b) => conv2dPrim.bind1([a, b], p), x!, w!, tx!, tw!)],
  }),
  transpose([ct], [x, w], p) {
    const ux = x instanceof UndefinedPrimal;
    const uw = w instanceof UndefinedPrimal;
    if (ux && uw) throw new Error("conv2d: transpose with both operands linear (not linear)");
    return [
      ux
        ? conv2dInputGradPrim.bind1([ct!, w as NdArray], { ...convParams(p), inputShape: x.aval.shape })
        : null,
      uw
        ? conv2dWeightGradPrim.bind1([x as NdArray, ct!], { ...convParams(p), weightShape: w.aval.shape })
        : null,
    ];
  },
  batch([x, w], [dx, dw], p) {
    const size = batchSize([x!, w!], [dx!, dw!]);
    if (dw === null) return unfoldBatch(conv2dPrim.bind1([foldBatch(x!, dx!, 0, 1), w!], p), 0, 1, size);
    // A batched weight: each batch element becomes extra output channels of every group.
    const G = p.groups;
    const wf = foldBatch(w!, dw!, 0, G);
    if (dx === null) return unfoldBatch(conv2dPrim.bind1([x!, wf], p), 1, G, size);
    const xf = foldBatch(x!, dx!, 1, G);
    return unfoldBatch(conv2dPrim.bind1([xf, wf], { ...p, groups: G * size }), 1, G, size);
  },
  formatParams: (p) => formatConvParams(p),
});

export const conv2dInputGradPrim: Primitive<ConvInputGradParams> = loweredPrimitive<ConvInputGradParams>({
  name: "conv2d_input_grad",
  onnx: (g, [ct, w], p, [ctAval, wAval]) => [
    ctAval!.dtype === "float32"
      ? convInputGradToOnnx(g, ct!, w!, p, ctAval!, wAval!, p.inputShape)
      : convInputGradByGather(g, ct!, w!, p, ctAval!, wAval!, p.inputShape),
  ],
  widenNarrow: { kind: "modular" },
  abstractEval([ct, w], p) {
    checkOperands("conv2d_input_grad", ct!, w!);
    const g = geometry("conv2d_input_grad", p.inputShape, w!.shape, p);
    checkCotangent("conv2d_input_grad", ct!.shape, g, p.inputShape, w!.shape);
    return [{ shape: p.inputShape, dtype: ct!.dtype }];
  },
  webgpu: ([, w], [x], p) =>
    webgpuConv2dInputGrad(
      geometry("conv2d_input_grad", p.inputShape, w!.shape, p),
      floatOnWebgpu("conv2d_input_grad", x!.dtype),
    ),
  lower([, w], [x], p, context) {
    const run = conv2dInputGradGemm(
      geometry("conv2d_input_grad", p.inputShape, w!.shape, p),
      x!.dtype,
      context,
    );
    return ([cta, wa], [xa]) => run(cta!, wa!, xa!);
  },
  jvp: ([ct, w], [tct, tw], p) => ({
    primalsOut: [conv2dInputGradPrim.bind1([ct!, w!], p)],
    tangentsOut: [productRule((a, b) => conv2dInputGradPrim.bind1([a, b], p), ct!, w!, tct!, tw!)],
  }),
  transpose([xbar], [ct, w], p) {
    const uct = ct instanceof UndefinedPrimal;
    const uw = w instanceof UndefinedPrimal;
    if (uct && uw) throw new Error("conv2d_input_grad: transpose with both operands linear (not linear)");
    return [
      uct ? conv2dPrim.bind1([xbar!, w as NdArray], convParams(p)) : null,
      uw
        ? conv2dWeightGradPrim.bind1([xbar!, ct as NdArray], { ...convParams(p), weightShape: w.aval.shape })
        : null,
    ];
  },
  batch([ct, w], [dct, dw], p) {
    const size = batchSize([ct!, w!], [dct!, dw!]);
    const [n, c] = p.inputShape as [number, number];
    if (dw === null) {
      const inputShape = withDim(p.inputShape, 0, size * n);
      return unfoldBatch(
        conv2dInputGradPrim.bind1([foldBatch(ct!, dct!, 0, 1), w!], { ...p, inputShape }),
        0,
        1,
        size,
      );
    }
    const G = p.groups;
    const inputShape = withDim(p.inputShape, 1, size * c);
    if (dct === null) {
      // Each batch element of the weight gives its own input channels inside every group.
      const wf = foldBatch(w!, dw!, 1, 1);
      return unfoldBatch(conv2dInputGradPrim.bind1([ct!, wf], { ...p, inputShape }), 1, G, size);
    }
    const ctf = foldBatch(ct!, dct!, 1, G);
    const wf = foldBatch(w!, dw!, 0, G);
    return unfoldBatch(
      conv2dInputGradPrim.bind1([ctf, wf], { ...p, groups: G * size, inputShape }),
      1,
      G,
      size,
    );
  },
  formatParams: (p) => `${formatConvParams(p)} inputShape=${fmtShape(p.inputShape)}`,
});

export const conv2dWeightGradPrim: Primitive<ConvWeightGradParams> = loweredPrimitive<ConvWeightGradParams>({
  name: "conv2d_weight_grad",
  onnx: (g, [x, ct], p, [xAval, ctAval]) => [
    xAval!.dtype === "float32"
      ? convWeightGradToOnnx(g, x!, ct!, p, p.weightShape)
      : convWeightGradByGather(g, x!, ct!, p, xAval!, ctAval!, p.weightShape),
  ],
  widenNarrow: { kind: "modular" },
  abstractEval([x, ct], p) {
    checkOperands("conv2d_weight_grad", x!, ct!);
    const g = geometry("conv2d_weight_grad", x!.shape, p.weightShape, p);
    checkCotangent("conv2d_weight_grad", ct!.shape, g, x!.shape, p.weightShape);
    return [{ shape: p.weightShape, dtype: x!.dtype }];
  },
  compiler: {
    derivedInput: ([x], _, p) =>
      unrolledInputUnlessDirect(geometry("conv2d_weight_grad", x!.shape, p.weightShape, p), x!.dtype),
  },
  webgpu: ([x], [w], p) =>
    webgpuConv2dWeightGrad(
      geometry("conv2d_weight_grad", x!.shape, p.weightShape, p),
      floatOnWebgpu("conv2d_weight_grad", w!.dtype),
    ),
  lower([x], [w], p, context) {
    const run = conv2dWeightGradGemm(
      geometry("conv2d_weight_grad", x!.shape, p.weightShape, p),
      w!.dtype,
      context,
    );
    return ([xa, cta], [wa]) => run(xa!, cta!, wa!);
  },
  jvp: ([x, ct], [tx, tct], p) => ({
    primalsOut: [conv2dWeightGradPrim.bind1([x!, ct!], p)],
    tangentsOut: [productRule((a, b) => conv2dWeightGradPrim.bind1([a, b], p), x!, ct!, tx!, tct!)],
  }),
  transpose([wbar], [x, ct], p) {
    const ux = x instanceof UndefinedPrimal;
    const uct = ct instanceof UndefinedPrimal;
    if (ux && uct) throw new Error("conv2d_weight_grad: transpose with both operands linear (not linear)");
    return [
      ux
        ? conv2dInputGradPrim.bind1([ct as NdArray, wbar!], { ...convParams(p), inputShape: x.aval.shape })
        : null,
      uct ? conv2dPrim.bind1([x as NdArray, wbar!], convParams(p)) : null,
    ];
  },
  batch([x, ct], [dx, dct], p) {
    const size = batchSize([x!, ct!], [dx!, dct!]);
    const G = p.groups;
    const [o, i] = p.weightShape as [number, number];
    // The weight gradient sums over N, so the batch cannot fold into N: it folds into the channels.
    if (dct === null) {
      const xf = foldBatch(x!, dx!, 1, G);
      const weightShape = withDim(p.weightShape, 1, size * i);
      return unfoldBatch(conv2dWeightGradPrim.bind1([xf, ct!], { ...p, weightShape }), 1, 1, size);
    }
    const ctf = foldBatch(ct!, dct!, 1, G);
    const weightShape = withDim(p.weightShape, 0, size * o);
    if (dx === null)
      return unfoldBatch(conv2dWeightGradPrim.bind1([x!, ctf], { ...p, weightShape }), 0, G, size);
    const xf = foldBatch(x!, dx!, 1, G);
    return unfoldBatch(
      conv2dWeightGradPrim.bind1([xf, ctf], { ...p, groups: G * size, weightShape }),
      0,
      G,
      size,
    );
  },
  formatParams: (p) => `${formatConvParams(p)} weightShape=${fmtShape(p.weightShape)}`,
});

function formatConvParams(p: ConvParams): string {
  const pad = `(${p.padding[0].join(",")}),(${p.padding[1].join(",")})`;
  return `stride=(${p.stride.join(",")}) padding=(${pad}) dilation=(${p.dilation.join(",")}) groups=${p.groups}`;
}

// ---------------------------------------------------------------------------------------------------
// functions on the primitives (the PyTorch-style front-end is nn/conv.ts)

/** conv2d(x [N,C,H,W], w [O,C/groups,KH,KW]) with explicit parameters. */
export function conv2dGeneral(x: NdArray, w: NdArray, params: ConvParams): NdArray {
  return conv2dPrim.bind1([x, w], params);
}

/** The gradient of conv2d with respect to its input, for an input of `inputShape` (conv-transpose). */
export function conv2dInputGrad(ct: NdArray, w: NdArray, params: ConvParams, inputShape: Shape): NdArray {
  return conv2dInputGradPrim.bind1([ct, w], { ...convParams(params), inputShape });
}

/** The gradient of conv2d with respect to its weight, for a weight of `weightShape`. */
export function conv2dWeightGrad(x: NdArray, ct: NdArray, params: ConvParams, weightShape: Shape): NdArray {
  return conv2dWeightGradPrim.bind1([x, ct], { ...convParams(params), weightShape });
}
