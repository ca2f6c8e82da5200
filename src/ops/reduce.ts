/**
 * Reductions: reduce_sum / max / min / prod / and / or over a set of axes, argmax / argmin along one
 * axis, cumsum; and the user-facing sum, mean, max, min, prod, var, std, any, all, argmax, argmin.
 * Max and min split the gradient evenly among tied elements (as torch.amax and JAX).
 */

import {
  argReduceKernel,
  cumsumKernel,
  outStridesFor,
  type ReduceOp,
  reduceInto,
} from "../backend/js/reduce.js";
import { chooseKernel } from "../backend/kernel-choice.js";
import { wasmReduce } from "../backend/wasm/reduce.js";
import { webgpuArgReduce, webgpuReduce } from "../backend/webgpu/reduce.js";
import { ConcreteArray, type NdArray } from "../core/array.js";
import type { RewriteRule } from "../core/compiler-facts.js";
import { isFloat, operandDTypeFor } from "../core/dtype.js";
import type { ReduceOptions } from "../core/methods-types.js";
import type { OnnxGraph } from "../core/onnx-rule.js";
import { checkOptions } from "../core/options.js";
import {
  type BatchDim,
  type Kernel,
  type Primitive,
  type PrimitiveRules,
  primitive,
} from "../core/primitive.js";
import { fmtShape, normalizeAxes, normalizeAxis, type Shape, ShapeError, sizeOf } from "../core/shape.js";
import { add, astype, div, equal, mul, sub } from "./binary.js";
import { full } from "./creation.js";
import { cumsumToOnnx } from "./cumulative-onnx.js";
import { loweredPrimitive } from "./eager.js";
import { broadcastInDimPrim, moveAxisTo0, reshape, transpose } from "./layout.js";
import { concatenate, slice } from "./shape.js";
import { sqrt, square } from "./unary.js";

export interface ReduceParams {
  /** Sorted, distinct, non-negative axes. */
  axes: readonly number[];
}

function reducedShape(op: string, shape: Shape, axes: readonly number[]): number[] {
  for (const a of axes) {
    if (a < 0 || a >= shape.length)
      throw new ShapeError(`${op}: axis ${a} is out of bounds for shape ${fmtShape(shape)}`);
  }
  return shape.filter((_, i) => !axes.includes(i));
}

/** Shifts reduction axes past a batch axis moved to the front. */
function batchAxes(axes: readonly number[]): number[] {
  return axes.map((a) => a + 1);
}

function reductionBatch<P extends ReduceParams>(prim: Primitive<P>) {
  return ([x]: readonly [NdArray], [d]: readonly [BatchDim], params: P): [NdArray[], BatchDim[]] => [
    [prim.bind1([moveAxisTo0(x, d)], { ...params, axes: batchAxes(params.axes) })],
    [0],
  ];
}

/** Broadcasts a reduced array back against the input shape (re-inserting the reduced axes). */
export function expandReduced(y: NdArray, inShape: Shape, axes: readonly number[]): NdArray {
  const kept = inShape.map((_, i) => i).filter((i) => !axes.includes(i));
  return broadcastInDimPrim.bind1([y], { shape: inShape, broadcastDimensions: kept });
}

