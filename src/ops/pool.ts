/**
 * 2-D pooling on NCHW input, PyTorch semantics (floor output size; max pooling pads with -infinity).
 *
 * max_pool2d is differentiated through its argmax: the tangent is gathered at the window's first
 * maximum (pool_gather), whose transpose scatter-adds cotangents back (pool_scatter_add), so overlapping
 * windows accumulate. Average pooling is a depthwise conv2d with constant weights, reusing its rules.
 */

import {
  maxPool2dKernel,
  type PoolGeometry,
  poolGatherKernel,
  poolScatterAddKernel,
} from "../backend/js/pool.js";
import { chooseKernel } from "../backend/kernel-choice.js";
import { wasmMaxPool2d, wasmPoolGather, wasmPoolScatterAdd } from "../backend/wasm/pool.js";
import { webgpuMaxPool, webgpuPoolGather, webgpuPoolScatterAdd } from "../backend/webgpu/pool.js";
import { WgslUnsupportedError } from "../backend/webgpu/wgsl.js";
import { ConcreteArray, type NdArray } from "../core/array.js";
import { type DType, storageFor } from "../core/dtype.js";
import { type BatchDim, type Kernel, type Primitive, UndefinedPrimal } from "../core/primitive.js";
import { fmtShape, type Shape, ShapeError, shapeEquals, sizeOf } from "../core/shape.js";
import { divide } from "./binary.js";
import { conv2dPrim, convOutputSize, type Pair } from "./conv.js";
import { loweredPrimitive } from "./eager.js";
import { broadcastInDimPrim, moveAxisTo0, reshape } from "./layout.js";

export interface MaxPoolParams {
  kernel: Pair;
  stride: Pair;
  /** [[top, bottom], [left, right]], each side smaller than the kernel (so every window sees the input). */
  padding: readonly [Pair, Pair];
}

/**
 * What pool_gather knows of its indices: with `distinctIndices` no two of a plane's indices are equal (the
 * argmax of windows that do not overlap), so its transpose writes each cell at most once.
 */
export interface PoolGatherParams {
  distinctIndices?: boolean;
}

export interface PoolScatterParams extends PoolGatherParams {
  /** The [H, W] of the planes scattered into. */
  planeShape: Pair;
}

/** Whether no two windows of a max pool share a cell: apart in one direction and in the other. */
function windowsDisjoint(p: MaxPoolParams, xShape: Shape): boolean {
  const g = poolGeometry("max_pool2d", xShape, p);
  return (g.strideH >= g.kernelH || g.outHeight === 1) && (g.strideW >= g.kernelW || g.outWidth === 1);
}

/** The WebGPU pooling kernels compute float32 (other dtypes stay on the CPU). */
function float32OnWebgpu(op: string, dtype: DType): DType {
  if (dtype !== "float32") throw new WgslUnsupportedError(`${op} of ${dtype} (WebGPU pools float32)`);
  return dtype;
}

/** MaxPool's attributes for these params (ONNX pads are [top, left, bottom, right]). */
function maxPoolAttributes(p: MaxPoolParams) {
  const [[top, bottom], [left, right]] = p.padding;
  return { kernel_shape: p.kernel, strides: p.stride, pads: [top, left, bottom, right] };
}

