/**
 * Functions whose result size depends on the values (issue 18): nonzero, argwhere and unique. As in
 * JAX, each takes a static `size` (and `fillValue` for the slots past the real count), and then is a
 * composition of cumsum, searchsorted, sort and take that works under jit and vmap. Without `size`
 * the array must be concrete (eager mode): its count is read from the data and used as the size.
 */

import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { describeValue, fmtShape, normalizeAxis, ShapeError } from "../core/shape.js";
import { knownValue } from "../core/trace.js";
import {
  astype,
  floorDivide,
  greaterEqual,
  less,
  logicalAnd,
  minimum,
  mod,
  notEqual,
  sub,
  where,
} from "./binary.js";
import { arange, full } from "./creation.js";
import { take } from "./indexing.js";
import { moveaxis, reshape } from "./layout.js";
import { any, cumsum } from "./reduce.js";
import { concatenate, slice, stack } from "./shape.js";
import { argsort, searchsorted } from "./sort.js";
import { isnan, logicalNot } from "./unary.js";

/** Options of `nonzero` and `argwhere` (JAX's `size` and `fill_value`). */
export interface NonzeroOptions {
  /** The number of indices returned per axis: the first `size` nonzero elements, padded with `fillValue`. */
  size?: number;
  /** The index written past the real count when `size` is larger (default 0, as JAX). */
  fillValue?: number;
}

function checkSize(op: string, size: unknown): number | undefined {
  if (size === undefined) return undefined;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)
    throw new RangeError(`${op}: size must be a non-negative integer, got ${describeValue(size)}`);
  return size;
}

function concreteData(op: string, x: NdArray): ArrayLike<number> {
  const known = knownValue(x);
  if (known === null)
    throw new ShapeError(
      `${op}: the result's size depends on the values of the ${x.dtype}${fmtShape(x.shape)} operand, which are not known while tracing; pass { size } (and fillValue) for a static size, as in JAX`,
    );
  return known.storage as ArrayLike<number>;
}

/**
 * Positions (int32) of the first `size` true elements of the 1-d bool `mask`, then `fill` past the
 * count: the k-th true element is where the running count first reaches k + 1.
 */
function truePositions(mask: NdArray, size: number, fill: number): NdArray {
  const counts = cumsum(astype(mask, "int32"));
  const ks = arange(1, size + 1, 1, { dtype: "int32" });
  const positions = searchsorted(counts, ks, { side: "left" });
  return where(less(positions, mask.size), positions, full([], fill, { dtype: "int32" }));
}

/**
 * numpy nonzero: for each axis of `x`, the indices (int32) of its nonzero elements, in row-major order.
 * Under jit pass `size` (and optionally `fillValue`, default 0), as in JAX.
 */
export function nonzero(x: NdArray, options: NonzeroOptions = {}): NdArray[] {
  checkOptions("nonzero", options, ["size", "fillValue"]);
  if (x.ndim === 0)
    throw new ShapeError(
      "nonzero: a 0-d array has no axes to index (numpy deprecates it); use atleast1d(x) first",
    );
  return nonzeroOf("nonzero", x, options);
}

function nonzeroOf(op: string, x: NdArray, options: NonzeroOptions): NdArray[] {
  const fill = options.fillValue ?? 0;
  if (!Number.isSafeInteger(fill))
    throw new RangeError(`${op}: fillValue must be an integer, got ${describeValue(fill)}`);
  let size = checkSize(op, options.size);
  if (size === undefined) {
    const data = concreteData(op, x);
    size = 0;
    for (let i = 0; i < x.size; i++) if (data[i] !== 0) size++;
  }
  const flat = truePositions(notEqual(reshape(x, [x.size]), 0), size, -1);
  const valid = greaterEqual(flat, 0);
  const fillArray = full([], fill, { dtype: "int32" });
  let stride = x.size;
  return x.shape.map((d) => {
    stride = d === 0 ? 0 : stride / d;
    const coordinate = stride === 0 ? flat : mod(floorDivide(flat, stride), d);
    return where(valid, coordinate, fillArray);
  });
}

/**
 * numpy argwhere: the indices (int32) of the nonzero elements of `x`, one row each, shape
 * `[count, x.ndim]`. Under jit pass `size` (and optionally `fillValue`, default 0), as in JAX.
 */
export function argwhere(x: NdArray, options: NonzeroOptions = {}): NdArray {
  checkOptions("argwhere", options, ["size", "fillValue"]);
  if (x.ndim === 0) {
    // numpy: the rows of atleast1d(x), with no columns.
    const rows = nonzeroOf("argwhere", reshape(x, [1]), options)[0]!;
    return reshape(slice(rows, [{ stop: 0 }]), [rows.size, 0]);
  }
  return stack(nonzeroOf("argwhere", x, options), { axis: 1 });
}

/** Options of `unique` (numpy's return flags and axis; JAX's `size` and `fill_value`). */
export interface UniqueOptions {
  /** Also return, for every unique value, the index of its first occurrence in the input. */
  returnIndex?: boolean;
  /** Also return, for every element (row along `axis`) of the input, the index of its value in the result. */
  returnInverse?: boolean;
  /** Also return how many times each unique value occurs. */
  returnCounts?: boolean;
  /** The axis whose slices are compared whole (numpy's axis); omitted or null flattens the array. */
  axis?: number | null;
  /** The number of values returned: the `size` smallest unique ones, padded with `fillValue`. */
  size?: number;
  /** The value written past the real count when `size` is larger (default: the smallest value, as JAX). */
  fillValue?: number;
}