function reducePrimitive(
  name: string,
  op: ReduceOp,
  rules: Pick<PrimitiveRules<ReduceParams, [x: unknown], [out: unknown]>, "jvp" | "transpose" | "compiler">,
) {
  const prim: Primitive<ReduceParams, [x: unknown], [out: unknown]> = loweredPrimitive<
    ReduceParams,
    [x: unknown],
    [out: unknown]
  >({
    name,
    widenNarrow: { kind: op === "max" || op === "min" ? "ordered" : "modular" },
    abstractEval([x], { axes }) {
      if ((op === "and" || op === "or") && x.dtype !== "bool")
        throw new ShapeError(`${name}: expected a bool array, got ${x.dtype}`);
      return [{ shape: reducedShape(name, x.shape, axes), dtype: x.dtype }];
    },
    batch: (args, dims, params) => reductionBatch(prim)(args, dims, params),
    onnx: (g, [x], { axes }) => [reduceToOnnx(g, op, x!, axes)],
    ...rules,
    compiler:
      op === "sum" || op === "max" || op === "min"
        ? { ...rules.compiler, fusion: { kind: "reduction", monoid: op } }
        : rules.compiler,
    webgpu:
      op === "sum" || op === "max" || op === "min"
        ? ([x], _outs, { axes }) => webgpuReduce(op, x.dtype, x.shape, axes)
        : undefined,
    lower([x], [out], { axes }, context) {
      return chooseKernel<Kernel>(
        context,
        { dtype: x.dtype },
        () => {
          const wasm = wasmReduce(op, x.dtype, x.shape, axes, context);
          return wasm && (([a], [o]) => wasm(a!, o!));
        },
        () => {
          const acc = new Float64Array(sizeOf(out.shape));
          const strides = outStridesFor(x.shape, axes);
          return ([a], [o]) => reduceInto(op, a!, x.shape, o!, acc, strides);
        },
      );
    },
  });
  return prim;
}

const ONNX_REDUCE: Readonly<Record<ReduceOp, string>> = {
  sum: "ReduceSum",
  max: "ReduceMax",
  min: "ReduceMin",
  prod: "ReduceProd",
  // bool: as int32 0/1, the minimum is "all" and the maximum "any" (ONNX has no bool reductions).
  and: "ReduceMin",
  or: "ReduceMax",
};

function reduceToOnnx(g: OnnxGraph, op: ReduceOp, x: string, axes: readonly number[]): string {
  if (axes.length === 0) return g.node1("Identity", [x]);
  const name = ONNX_REDUCE[op];
  // Opset 18 takes every reduction's axes as an input.
  if (op === "and" || op === "or") {
    const reduced = g.node1(name, [g.cast(x, "bool", "int32"), g.int64s(axes)], { keepdims: 0 });
    return g.cast(reduced, "int32", "bool");
  }
  return g.node1(name, [x, g.int64s(axes)], { keepdims: 0 });
}

export const reduceSumPrim = reducePrimitive("reduce_sum", "sum", {
  jvp: ([x], [t], p) => ({
    primalsOut: [reduceSumPrim.bind1([x], p)],
    tangentsOut: [reduceSumPrim.bind1([t], p)],
  }),
  transpose: ([ct], [x], { axes }) => [expandReduced(ct, x.aval.shape, axes)],
  compiler: { rewrites: () => [sumOfPositiveZeros("reduce_sum(+0) -> +0")] },
});

/** A sum of +0 is +0, in any order. */
function sumOfPositiveZeros<P>(law: string): RewriteRule<P> {
  return { law, operands: [{ constant: 0 }], rewrite: () => ({ kind: "constant", value: 0 }) };
}

function extremumJvp(prim: () => Primitive<ReduceParams>) {
  return ([x]: readonly [NdArray], [t]: readonly [NdArray], p: ReduceParams) => {
    const y = prim().bind1([x], p);
    // Ties share the tangent evenly: sum(t * mask) / count(mask).
    const mask = astype(equal(x, expandReduced(y, x.shape, p.axes)), x.dtype);
    const count = reduceSumPrim.bind1([mask], p);
    const tOut = div(reduceSumPrim.bind1([mul(t, mask)], p), count);
    return { primalsOut: [y], tangentsOut: [tOut] };
  };
}

export const reduceMaxPrim: Primitive<ReduceParams> = reducePrimitive("reduce_max", "max", {
  jvp: extremumJvp(() => reduceMaxPrim),
});
export const reduceMinPrim: Primitive<ReduceParams> = reducePrimitive("reduce_min", "min", {
  jvp: extremumJvp(() => reduceMinPrim),
});

export const reduceProdPrim: Primitive<ReduceParams> = reducePrimitive("reduce_prod", "prod", {
  jvp([x], [t], p) {
    const y = reduceProdPrim.bind1([x], p);
    return { primalsOut: [y], tangentsOut: [prodTangent(x, t, p.axes)] };
  },
});