function poolGeometry(op: string, xShape: Shape, p: MaxPoolParams): PoolGeometry {
  const ints = (v: readonly number[], min: number) => v.every((d) => Number.isInteger(d) && d >= min);
  if (!ints(p.kernel, 1))
    throw new ShapeError(`${op}: kernel must be positive integers, got ${JSON.stringify(p.kernel)}`);
  if (!ints(p.stride, 1))
    throw new ShapeError(`${op}: stride must be positive integers, got ${JSON.stringify(p.stride)}`);
  const padOk =
    p.padding.length === 2 &&
    p.padding.every((side, a) => side.length === 2 && ints(side, 0) && side.every((s) => s < p.kernel[a]!));
  if (!padOk) {
    throw new ShapeError(
      `${op}: padding must be [[top, bottom], [left, right]] non-negative integers smaller than the kernel ` +
        `${JSON.stringify(p.kernel)}, got ${JSON.stringify(p.padding)}`,
    );
  }
  if (xShape.length !== 4)
    throw new ShapeError(`${op}: expected a 4-D input [N, C, H, W], got ${fmtShape(xShape)}`);
  const [n, c, h, w] = xShape as [number, number, number, number];
  const oh = convOutputSize(h, p.kernel[0], p.stride[0], p.padding[0], 1);
  const ow = convOutputSize(w, p.kernel[1], p.stride[1], p.padding[1], 1);
  if (oh < 1 || ow < 1) {
    throw new ShapeError(
      `${op}: empty output ${oh}x${ow}: input ${fmtShape(xShape)} with padding ${JSON.stringify(p.padding)} ` +
        `is smaller than the kernel ${JSON.stringify(p.kernel)}`,
    );
  }
  return {
    planes: n * c,
    inHeight: h,
    inWidth: w,
    outHeight: oh,
    outWidth: ow,
    kernelH: p.kernel[0],
    kernelW: p.kernel[1],
    strideH: p.stride[0],
    strideW: p.stride[1],
    padTop: p.padding[0][0],
    padLeft: p.padding[1][0],
  };
}

function pooledShape(xShape: Shape, g: PoolGeometry): number[] {
  return [xShape[0]!, xShape[1]!, g.outHeight, g.outWidth];
}

type FloatDType = "float32" | "float64";

function checkFloat(op: string, dtype: DType): asserts dtype is FloatDType {
  if (dtype !== "float32" && dtype !== "float64") {
    throw new ShapeError(`${op}: dtype ${dtype} is not supported (expected float32 or float64)`);
  }
}

/** vmap: every operand gets the batch in front (broadcast when unbatched), folded into N. */
function foldIntoN(args: readonly NdArray[], dims: readonly BatchDim[]): [NdArray[], number] {
  const i = dims.findIndex((d) => d !== null);
  const size = args[i]!.shape[dims[i]!]!;
  const folded = args.map((a, k) => {
    const d = dims[k];
    const front =
      d === null || d === undefined
        ? broadcastInDimPrim.bind1([a], {
            shape: [size, ...a.shape],
            broadcastDimensions: a.shape.map((_, j) => j + 1),
          })
        : moveAxisTo0(a, d);
    return reshape(front, [size * front.shape[1]!, ...front.shape.slice(2)]);
  });
  return [folded, size];
}

function unfoldN(y: NdArray, size: number): [NdArray[], BatchDim[]] {
  return [[reshape(y, [size, y.shape[0]! / size, ...y.shape.slice(1)])], [0]];
}

// ---------------------------------------------------------------------------------------------------
// max pooling and its argmax

export const maxPool2dPrim: Primitive<MaxPoolParams> = loweredPrimitive<MaxPoolParams>({
  name: "max_pool2d",
  onnx: (g, [x], p) => [g.node1("MaxPool", [x!], maxPoolAttributes(p))],
  widenNarrow: { kind: "ordered" },
  abstractEval([x], p) {
    checkFloat("max_pool2d", x!.dtype);
    return [{ shape: pooledShape(x!.shape, poolGeometry("max_pool2d", x!.shape, p)), dtype: x!.dtype }];
  },
  webgpu: ([x], _outs, p) =>
    webgpuMaxPool(poolGeometry("max_pool2d", x!.shape, p), float32OnWebgpu("max_pool2d", x!.dtype), "values"),
  lower([x], _outs, p, context) {
    const g = poolGeometry("max_pool2d", x!.shape, p);
    return chooseKernel<Kernel>(
      context,
      { dtype: x!.dtype },
      () => {
        const wasm = wasmMaxPool2d(g, x!.dtype, { values: true, indices: false }, context);
        return wasm && (([xa], [o]) => wasm(xa!, o!, null));
      },
      () =>
        ([xa], [o]) =>
          maxPool2dKernel(xa!, g, o!, null),
    );
  },
  jvp([x], [t], p) {
    // The primal is read through the same argmax that routes the tangent (one window scan, not two).
    const at = maxPool2dArgmaxPrim.bind1([x!], p);
    const gather = windowsDisjoint(p, x!.shape) ? { distinctIndices: true } : {};
    return {
      primalsOut: [poolGatherPrim.bind1([x!, at], gather)],
      tangentsOut: [poolGatherPrim.bind1([t!, at], gather)],
    };
  },
  batch([x], [d], p) {
    const [[xf], size] = foldIntoN([x!], [d!]);
    return unfoldN(maxPool2dPrim.bind1([xf!], p), size);
  },
});

