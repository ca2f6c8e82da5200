/**
 * Cumulative reductions beside cumsum (ops/reduce.ts): cumprod, cummax, cummin and logcumsumexp, one
 * primitive each with a sequential kernel (numpy's `ufunc.accumulate` order and rounding).
 *
 * Their derivatives are JAX's: the jvp of a parallel prefix scan (`associativeScan`, JAX's
 * associative_scan) over (value, tangent) pairs, written with slices, concatenations, reshapes and the
 * combining op's own jvp. That is exact where a division would not be (cumprod at zeros), stable
 * (logcumsumexp's weights are softmaxes of partial log-sums), differentiable again, and linear in the
 * tangent, so reverse mode comes from the transposes of those primitives.
 */

import { type CumulativeOp, cumulativeInto } from "../backend/js/cumulative.js";
import type { NdArray } from "../core/array.js";
import { type BoolOperandsOp, isFloat, operandDTypeFor } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import type { Kernel, Primitive } from "../core/primitive.js";
import { fmtShape, normalizeAxis, ShapeError } from "../core/shape.js";
import { add, astype, equal, greater, less, logicalAnd, mul, mulPrim, sub, where } from "./binary.js";
import { cumulativeToOnnx } from "./cumulative-onnx.js";
import { loweredPrimitive } from "./eager.js";
import { logaddexp } from "./elementwise-math.js";
import { moveAxisTo0, reshape } from "./layout.js";
import { concatenatePrim, revPrim, slicePrim } from "./shape.js";
import { isnan, logicalNot, negative, sigmoid } from "./unary.js";

export interface CumulativeParams {
  axis: number;
  reverse: boolean;
}

// ---------------------------------------------------------------------------------------------------
// associative scan (JAX's lax.associative_scan): O(n) combines in O(log n) rounds of whole-array ops

/** Combines two runs of tuples elementwise: `a` holds the earlier elements, `b` the later ones. */
export type ScanCombine = (a: readonly NdArray[], b: readonly NdArray[]) => NdArray[];

function sliceAxis(x: NdArray, axis: number, start: number, limit: number, stride = 1): NdArray {
  return slicePrim.bind1([x], {
    start: x.shape.map((_, i) => (i === axis ? start : 0)),
    limit: x.shape.map((d, i) => (i === axis ? limit : d)),
    strides: x.shape.map((_, i) => (i === axis ? stride : 1)),
  });
}

/** [a0, b0, a1, b1, ...] along `axis`; `a` has as many elements as `b` or one more. */
function interleave(a: NdArray, b: NdArray, axis: number): NdArray {
  const m = b.shape[axis]!;
  const extra = a.shape[axis]! - m;
  // A filler after b (a's last element) makes the pairs whole; the reshape's last element is cut off.
  const bFull = extra ? concatenatePrim.bind1([b, sliceAxis(a, axis, m, m + 1)], { axis }) : b;
  const withPairAxis = (x: NdArray) =>
    reshape(x, [...x.shape.slice(0, axis + 1), 1, ...x.shape.slice(axis + 1)]);
  const pairs = concatenatePrim.bind1([withPairAxis(a), withPairAxis(bFull)], { axis: axis + 1 });
  const merged = reshape(
    pairs,
    a.shape.map((d, i) => (i === axis ? 2 * d : d)),
  );
  return extra ? sliceAxis(merged, axis, 0, 2 * m + 1) : merged;
}

function scanLevels(combine: ScanCombine, elems: readonly NdArray[], axis: number): NdArray[] {
  const n = elems[0]!.shape[axis]!;
  if (n < 2) return [...elems];
  // Combine neighbouring pairs, scan those, then fill in the elements between.
  const reduced = combine(
    elems.map((e) => sliceAxis(e, axis, 0, n - 1, 2)),
    elems.map((e) => sliceAxis(e, axis, 1, n, 2)),
  );
  const odd = scanLevels(combine, reduced, axis);
  const firsts = elems.map((e) => sliceAxis(e, axis, 0, 1));
  if (n === 2) return firsts.map((f, i) => interleave(f, odd[i]!, axis));
  const rest = elems.map((e) => sliceAxis(e, axis, 2, n, 2));
  const even = combine(n % 2 === 0 ? odd.map((e) => sliceAxis(e, axis, 0, e.shape[axis]! - 1)) : odd, rest);
  return even.map((e, i) => interleave(concatenatePrim.bind1([firsts[i]!, e], { axis }), odd[i]!, axis));
}