/**
 * d prod(x) along t, by a pairwise tree of products carrying (value, tangent) pairs (as JAX's
 * _reduce_jvp): only products and sums, so it is exact at zeros and differentiable again, which a
 * where-based "product of the others" is not (its second derivative is 0 where x has a zero).
 */
function prodTangent(x: NdArray, t: NdArray, axes: readonly number[]): NdArray {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => x.shape[i]!);
  let n = sizeOf(axes.map((a) => x.shape[a]!));
  if (n === 0) return full(keptShape, 0, { dtype: x.dtype });
  const toFront = (a: NdArray) => reshape(transpose(a, [...axes, ...kept]), [n, ...keptShape]);
  let xs = toFront(x);
  let ts = toFront(t);
  while (n > 1) {
    if (n % 2 === 1) {
      // Pad with the identity of the product (and a zero tangent).
      xs = concatenate([xs, full([1, ...keptShape], 1, { dtype: x.dtype })]);
      ts = concatenate([ts, full([1, ...keptShape], 0, { dtype: x.dtype })]);
      n += 1;
    }
    const half = n / 2;
    const [x1, x2] = [slice(xs, [{ stop: half }]), slice(xs, [{ start: half }])];
    const [t1, t2] = [slice(ts, [{ stop: half }]), slice(ts, [{ start: half }])];
    xs = mul(x1, x2);
    ts = add(mul(t1, x2), mul(x1, t2));
    n = half;
  }
  return reshape(ts, keptShape);
}

const noGradient = (
  [x]: readonly [NdArray],
  _t: readonly [NdArray],
  p: ReduceParams,
  prim: Primitive<ReduceParams>,
) => ({
  primalsOut: [prim.bind1([x], p)],
  tangentsOut: [],
});

export const reduceAndPrim: Primitive<ReduceParams> = reducePrimitive("reduce_and", "and", {
  jvp: (xs, ts, p) => noGradient(xs, ts, p, reduceAndPrim),
});
export const reduceOrPrim: Primitive<ReduceParams> = reducePrimitive("reduce_or", "or", {
  jvp: (xs, ts, p) => noGradient(xs, ts, p, reduceOrPrim),
});

// ---------------------------------------------------------------------------------------------------
// argmax / argmin

export interface ArgReduceParams {
  axis: number;
}

function argPrimitive(kind: "max" | "min"): Primitive<ArgReduceParams> {
  const name = `arg${kind}`;
  const prim: Primitive<ArgReduceParams, [x: unknown], [out: unknown]> = primitive({
    name,
    widenNarrow: { kind: "ordered", indexOutputs: [0] },
    abstractEval([x], { axis }) {
      if (axis < 0 || axis >= x.shape.length)
        throw new ShapeError(`${name}: axis ${axis} is out of bounds for shape ${fmtShape(x.shape)}`);
      if (x.shape[axis] === 0)
        throw new ShapeError(`${name}: cannot reduce an empty axis ${axis} of ${fmtShape(x.shape)}`);
      return [{ shape: x.shape.filter((_, i) => i !== axis), dtype: "int32" }];
    },
    // ArgMax/ArgMin give int64 indices (the first extremum); 6 is ONNX's INT32.
    onnx: (g, [x], { axis }) => [
      g.node1("Cast", [g.node1(kind === "max" ? "ArgMax" : "ArgMin", [x!], { axis, keepdims: 0 })], {
        to: 6,
      }),
    ],
    impl: ([x], { axis }) => [
      new ConcreteArray(
        x.shape.filter((_, i) => i !== axis),
        "int32",
        argReduceKernel(kind, x.storage, x.shape, axis),
      ),
    ],
    webgpu: ([x], _outs, { axis }) => webgpuArgReduce(kind, x.dtype, x.shape, axis),
    jvp: ([x], _t, p) => ({ primalsOut: [prim.bind1([x], p)], tangentsOut: [] }),
    batch: ([x], [d], { axis }) => [[prim.bind1([moveAxisTo0(x, d)], { axis: axis + 1 })], [0]],
  });
  return prim;
}

export const argmaxPrim = argPrimitive("max");
export const argminPrim = argPrimitive("min");