/** The flat index h*W + w (into the unpadded plane) of each window's first maximum, like PyTorch's indices. */
export const maxPool2dArgmaxPrim: Primitive<MaxPoolParams> = loweredPrimitive<MaxPoolParams>({
  name: "max_pool2d_argmax",
  // MaxPool's indices count over the whole [N, C, H, W] tensor; the primitive's are per plane.
  onnx(g, [x], p, [xAval]) {
    const [, indices] = g.node("MaxPool", [x!], maxPoolAttributes(p), 2);
    const planeSize = xAval!.shape[2]! * xAval!.shape[3]!;
    // int64 indices modulo the plane size (a 1-element int64 tensor broadcasts), then ONNX's INT32 (6).
    return [g.node1("Cast", [g.node1("Mod", [indices!, g.int64s([planeSize])])], { to: 6 })];
  },
  widenNarrow: { kind: "ordered", indexOutputs: [0] },
  abstractEval([x], p) {
    checkFloat("max_pool2d_argmax", x!.dtype);
    return [{ shape: pooledShape(x!.shape, poolGeometry("max_pool2d_argmax", x!.shape, p)), dtype: "int32" }];
  },
  webgpu: ([x], _outs, p) =>
    webgpuMaxPool(
      poolGeometry("max_pool2d_argmax", x!.shape, p),
      float32OnWebgpu("max_pool2d_argmax", x!.dtype),
      "indices",
    ),
  lower([x], _outs, p, context) {
    const g = poolGeometry("max_pool2d_argmax", x!.shape, p);
    return chooseKernel<Kernel>(
      context,
      { dtype: x!.dtype },
      () => {
        const wasm = wasmMaxPool2d(g, x!.dtype, { values: false, indices: true }, context);
        return wasm && (([xa], [o]) => wasm(xa!, null, o as Int32Array));
      },
      () =>
        ([xa], [o]) =>
          maxPool2dKernel(xa!, g, null, o as Int32Array),
    );
  },
  jvp: ([x], _t, p) => ({ primalsOut: [maxPool2dArgmaxPrim.bind1([x!], p)], tangentsOut: [] }),
  batch([x], [d], p) {
    const [[xf], size] = foldIntoN([x!], [d!]);
    return unfoldN(maxPool2dArgmaxPrim.bind1([xf!], p), size);
  },
});

// ---------------------------------------------------------------------------------------------------
// gather at / scatter-add to per-plane flat indices (linear in the values)

function checkIndexed(
  op: string,
  values: Shape,
  valuesDtype: DType,
  idx: Shape,
  idxDtype: DType,
  idxIsOutput: boolean,
): void {
  checkFloat(op, valuesDtype);
  if (idxDtype !== "int32") throw new ShapeError(`${op}: indices must be int32, got ${idxDtype}`);
  const same = values.length === 4 && idx.length === 4 && values[0] === idx[0] && values[1] === idx[1];
  if (!same || (idxIsOutput && !shapeEquals(values, idx))) {
    throw new ShapeError(
      `${op}: values ${fmtShape(values)} and indices ${fmtShape(idx)} do not have matching [N, C] planes`,
    );
  }
}