/**
 * The inclusive scan of tuples of arrays along `axis` under an associative `combine` (JAX's
 * lax.associative_scan); `reverse` scans from the end. Built from slice, concatenate, reshape and rev,
 * so every transform applies.
 */
export function associativeScan(
  combine: ScanCombine,
  elems: readonly NdArray[],
  axis: number,
  reverse = false,
): NdArray[] {
  if (!reverse) return scanLevels(combine, elems, axis);
  const flip = (x: NdArray) => revPrim.bind1([x], { axes: [axis] });
  return scanLevels(combine, elems.map(flip), axis).map(flip);
}

// ---------------------------------------------------------------------------------------------------
// the primitives

/** A (value, tangent) combine from a binary primitive's jvp rule. */
function jvpOf(prim: Primitive<object>): ScanCombine {
  return ([x, tx], [y, ty]) => {
    const { primalsOut, tangentsOut } = prim.jvp([x!, y!], [tx!, ty!], {});
    return [primalsOut[0]!, tangentsOut[0]!];
  };
}

/**
 * cummax's (value, tangent) combine: the later run wins ties and the earlier one keeps a NaN, as the
 * kernel's step; the tangent is the one of the element that holds the running maximum.
 */
function selectCombine(earlierWins: (a: NdArray, b: NdArray) => NdArray): ScanCombine {
  return ([ya, ta], [yb, tb]) => {
    const takeB = logicalAnd(logicalNot(isnan(ya!)), logicalNot(earlierWins(ya!, yb!)));
    return [where(takeB, yb!, ya!), where(takeB, tb!, ta!)];
  };
}

/**
 * logcumsumexp's (value, tangent) combine: logaddexp and its jvp, the softmax weights σ(a - b), σ(b - a),
 * ½ each where a == b (two -Infinity too), as logaddexp's own rule in ops/elementwise-math.ts.
 */
const logaddexpCombine: ScanCombine = ([ya, ta], [yb, tb]) => {
  const d = where(equal(ya!, yb!), 0, sub(ya!, yb!));
  return [logaddexp(ya!, yb!), add(mul(ta!, sigmoid(d)), mul(tb!, sigmoid(negative(d))))];
};

const COMBINE: Record<CumulativeOp, ScanCombine> = {
  prod: jvpOf(mulPrim),
  max: selectCombine(greater),
  min: selectCombine(less),
  logsumexp: logaddexpCombine,
};

function cumulativePrimitive(name: string, op: CumulativeOp): Primitive<CumulativeParams, [x: unknown]> {
  const prim: Primitive<CumulativeParams, [x: unknown], [out: unknown]> = loweredPrimitive<
    CumulativeParams,
    [x: unknown],
    [out: unknown]
  >({
    name,
    abstractEval([x], { axis }) {
      if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length)
        throw new ShapeError(`${name}: axis ${axis} is out of bounds for shape ${fmtShape(x.shape)}`);
      if (op === "prod" && x.dtype === "bool")
        throw new ShapeError(`${name}: expected a numeric array, got bool (cumprod converts it to int32)`);
      if (op === "logsumexp" && !isFloat(x.dtype))
        throw new ShapeError(`${name}: expected a float array, got ${x.dtype}`);
      return [x];
    },
    lower: ([x], _out, { axis, reverse }): Kernel<[x: unknown], [out: unknown]> => {
      return ([a], [o]) => cumulativeInto(op, a, o, x.shape, axis, reverse, x.dtype);
    },
    jvp([x], [t], p) {
      const y = prim.bind1([x], p);
      if (!isFloat(x.dtype)) return { primalsOut: [y], tangentsOut: [] };
      const [, ty] = associativeScan(COMBINE[op], [x, t], p.axis, p.reverse);
      return { primalsOut: [y], tangentsOut: [ty!] };
    },
    batch: ([x], [d], p) => [[prim.bind1([moveAxisTo0(x, d)], { ...p, axis: p.axis + 1 })], [0]],
    onnx: (g, [x], { axis, reverse }, [aval]) => [cumulativeToOnnx(g, name, op, x!, axis, reverse, aval!)],
  });
  return prim;
}