// ---------------------------------------------------------------------------------------------------
// cumsum

export interface CumsumParams {
  axis: number;
  reverse: boolean;
}

export const cumsumPrim: Primitive<CumsumParams, [x: unknown], [out: unknown]> = primitive({
  name: "cumsum",
  widenNarrow: { kind: "modular" },
  onnx: (g, [x], { axis, reverse }) => [cumsumToOnnx(g, x!, axis, reverse)],
  abstractEval([x], { axis }) {
    if (axis < 0 || axis >= x.shape.length)
      throw new ShapeError(`cumsum: axis ${axis} is out of bounds for shape ${fmtShape(x.shape)}`);
    if (x.dtype === "bool") throw new ShapeError("cumsum: expected a numeric array, got bool");
    return [x];
  },
  impl: ([x], { axis, reverse }) => [
    new ConcreteArray(x.shape, x.dtype, cumsumKernel(x.storage, x.shape, axis, reverse, x.dtype)),
  ],
  jvp: ([x], [t], p) => ({
    primalsOut: [cumsumPrim.bind1([x], p)],
    tangentsOut: [cumsumPrim.bind1([t], p)],
  }),
  transpose: ([ct], _x, { axis, reverse }) => [cumsumPrim.bind1([ct], { axis, reverse: !reverse })],
  batch: ([x], [d], p) => [[cumsumPrim.bind1([moveAxisTo0(x, d)], { ...p, axis: p.axis + 1 })], [0]],
  compiler: { rewrites: () => [sumOfPositiveZeros("cumsum(+0) -> +0")] },
});

// ---------------------------------------------------------------------------------------------------
// user-facing reductions

const REDUCE_KEYS = ["axis", "keepdims"] as const;

function reduceWith(
  prim: Primitive<ReduceParams>,
  op: string,
  x: NdArray,
  options: ReduceOptions = {},
): NdArray {
  checkOptions(op, options, REDUCE_KEYS);
  const axes = normalizeAxes(op, options.axis, x.ndim);
  const y = axes.length === 0 ? x : prim.bind1([x], { axes });
  return options.keepdims ? keepDims(y, x.shape, axes) : y;
}

function keepDims(y: NdArray, inShape: Shape, axes: readonly number[]): NdArray {
  return reshape(
    y,
    inShape.map((d, i) => (axes.includes(i) ? 1 : d)),
  );
}

/** Sum over `axis` (all axes by default). bool sums count as int32. */
export function sum(x: NdArray, options?: ReduceOptions): NdArray {
  return reduceWith(reduceSumPrim, "sum", astype(x, operandDTypeFor("sum", x.dtype)), options);
}

/** Arithmetic mean over `axis` (all axes by default); integer and bool input gives float32. */
export function mean(x: NdArray, options: ReduceOptions = {}): NdArray {
  checkOptions("mean", options, REDUCE_KEYS);
  const axes = normalizeAxes("mean", options.axis, x.ndim);
  const count = sizeOf(axes.map((a) => x.shape[a]!));
  const xf = isFloat(x.dtype) ? x : astype(x, "float32");
  return div(sum(xf, options), count);
}

/**
 * Maximum over `axis` (all axes by default); throws on an empty reduction. The gradient is split evenly
 * among tied maxima (as torch.amax and JAX).
 */
export function max(x: NdArray, options?: ReduceOptions): NdArray {
  checkNonEmpty("max", x, options);
  return reduceWith(reduceMaxPrim, "max", x, options);
}

/** Minimum over `axis` (all axes by default); as `max`, for the smallest values. */
export function min(x: NdArray, options?: ReduceOptions): NdArray {
  checkNonEmpty("min", x, options);
  return reduceWith(reduceMinPrim, "min", x, options);
}

function checkNonEmpty(op: string, x: NdArray, options: ReduceOptions = {}): void {
  checkOptions(op, options, REDUCE_KEYS);
  const axes = normalizeAxes(op, options.axis, x.ndim);
  if (axes.some((a) => x.shape[a] === 0)) {
    throw new ShapeError(
      `${op}: zero-size reduction over axes ${JSON.stringify(axes)} of ${fmtShape(x.shape)} has no identity`,
    );
  }
}

