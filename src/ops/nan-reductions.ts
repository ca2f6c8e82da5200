/**
 * NaN-ignoring reductions (nansum, nanmean, nanmax, nanmin, nanvar, nanstd, nanargmax, nanargmin) and
 * ptp, average, countNonzero: compositions of `where`, `isnan` and the plain reductions, so their
 * gradients come from those (NaN entries get zero gradient) and no new primitive is needed.
 */

import type { NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import type { ReduceOptions } from "../core/methods-types.js";
import { checkOptions } from "../core/options.js";
import { ShapeError } from "../core/shape.js";
import { astype, div, equal, greater, logicalAnd, mul, notEqual, sub, where } from "./binary.js";
import { full } from "./creation.js";
import { argmax, argmin, max, min, std, sum, variance } from "./reduce.js";
import { isnan, logicalNot, sqrt, square } from "./unary.js";

const REDUCE_KEYS = ["axis", "keepdims"] as const;
type ArgOptions = { axis?: number | null; keepdims?: boolean };

/** The float the statistics compute in: the input's float dtype, float32 for integer and bool input. */
const asFloat = (x: NdArray): NdArray => (isFloat(x.dtype) ? x : astype(x, "float32"));

/**
 * Sum over `axis` (all axes by default) treating NaN as zero (numpy.nansum); an all-NaN or empty slice
 * sums to 0. bool and int32 input sums in int32, as `sum` (numpy: int64). NaN entries get a zero gradient.
 */
export function nansum(x: NdArray, options: ReduceOptions = {}): NdArray {
  checkOptions("nansum", options, REDUCE_KEYS);
  return sum(isFloat(x.dtype) ? where(isnan(x), 0, x) : x, options);
}

/** Mean over `axis` of the non-NaN elements (numpy.nanmean); NaN where a slice has none. Integer input gives float32. */
export function nanmean(x: NdArray, options: ReduceOptions = {}): NdArray {
  checkOptions("nanmean", options, REDUCE_KEYS);
  const xf = asFloat(x);
  const valid = logicalNot(isnan(xf));
  return div(sum(where(valid, xf, 0), options), astype(sum(valid, options), xf.dtype));
}

function nanExtreme(op: "nanmax" | "nanmin", x: NdArray, options: ReduceOptions): NdArray {
  checkOptions(op, options, REDUCE_KEYS);
  const reduce = op === "nanmax" ? max : min;
  if (!isFloat(x.dtype)) return reduce(x, options);
  const nan = isnan(x);
  const m = reduce(where(nan, op === "nanmax" ? -Infinity : Infinity, x), options);
  const allNan = logicalNot(sum(logicalNot(nan), options));
  return where(allNan, Number.NaN, m);
}

/**
 * Maximum over `axis` ignoring NaN (numpy.nanmax); NaN for an all-NaN slice; throws on an empty reduction.
 * The gradient is split evenly among tied maxima, as `max`'s.
 */
export function nanmax(x: NdArray, options: ReduceOptions = {}): NdArray {
  return nanExtreme("nanmax", x, options);
}

/** Minimum over `axis` ignoring NaN (numpy.nanmin); NaN for an all-NaN slice; throws on an empty reduction. */
export function nanmin(x: NdArray, options: ReduceOptions = {}): NdArray {
  return nanExtreme("nanmin", x, options);
}

/**
 * Variance over `axis` of the non-NaN elements with `ddof` (numpy.nanvar); NaN where fewer than
 * `ddof + 1` non-NaN elements remain. Integer input gives float32 (as `var`).
 */
export function nanvar(x: NdArray, options: ReduceOptions & { ddof?: number } = {}): NdArray {
  checkOptions("nanvar", options, [...REDUCE_KEYS, "ddof"]);
  if (!isFloat(x.dtype)) return variance(x, options);
  const { ddof = 0, ...reduce } = options;
  const valid = logicalNot(isnan(x));
  const m = nanmean(x, { axis: reduce.axis ?? null, keepdims: true });
  // NaN is replaced before the subtraction too: a NaN there would make the gradient 0 * NaN.
  const squares = sum(where(valid, square(sub(where(valid, x, 0), m)), 0), reduce);
  const dof = sub(astype(sum(valid, reduce), x.dtype), ddof);
  return where(greater(dof, 0), div(squares, dof), Number.NaN);
}

/**
 * Standard deviation over `axis` of the non-NaN elements: the square root of `nanvar` with the same `ddof`
 * (numpy.nanstd). Integer input gives float32 (as `std`).
 */
export function nanstd(x: NdArray, options: ReduceOptions & { ddof?: number } = {}): NdArray {
  checkOptions("nanstd", options, [...REDUCE_KEYS, "ddof"]);
  return isFloat(x.dtype) ? sqrt(nanvar(x, options)) : std(x, options);
}

function nanArg(op: "nanargmax" | "nanargmin", x: NdArray, options: ArgOptions): NdArray {
  checkOptions(op, options, REDUCE_KEYS);
  const arg = op === "nanargmax" ? argmax : argmin;
  if (!isFloat(x.dtype)) return arg(x, options);
  const axis = options.axis ?? null;
  const extreme = nanExtreme(op === "nanargmax" ? "nanmax" : "nanmin", x, { axis, keepdims: true });
  // The first non-NaN element equal to the extreme: argmax of a bool mask picks the first true.
  const hit = astype(logicalAnd(equal(x, extreme), logicalNot(isnan(x))), "int32");
  const index = argmax(hit, options);
  return where(sum(hit, { axis, keepdims: options.keepdims ?? false }), index, -1);
}

/**
 * Index of the first maximum along `axis` ignoring NaN (numpy.nanargmax), int32. An all-NaN slice gives
 * -1 (as jax.numpy; numpy raises, which a traced function cannot do).
 */
export function nanargmax(x: NdArray, options: ArgOptions = {}): NdArray {
  return nanArg("nanargmax", x, options);
}

/** Index of the first minimum along `axis` ignoring NaN (numpy.nanargmin), int32; -1 for an all-NaN slice. */
export function nanargmin(x: NdArray, options: ArgOptions = {}): NdArray {
  return nanArg("nanargmin", x, options);
}

/** Peak to peak, `max - min` over `axis` (numpy.ptp); NaN propagates; throws on an empty reduction. */
export function ptp(x: NdArray, options: ReduceOptions = {}): NdArray {
  checkOptions("ptp", options, REDUCE_KEYS);
  return sub(max(x, options), min(x, options));
}

/** Options of `average`: numpy's, with the weights as an option. */
export interface AverageOptions extends ReduceOptions {
  /** Weights of the elements: `x`'s shape, or 1-D along the single `axis` (default: all 1). */
  weights?: NdArray;
  /** Also return the sum of the weights, broadcast to the average's shape (default false). */
  returned?: boolean;
}

/**
 * Weighted average over `axis` (numpy.average): `sum(x * w) / sum(w)`. Integer and bool input gives
 * float32. Weights that sum to zero give NaN or infinity (numpy raises, which a traced function cannot do).
 */
export function average(x: NdArray, options: AverageOptions & { returned: true }): [NdArray, NdArray];
export function average(x: NdArray, options?: AverageOptions & { returned?: false }): NdArray;
export function average(x: NdArray, options: AverageOptions = {}): NdArray | [NdArray, NdArray] {
  checkOptions("average", options, [...REDUCE_KEYS, "weights", "returned"]);
  const { weights, returned = false, ...reduce } = options;
  const xf = asFloat(x);
  const ones = full(x.shape, 1, { dtype: xf.dtype });
  let w: NdArray;
  if (weights === undefined) {
    w = ones;
  } else if (weights.ndim === x.ndim) {
    w = weights;
  } else if (weights.ndim === 1 && typeof reduce.axis === "number") {
    const axis = reduce.axis < 0 ? reduce.axis + x.ndim : reduce.axis;
    if (weights.shape[0] !== x.shape[axis])
      throw new ShapeError(
        `average: 1-D weights of length ${weights.shape[0]} do not match axis ${reduce.axis} of [${x.shape}]`,
      );
    w = weights.reshape(x.shape.map((d, i) => (i === axis ? d : 1)));
  } else {
    throw new ShapeError(
      `average: weights of shape [${weights.shape}] need x's shape [${x.shape}], or 1-D with a single axis`,
    );
  }
  const wf = astype(w, isFloat(w.dtype) ? w.dtype : xf.dtype);
  const avg = div(sum(mul(xf, wf), reduce), sum(mul(ones, wf), reduce));
  return returned ? [avg, sum(mul(ones, wf), reduce)] : avg;
}

/** Number of nonzero (true) elements over `axis` (numpy.count_nonzero), int32; NaN counts as nonzero. */
export function countNonzero(x: NdArray, options: ReduceOptions = {}): NdArray {
  checkOptions("countNonzero", options, REDUCE_KEYS);
  return sum(notEqual(x, 0), options);
}