export const cumprodPrim = cumulativePrimitive("cumprod", "prod");
export const cummaxPrim = cumulativePrimitive("cummax", "max");
export const cumminPrim = cumulativePrimitive("cummin", "min");
export const logcumsumexpPrim = cumulativePrimitive("logcumsumexp", "logsumexp");

// ---------------------------------------------------------------------------------------------------
// user-facing

/** Options of the cumulative functions (as `cumsum`'s). */
export interface CumulativeOptions {
  /** The axis to accumulate along; omitted or null flattens the array first (numpy's default). */
  axis?: number | null;
  /** Accumulate from the end of the axis (JAX's `reverse`): element i combines elements i, i+1, .... */
  reverse?: boolean;
}

function cumulative(
  prim: Primitive<CumulativeParams, [x: unknown]>,
  op: BoolOperandsOp | "logcumsumexp",
  x: NdArray,
  options: CumulativeOptions,
): NdArray {
  checkOptions(op, options, ["axis", "reverse"]);
  const dtype =
    op === "logcumsumexp" ? (isFloat(x.dtype) ? x.dtype : "float32") : operandDTypeFor(op, x.dtype);
  const xx = astype(x, dtype);
  const reverse = options.reverse ?? false;
  if (typeof reverse !== "boolean")
    throw new TypeError(`${op}: option reverse must be a boolean, got ${String(reverse)}`);
  // No axis flattens; a 0-d array is accumulated as the 1-d array of its one element (numpy and JAX).
  if (options.axis === undefined || options.axis === null || x.ndim === 0) {
    if (options.axis !== undefined && options.axis !== null) normalizeAxis(op, options.axis, 1);
    return prim.bind1([reshape(xx, [x.size])], { axis: 0, reverse });
  }
  return prim.bind1([xx], { axis: normalizeAxis(op, options.axis, x.ndim), reverse });
}

/**
 * Inclusive cumulative product along `axis` (of the flattened array when `axis` is omitted or null),
 * numpy's `cumprod` (multiply.accumulate: products in order, each rounded to the dtype). bool input gives
 * int32 (`BOOL_OPERANDS`); int32 products wrap around, as `prod` (numpy: int64). The gradient is exact
 * where elements are zero (JAX's: the jvp of a prefix scan of products, no division by x).
 */
export function cumprod(x: NdArray, options: CumulativeOptions = {}): NdArray {
  return cumulative(cumprodPrim, "cumprod", x, options);
}

/**
 * Running maximum along `axis` (of the flattened array when `axis` is omitted or null), numpy's
 * `maximum.accumulate`: a NaN propagates to every later element, and on ties the later element is
 * taken (`[0, -0]` gives `[0, -0]`). bool input stays bool (logical OR, `BOOL_OPERANDS`). The gradient
 * goes to the element that holds the running maximum: the latest one on ties (as torch.cummax's
 * indices), the first NaN once there is one.
 */
export function cummax(x: NdArray, options: CumulativeOptions = {}): NdArray {
  return cumulative(cummaxPrim, "cummax", x, options);
}

/** Running minimum along `axis`, numpy's `minimum.accumulate`; as `cummax` (bool: logical AND). */
export function cummin(x: NdArray, options: CumulativeOptions = {}): NdArray {
  return cumulative(cumminPrim, "cummin", x, options);
}

/**
 * log(cumsum(exp(x))) along `axis` (of the flattened array when `axis` is omitted or null), computed
 * stably as numpy's `logaddexp.accumulate` (torch.logcumsumexp, JAX's lax.cumlogsumexp): no overflow
 * for large x, no underflow to -Infinity for very negative x. Integer and bool input gives float32. Its
 * gradient weighs each element by the softmax of the elements up to the output's position.
 */
export function logcumsumexp(x: NdArray, options: CumulativeOptions = {}): NdArray {
  return cumulative(logcumsumexpPrim, "logcumsumexp", x, options);
}