/** Product over `axis` (all axes by default). bool products are int32. */
export function prod(x: NdArray, options?: ReduceOptions): NdArray {
  return reduceWith(reduceProdPrim, "prod", astype(x, operandDTypeFor("prod", x.dtype)), options);
}

/** Whether any element over `axis` is true (nonzero), as a bool array. */
export function any(x: NdArray, options?: ReduceOptions): NdArray {
  return reduceWith(reduceOrPrim, "any", x.dtype === "bool" ? x : astype(x, "bool"), options);
}

/** Whether every element over `axis` is true (nonzero), as a bool array. */
export function all(x: NdArray, options?: ReduceOptions): NdArray {
  return reduceWith(reduceAndPrim, "all", x.dtype === "bool" ? x : astype(x, "bool"), options);
}

/** Variance with `ddof` (0 by default, as numpy; torch.var uses 1). */
export function variance(x: NdArray, options: ReduceOptions & { ddof?: number } = {}): NdArray {
  checkOptions("var", options, [...REDUCE_KEYS, "ddof"]);
  const axes = normalizeAxes("var", options.axis, x.ndim);
  const n = sizeOf(axes.map((a) => x.shape[a]!));
  const xf = isFloat(x.dtype) ? x : astype(x, "float32");
  const centered = sub(xf, mean(xf, { axis: axes, keepdims: true }));
  return div(
    sum(square(centered), { axis: axes, keepdims: options.keepdims ?? false }),
    Math.max(n - (options.ddof ?? 0), 0),
  );
}

/** Standard deviation: the square root of `variance` with the same `ddof` (0 by default, as numpy). */
export function std(x: NdArray, options: ReduceOptions & { ddof?: number } = {}): NdArray {
  checkOptions("std", options, [...REDUCE_KEYS, "ddof"]);
  return sqrt(variance(x, options));
}

function argReduce(
  prim: Primitive<ArgReduceParams>,
  op: string,
  x: NdArray,
  options: { axis?: number | null; keepdims?: boolean } = {},
) {
  checkOptions(op, options, REDUCE_KEYS);
  if (options.axis === undefined || options.axis === null) {
    const flat = reshape(x, [x.size]);
    const y = prim.bind1([flat], { axis: 0 });
    return options.keepdims
      ? reshape(
          y,
          x.shape.map(() => 1),
        )
      : y;
  }
  const axis = normalizeAxis(op, options.axis, x.ndim);
  const y = prim.bind1([x], { axis });
  return options.keepdims ? keepDims(y, x.shape, [axis]) : y;
}

/** Index of the first maximum along `axis` (of the flattened array when `axis` is omitted or null), int32. */
export function argmax(x: NdArray, options?: { axis?: number | null; keepdims?: boolean }): NdArray {
  return argReduce(argmaxPrim, "argmax", x, options);
}

/** Index of the first minimum along `axis` (of the flattened array when `axis` is omitted or null), int32. */
export function argmin(x: NdArray, options?: { axis?: number | null; keepdims?: boolean }): NdArray {
  return argReduce(argminPrim, "argmin", x, options);
}

/** Inclusive cumulative sum along `axis` (of the flattened array when `axis` is omitted or null). */
export function cumsum(x: NdArray, options: { axis?: number | null; reverse?: boolean } = {}): NdArray {
  checkOptions("cumsum", options, ["axis", "reverse"]);
  const xx = astype(x, operandDTypeFor("cumsum", x.dtype));
  // No axis flattens; a 0-d array is accumulated as the 1-d array of its one element (numpy and JAX).
  if (options.axis === undefined || options.axis === null || x.ndim === 0) {
    if (options.axis !== undefined && options.axis !== null) normalizeAxis("cumsum", options.axis, 1);
    return cumsumPrim.bind1([reshape(xx, [x.size])], { axis: 0, reverse: options.reverse ?? false });
  }
  return cumsumPrim.bind1([xx], {
    axis: normalizeAxis("cumsum", options.axis, x.ndim),
    reverse: options.reverse ?? false,
  });
}