/** out[n, c, i, j] = t[n, c, idx[n, c, i, j]] with idx a flat h*W + w index. */
export const poolGatherPrim: Primitive<PoolGatherParams> = loweredPrimitive<PoolGatherParams>({
  name: "pool_gather",
  onnx(g, [t, idx], _p, [tAval, idxAval]) {
    const [n, c, h, w] = tAval!.shape as [number, number, number, number];
    const planes = g.node1("Reshape", [t!, g.int64s([n, c, h * w])]);
    const at = g.node1("Reshape", [idx!, g.int64s([n, c, sizeOf(idxAval!.shape) / (n * c)])]);
    const gathered = g.node1("GatherElements", [planes, at], { axis: 2 });
    return [g.node1("Reshape", [gathered, g.int64s(idxAval!.shape)])];
  },
  widenNarrow: { kind: "modular" },
  abstractEval([t, idx]) {
    checkIndexed("pool_gather", t!.shape, t!.dtype, idx!.shape, idx!.dtype, false);
    return [{ shape: idx!.shape, dtype: t!.dtype }];
  },
  webgpu([t, idx]) {
    const [n, c, h, w] = t!.shape as [number, number, number, number];
    return webgpuPoolGather(
      float32OnWebgpu("pool_gather", t!.dtype),
      n * c,
      h * w,
      sizeOf(idx!.shape) / (n * c),
    );
  },
  lower([t, idx], _outs, _p, context) {
    const [n, c, h, w] = t!.shape as [number, number, number, number];
    return chooseKernel<Kernel>(
      context,
      { dtype: t!.dtype },
      () => {
        const wasm = wasmPoolGather(t!.dtype, n * c, h * w, sizeOf(idx!.shape) / (n * c), context);
        return wasm && (([ta, ia], [o]) => wasm(ta!, ia as Int32Array, o!));
      },
      () =>
        ([ta, ia], [o]) =>
          poolGatherKernel(ta!, ia as Int32Array, n * c, h * w, o!),
    );
  },
  jvp: ([t, idx], [tt], p) => ({
    primalsOut: [poolGatherPrim.bind1([t!, idx!], p)],
    tangentsOut: [poolGatherPrim.bind1([tt!, idx!], p)],
  }),
  transpose([ct], [t, idx], p) {
    if (idx instanceof UndefinedPrimal) throw new Error("pool_gather: the indices cannot be a linear input");
    const shape = (t as UndefinedPrimal).aval.shape;
    return [poolScatterAddPrim.bind1([ct!, idx!], { ...p, planeShape: [shape[2]!, shape[3]!] }), null];
  },
  batch(args, dims, p) {
    const [[t, idx], size] = foldIntoN(args, dims);
    return unfoldN(poolGatherPrim.bind1([t!, idx!], p), size);
  },
});

/** out[n, c, idx[n, c, k]] += ct[n, c, k] on zero planes of planeShape: the transpose of pool_gather. */
export const poolScatterAddPrim: Primitive<PoolScatterParams> = loweredPrimitive<PoolScatterParams>({
  name: "pool_scatter_add",
  onnx(g, [ct, idx], { planeShape }, [ctAval], [outAval]) {
    const [n, c] = ctAval!.shape as [number, number];
    const per = sizeOf(ctAval!.shape) / (n * c);
    const zeros = g.node1("Expand", [
      g.scalar(0, ctAval!.dtype),
      g.int64s([n, c, planeShape[0] * planeShape[1]]),
    ]);
    const flat = (x: string) => g.node1("Reshape", [x, g.int64s([n, c, per])]);
    const summed = g.node1("ScatterElements", [zeros, flat(idx!), flat(ct!)], { axis: 2, reduction: "add" });
    return [g.node1("Reshape", [summed, g.int64s(outAval!.shape)])];
  },
  widenNarrow: { kind: "modular" },
  abstractEval([ct, idx], { planeShape }) {
    checkIndexed("pool_scatter_add", ct!.shape, ct!.dtype, idx!.shape, idx!.dtype, true);
    return [{ shape: [ct!.shape[0]!, ct!.shape[1]!, ...planeShape], dtype: ct!.dtype }];
  },
  webgpu([ct], _outs, { planeShape }) {
    const [n, c] = ct!.shape as [number, number];
    const dtype = float32OnWebgpu("pool_scatter_add", ct!.dtype);
    return webgpuPoolScatterAdd(dtype, n * c, planeShape[0] * planeShape[1], sizeOf(ct!.shape) / (n * c));
  },
  lower([ct], [out], { planeShape, distinctIndices }, context) {
    const [n, c] = ct!.shape as [number, number];
    const planeSize = planeShape[0] * planeShape[1];
    const per = sizeOf(ct!.shape) / (n * c);
    return chooseKernel<Kernel>(
      context,
      { dtype: ct!.dtype },
      () => {
        const wasm = wasmPoolScatterAdd(ct!.dtype, n * c, planeSize, per, distinctIndices ?? false, context);
        return wasm && (([cta, ia], [o]) => wasm(cta!, ia as Int32Array, o!));
      },
      () => {
        const acc = new Float64Array(sizeOf(out!.shape));
        return ([cta, ia], [o]) => poolScatterAddKernel(cta!, ia as Int32Array, n * c, planeSize, acc, o!);
      },
    );
  },
  jvp: ([ct, idx], [tct], p) => ({
    primalsOut: [poolScatterAddPrim.bind1([ct!, idx!], p)],
    tangentsOut: [poolScatterAddPrim.bind1([tct!, idx!], p)],
  }),
  transpose([ct], [_values, idx], p) {
    if (idx instanceof UndefinedPrimal)
      throw new Error("pool_scatter_add: the indices cannot be a linear input");
    const gather = p.distinctIndices ? { distinctIndices: true } : {};
    return [poolGatherPrim.bind1([ct!, idx!], gather), null];
  },
  batch(args, dims, p) {
    const [[ct, idx], size] = foldIntoN(args, dims);
    return unfoldN(poolScatterAddPrim.bind1([ct!, idx!], p), size);
  },
  formatParams: (p) =>
    `planeShape=${fmtShape(p.planeShape)}${p.distinctIndices ? " distinctIndices=true" : ""}`,
});