/**
 * The stable lexicographic order of the rows of the 2-d `rows` (JAX's lexsort): a stable argsort by
 * each column, the last column first, so the first column decides and ties keep their input order.
 */
function lexicographicOrder(rows: NdArray): NdArray {
  const [n, m] = rows.shape as [number, number];
  let perm = arange(0, n, 1, { dtype: "int32" });
  for (let c = m - 1; c >= 0; c--) {
    const column = reshape(slice(rows, [{}, { start: c, stop: c + 1 }]), [n]);
    perm = take(perm, argsort(take(column, perm)));
  }
  return perm;
}

/**
 * numpy unique: the distinct values in ascending order, NaNs collapsed into one at the end (numpy 1.24's
 * equal_nan); with `axis`, the distinct slices along that axis in lexicographic order (numpy compares
 * them whole: a slice holding a NaN equals no other). With `returnIndex`, `returnInverse` and
 * `returnCounts`, the list `[values, index, inverse, counts]` (those asked for, in that order; int32):
 * the first occurrence of each value, the position of each input element (or slice) in the result, and
 * the number of occurrences. Under jit pass `size` (and optionally `fillValue`), as in JAX: past the real
 * count values are `fillValue` (default the smallest value), indices the smallest value's and counts 0.
 */
export function unique(
  x: NdArray,
  options?: UniqueOptions & { returnIndex?: false; returnInverse?: false; returnCounts?: false },
): NdArray;
export function unique(x: NdArray, options: UniqueOptions): NdArray[];
export function unique(x: NdArray, options: UniqueOptions = {}): NdArray | NdArray[] {
  checkOptions("unique", options, [
    "returnIndex",
    "returnInverse",
    "returnCounts",
    "axis",
    "size",
    "fillValue",
  ]);
  const given = checkSize("unique", options.size);
  if (options.fillValue !== undefined && typeof options.fillValue !== "number")
    throw new TypeError(`unique: fillValue must be a number, got ${describeValue(options.fillValue)}`);
  const flat = options.axis === undefined || options.axis === null;
  const axis = flat ? 0 : normalizeAxis("unique", options.axis!, x.ndim);
  // Rows [n, m]: the flattened elements (m = 1), or the slices along `axis`.
  const moved = flat ? reshape(x, [x.size]) : moveaxis(x, axis, 0);
  const n = moved.shape[0]!;
  const sliceShape = moved.shape.slice(1);
  const m = sliceShape.reduce((a, b) => a * b, 1);
  const rows = reshape(moved, [n, m]);
  const perm = flat ? argsort(moved) : lexicographicOrder(rows);
  const sortedRows = take(rows, perm, { axis: 0 });
  // A new value starts where a sorted row differs from the one before (flattened: NaN equal to NaN).
  const prev = slice(sortedRows, [{ stop: n - 1 }]);
  const next = slice(sortedRows, [{ start: 1 }]);
  let differs = notEqual(next, prev);
  if (flat) differs = logicalAnd(differs, logicalNot(logicalAnd(isnan(next), isnan(prev))));
  const changed = reshape(any(differs, { axis: 1 }), [Math.max(n - 1, 0)]);
  const starts = n === 0 ? changed : concatenate([full([1], true, { dtype: "bool" }), changed]);
  let size = given ?? 0;
  if (given === undefined) {
    concreteData("unique", x);
    size = Array.from(starts.toTypedArray()).reduce((a, b) => a + b, 0);
  }
  // One more start than asked for: where the last returned group ends.
  const bounds = truePositions(starts, size + 1, n);
  const startPositions = slice(bounds, [{ stop: size }]);
  const valid = less(startPositions, n);
  const first = minimum(startPositions, Math.max(n - 1, 0));
  let values: NdArray;
  if (n === 0) values = full([size, m], options.fillValue ?? 0, { dtype: x.dtype });
  else {
    const fill =
      options.fillValue === undefined
        ? slice(sortedRows, [{ stop: 1 }])
        : full([], options.fillValue, { dtype: x.dtype });
    values = where(reshape(valid, [size, 1]), take(sortedRows, first, { axis: 0 }), fill);
  }
  values = reshape(values, [size, ...sliceShape]);
  if (!flat) values = moveaxis(values, 0, axis);
  const outs = [values];
  const zeros = (k: number) => full([k], 0, { dtype: "int32" });
  if (options.returnIndex) {
    outs.push(n === 0 ? zeros(size) : where(valid, take(perm, first), take(perm, zeros(1))));
  }
  if (options.returnInverse) {
    const group = sub(cumsum(astype(starts, "int32")), 1);
    outs.push(n === 0 ? zeros(0) : take(group, argsort(perm)));
  }
  if (options.returnCounts) {
    const ends = slice(bounds, [{ start: 1 }]);
    outs.push(where(valid, sub(ends, startPositions), full([], 0, { dtype: "int32" })));
  }
  return outs.length === 1 ? values : outs;
}