// ---------------------------------------------------------------------------------------------------
// functions (the PyTorch-style front-ends are in nn/conv.ts)

export function maxPool2dGeneral(x: NdArray, params: MaxPoolParams): NdArray {
  return maxPool2dPrim.bind1([x], params);
}

/** PyTorch's `indices` of max_pool2d(..., return_indices=True), as int32. */
export function maxPool2dIndices(x: NdArray, params: MaxPoolParams): NdArray {
  return maxPool2dArgmaxPrim.bind1([x], params);
}

export interface AvgPoolParams extends MaxPoolParams {
  /** Divide by kh*kw even where the window covers padding (PyTorch's default), else by the real elements. */
  countIncludePad: boolean;
  /** When given, the divisor of every window. */
  divisorOverride?: number;
}

/**
 * Average pooling as a depthwise conv2d (groups = C) with constant weights, so that its derivatives,
 * transposes and batching are conv2d's.
 */
export function avgPool2dGeneral(x: NdArray, p: AvgPoolParams): NdArray {
  checkFloat("avg_pool2d", x.dtype);
  const g = poolGeometry("avg_pool2d", x.shape, p);
  const [kh, kw] = p.kernel;
  const channels = x.shape[1]!;
  const byKernel = p.divisorOverride === undefined && p.countIncludePad;
  const weight = constant([channels, 1, kh, kw], x.dtype, byKernel ? 1 / (kh * kw) : 1);
  const sums = conv2dPrim.bind1([x, weight], {
    stride: p.stride,
    padding: p.padding,
    dilation: [1, 1],
    groups: channels,
  });
  if (byKernel) return sums;
  if (p.divisorOverride !== undefined) return divide(sums, p.divisorOverride);
  return divide(sums, realElementCounts(g, x.dtype));
}

function constant(shape: number[], dtype: FloatDType, value: number): NdArray {
  return new ConcreteArray(shape, dtype, storageFor(dtype, sizeOf(shape)).fill(value));
}

/** How many input (not padding) elements each window covers, as a [1, 1, OH, OW] constant. */
function realElementCounts(g: PoolGeometry, dtype: FloatDType): NdArray {
  const counts = storageFor(dtype, g.outHeight * g.outWidth);
  const covered = (start: number, k: number, size: number) => Math.min(start + k, size) - Math.max(start, 0);
  for (let i = 0; i < g.outHeight; i++) {
    const rows = covered(i * g.strideH - g.padTop, g.kernelH, g.inHeight);
    for (let j = 0; j < g.outWidth; j++)
      counts[i * g.outWidth + j] = rows * covered(j * g.strideW - g.padLeft, g.kernelW, g.inWidth);
  }
  return new ConcreteArray([1, 1, g.outHeight, g.outWidth], dtype, counts);
}
