/**
 * Sorting primitives and the functions built on them. `sort` (values and the stable permutation along
 * one axis, ascending or descending), `top_k` (the k largest along the last axis) and `searchsorted`
 * are primitives with a kernel from backend/js/sort.ts; argsort, kthValue, median, quantile and
 * percentile are compositions. Gradients route through the permutation, as in JAX: the tangent of the
 * sorted values is the tangent gathered by the sort's indices (take_along_axis, whose transpose is a
 * scatter-add), so median and quantile are differentiable through the elements they select.
 *
 * The order is numpy's: NaN after every number, -0 equal to +0, ties in their original order (every
 * sort here is stable); descending reverses the order of the values but keeps ties in their original
 * order (torch's stable descending sort), so NaN comes first.
 */

import { SortScratch, searchSortedLanes, sortLanes, topKLanes } from "../backend/js/sort.js";
import type { AbstractValue, NdArray } from "../core/array.js";
import { isFloat, promoteTypes, weakScalarDType } from "../core/dtype.js";
import type { Axis } from "../core/methods-types.js";
import { checkOptions, checkOptionValue, optionKeys } from "../core/options.js";
import type { Primitive } from "../core/primitive.js";
import { fmtShape, normalizeAxes, type Shape, ShapeError, sizeOf } from "../core/shape.js";
import { add, astype, div, mul, sub, where } from "./binary.js";
import { array, full, scalar } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { alignBatched } from "./elementwise-kit.js";
import { takeAlongAxisPrim, takePrim } from "./indexing.js";
import { moveAxisTo0, moveaxis, reshape, transpose } from "./layout.js";
import { searchSortedToOnnx, sortToOnnx, topKToOnnx } from "./sort-onnx.js";
import { isnan } from "./unary.js";

export interface SortParams {
  /** The axis to sort along (non-negative). */
  axis: number;
  /** Largest first (ties still in their original order). */
  descending: boolean;
}

export interface TopKParams {
  /** How many of the largest elements to keep along the last axis. */
  k: number;
}

export interface SearchSortedParams {
  /** left: the first position where the value fits; right: the last. */
  side: "left" | "right";
}

function checkAxisParam(op: string, axis: number, shape: Shape): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new ShapeError(`${op}: axis ${axis} is out of bounds for an operand of shape ${fmtShape(shape)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// sort: [x] -> [values, indices]

export const sortPrim: Primitive<SortParams, [x: unknown], [values: unknown, indices: unknown]> =
  loweredPrimitive<SortParams, [x: unknown], [values: unknown, indices: unknown]>({
    name: "sort",
    narrowDtypes: ["uint8", "int8", "uint16", "int16", "uint32"],
    widenNarrow: { kind: "ordered", indexOutputs: [1] },
    onnx: (g, [x], { axis, descending }, [aval]) => sortToOnnx(g, x!, axis, descending, aval!),
    abstractEval([x], { axis }) {
      checkAxisParam("sort", axis, x.shape);
      return [x, { shape: x.shape, dtype: "int32" }];
    },
    lower([x], _outAvals, { axis, descending }) {
      const scratch = new SortScratch(x.shape[axis]!);
      return ([xd], [values, indices]) =>
        sortLanes(xd!, x.dtype, x.shape, axis, descending, values!, indices as Int32Array, scratch);
    },
    // A permutation chosen by the values: the tangent follows it (JAX gathers by the sort's iota operand).
    jvp([x], [t], params) {
      const [values, indices] = sortPrim.bind([x], params) as [NdArray, NdArray];
      return {
        primalsOut: [values, indices],
        tangentsOut: [takeAlongAxisPrim.bind1([t, indices], { axis: params.axis, op: "sort" })],
      };
    },
    batch: ([x], [d], p) => [sortPrim.bind([moveAxisTo0(x, d!)], { ...p, axis: p.axis + 1 }), [0, 0]],
  });

// ---------------------------------------------------------------------------------------------------
// top_k: [x] -> [values, indices] along the last axis

function topKShape(x: AbstractValue, k: number): number[] {
  const n = x.shape[x.shape.length - 1];
  if (n === undefined)
    throw new ShapeError(`top_k: expected an array of rank >= 1, got shape ${fmtShape(x.shape)}`);
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new ShapeError(
      `top_k: k = ${k} is out of range for an operand of shape ${fmtShape(x.shape)} (expected an integer 0 <= k <= ${n}, the size of the last axis)`,
    );
  }
  return [...x.shape.slice(0, -1), k];
}

export const topKPrim: Primitive<TopKParams, [x: unknown], [values: unknown, indices: unknown]> =
  loweredPrimitive<TopKParams, [x: unknown], [values: unknown, indices: unknown]>({
    name: "top_k",
    widenNarrow: { kind: "ordered", indexOutputs: [1] },
    onnx: (g, [x], { k }, [aval]) => topKToOnnx(g, x!, k, aval!),
    abstractEval([x], { k }) {
      const shape = topKShape(x, k);
      return [
        { shape, dtype: x.dtype },
        { shape, dtype: "int32" },
      ];
    },
    lower:
      ([x], _outAvals, { k }) =>
      ([xd], [values, indices]) =>
        topKLanes(xd!, x.dtype, x.shape, k, values!, indices as Int32Array),
    jvp([x], [t], params) {
      const [values, indices] = topKPrim.bind([x], params) as [NdArray, NdArray];
      return {
        primalsOut: [values, indices],
        tangentsOut: [takeAlongAxisPrim.bind1([t, indices], { axis: x.ndim - 1, op: "topK" })],
      };
    },
    batch: ([x], [d], p) => [topKPrim.bind([moveAxisTo0(x, d!)], p), [0, 0]],
  });

// ---------------------------------------------------------------------------------------------------
// searchsorted: [sorted [...L, n], values [...L, m]] -> int32 [...L, m]

function checkSearchArgs(sorted: AbstractValue, values: AbstractValue): void {
  const lead = sorted.shape.slice(0, -1);
  const ok =
    sorted.shape.length >= 1 &&
    values.shape.length === sorted.shape.length &&
    lead.every((d, i) => values.shape[i] === d) &&
    sorted.dtype === values.dtype;
  if (!ok) {
    throw new ShapeError(
      `searchsorted: sorted ${sorted.dtype}${fmtShape(sorted.shape)} and values ${values.dtype}${fmtShape(values.shape)} must share the dtype and every axis but the last`,
    );
  }
}

export const searchSortedPrim: Primitive<
  SearchSortedParams,
  [sorted: unknown, values: unknown],
  [positions: unknown]
> = loweredPrimitive<SearchSortedParams, [sorted: unknown, values: unknown], [positions: unknown]>({
  name: "searchsorted",
  widenNarrow: { kind: "ordered", indexOutputs: [0] },
  onnx: (g, [sorted, values], { side }, [aval]) => [searchSortedToOnnx(g, sorted!, values!, side, aval!)],
  abstractEval([sorted, values]) {
    checkSearchArgs(sorted, values);
    return [{ shape: values.shape, dtype: "int32" }];
  },
  lower([sorted, values], _outAvals, { side }) {
    const n = sorted.shape[sorted.shape.length - 1]!;
    const m = values.shape[values.shape.length - 1]!;
    const lanes = sizeOf(sorted.shape.slice(0, -1));
    return ([s, v], [out]) => searchSortedLanes(s!, v!, lanes, n, m, side === "right", out as Int32Array);
  },
  jvp: (args, _t, params) => ({ primalsOut: searchSortedPrim.bind(args, params), tangentsOut: [] }),
  // Both operands get the batch axis in front (an unbatched one is broadcast): one more leading axis.
  batch: (args, dims, params) => [searchSortedPrim.bind(alignBatched(args, dims), params), [0]],
});

// ---------------------------------------------------------------------------------------------------
// user-facing

/** Options of `sort` and `argsort`. */
export interface SortOptions {
  /** The axis to sort along (default -1, the last; null sorts the flattened array). */
  axis?: number | null;
  /** Largest first, ties still in their original order, NaN first (default false). */
  descending?: boolean;
}

const SORT_KEYS = optionKeys<SortOptions>({ axis: true, descending: true });

/** An axis given by the user, checked against the shape with a message that names the function. */
function userAxis(op: string, axis: number, shape: Shape): number {
  const r = shape.length;
  if (!Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new ShapeError(
      `${op}: axis ${axis} is out of bounds for an array of shape ${fmtShape(shape)} (expected an integer in [${-r}, ${r}))`,
    );
  }
  return axis < 0 ? axis + r : axis;
}

function sortBoth(op: string, x: NdArray, options: SortOptions = {}): [NdArray, NdArray] {
  checkOptions(op, options, SORT_KEYS);
  const descending = checkOptionValue(op, "descending", options.descending, [true, false]) ?? false;
  const operand = options.axis === null ? reshape(x, [x.size]) : x;
  const axis = userAxis(op, options.axis ?? -1, operand.shape);
  const [values, indices] = sortPrim.bind([operand], { axis, descending });
  return [values!, indices!];
}

/**
 * The sorted array (`np.sort`): stable, along `axis` (default -1; null flattens), NaN last and -0 equal
 * to +0 as in numpy; `descending` reverses the order but keeps ties in their original order (NaN
 * first). The gradient routes each cotangent back to the element it came from.
 */
export function sort(x: NdArray, options?: SortOptions): NdArray {
  return sortBoth("sort", x, options)[0];
}

/**
 * The int32 indices that sort `x` along `axis` (`np.argsort` with `kind="stable"`): equal elements keep
 * their order, NaN sorts last (first with `descending`, which keeps ties in order as torch's stable sort).
 */
export function argsort(x: NdArray, options?: SortOptions): NdArray {
  return sortBoth("argsort", x, options)[1];
}

/**
 * The `k` largest elements along the last axis and their int32 indices, largest first
 * (`jax.lax.top_k`, `torch.topk`); equal elements in order of index, NaN larger than every number.
 * Differentiable in the values through the selected elements.
 */
export function topK(x: NdArray, k: number): [values: NdArray, indices: NdArray] {
  if (x.ndim === 0)
    throw new ShapeError(`topK: expected an array of rank >= 1, got shape ${fmtShape(x.shape)}`);
  const n = x.shape[x.ndim - 1]!;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new ShapeError(
      `topK: k = ${k} is out of range for an array of shape ${fmtShape(x.shape)} (expected an integer 0 <= k <= ${n}, the size of the last axis)`,
    );
  }
  const [values, indices] = topKPrim.bind([x], { k });
  return [values!, indices!];
}

/** Options of `kthValue`. */
export interface KthValueOptions {
  /** The axis to select along (default -1). */
  axis?: number;
  /** Keep the axis as size 1 (default false). */
  keepdims?: boolean;
}

/**
 * The `k`-th smallest element (1-based) along `axis` and its int32 index (`torch.kthvalue`): the element
 * at position k - 1 of the stable ascending sort, so among equal elements the k-th in index order, and
 * NaN larger than every number. Differentiable in the values through the selected element.
 */
export function kthValue(
  x: NdArray,
  k: number,
  options: KthValueOptions = {},
): [values: NdArray, indices: NdArray] {
  checkOptions("kthValue", options, optionKeys<KthValueOptions>({ axis: true, keepdims: true }));
  if (x.ndim === 0)
    throw new ShapeError(`kthValue: expected an array of rank >= 1, got shape ${fmtShape(x.shape)}`);
  const axis = userAxis("kthValue", options.axis ?? -1, x.shape);
  const n = x.shape[axis]!;
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new ShapeError(
      `kthValue: k = ${k} is out of range for axis ${axis} of an array of shape ${fmtShape(x.shape)} (expected an integer 1 <= k <= ${n})`,
    );
  }
  const [values, indices] = sortPrim.bind([x], { axis, descending: false });
  const pick = (a: NdArray) => {
    const taken = takePrim.bind1([a, array([k - 1], { dtype: "int32" })], { axis, op: "kthValue" });
    return options.keepdims
      ? taken
      : reshape(
          taken,
          x.shape.filter((_, i) => i !== axis),
        );
  };
  return [pick(values!), pick(indices!)];
}

/** The interpolation methods of `quantile`, `percentile` (numpy 1.24's `method=` names). */
export type QuantileMethod =
  | "inverted_cdf"
  | "averaged_inverted_cdf"
  | "closest_observation"
  | "interpolated_inverted_cdf"
  | "hazen"
  | "weibull"
  | "linear"
  | "median_unbiased"
  | "normal_unbiased"
  | "lower"
  | "higher"
  | "midpoint"
  | "nearest";

const QUANTILE_METHODS: readonly QuantileMethod[] = [
  "inverted_cdf",
  "averaged_inverted_cdf",
  "closest_observation",
  "interpolated_inverted_cdf",
  "hazen",
  "weibull",
  "linear",
  "median_unbiased",
  "normal_unbiased",
  "lower",
  "higher",
  "midpoint",
  "nearest",
];

/** Methods that pick one element rather than interpolate between two. */
const DISCRETE_METHODS: readonly QuantileMethod[] = [
  "inverted_cdf",
  "closest_observation",
  "lower",
  "higher",
  "nearest",
];

/** Options of `median`, `quantile` and `percentile`. */
export interface QuantileOptions {
  /** The axes to reduce (default: all, of the flattened array). */
  axis?: Axis;
  /** Keep the reduced axes as size 1 (default false). */
  keepdims?: boolean;
  /** How to pick between the two nearest sorted elements (default "linear"; quantile and percentile only). */
  method?: QuantileMethod;
}

/** Where quantile q of n sorted elements lies: positions `prev`, `next` and the weight of `next`. */
interface Taps {
  prev: number;
  next: number;
  gamma: number;
}

/** numpy's round half to even (np.around). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy's _discret_interpolation_to_boundaries: floor when `atFloor`, else floor + 1, clipped at 0. */
function discrete(index: number, atFloor: (gamma: number, index: number) => boolean): number {
  const previous = Math.floor(index);
  return Math.max(0, atFloor(index - previous, index) ? previous : previous + 1);
}

/**
 * numpy 1.24's `_quantile` index arithmetic (lib/function_base.py), step for step in float64 so the
 * selected elements and weights are numpy's: discrete methods pick one element; the others interpolate
 * between floor and floor + 1 of the virtual index, clamped to the ends.
 */
function quantileTaps(n: number, q: number, method: QuantileMethod): Taps {
  const one = (i: number): Taps => ({ prev: i, next: i, gamma: 0 });
  const virtual = (alpha: number, beta: number) => n * q + (alpha + q * (1 - alpha - beta)) - 1;
  switch (method) {
    case "lower":
      return one(Math.floor((n - 1) * q));
    case "higher":
      return one(Math.ceil((n - 1) * q));
    case "nearest":
      return one(roundHalfEven((n - 1) * q));
    case "inverted_cdf":
      return one(discrete(n * q - 1, (g) => g === 0));
    case "closest_observation":
      return one(discrete(n * q - 1 - 0.5, (g, i) => g === 0 && Math.floor(i) % 2 === 0));
  }
  const index =
    method === "linear"
      ? (n - 1) * q
      : method === "midpoint"
        ? 0.5 * (Math.floor((n - 1) * q) + Math.ceil((n - 1) * q))
        : method === "averaged_inverted_cdf"
          ? n * q - 1
          : method === "interpolated_inverted_cdf"
            ? virtual(0, 1)
            : method === "hazen"
              ? virtual(0.5, 0.5)
              : method === "weibull"
                ? virtual(0, 0)
                : method === "median_unbiased"
                  ? virtual(1 / 3, 1 / 3)
                  : virtual(3 / 8, 3 / 8);
  let prev = Math.floor(index);
  let next = prev + 1;
  if (index >= n - 1) {
    prev = -1;
    next = -1;
  }
  if (index < 0) {
    prev = 0;
    next = 0;
  }
  let gamma = index - prev;
  if (method === "averaged_inverted_cdf") gamma = gamma === 0 ? 0.5 : 1;
  if (method === "midpoint") gamma = index % 1 === 0 ? 0 : 0.5;
  const wrap = (i: number) => (i < 0 ? i + n : i);
  return { prev: wrap(prev), next: wrap(next), gamma };
}

/**
 * x with the reduced axes moved last and merged into one of size N, sorted ascending along it; and the
 * shape of the result (kept axes, or size 1 in the reduced ones with keepdims). Integer and bool input
 * computes in float32 (as `mean`).
 */
function sortedOverAxes(
  op: string,
  x: NdArray,
  options: QuantileOptions,
): { sorted: NdArray; n: number; outShape: number[] } {
  const axes = normalizeAxes(op, options.axis, x.ndim);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => x.shape[i]!);
  const n = sizeOf(axes.map((a) => x.shape[a]!));
  const xf = isFloat(x.dtype) ? x : astype(x, "float32");
  const moved = reshape(transpose(xf, [...kept, ...axes]), [...keptShape, n]);
  const outShape = options.keepdims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : keptShape;
  const [sorted] = sortPrim.bind([moved], { axis: keptShape.length, descending: false });
  return { sorted: sorted!, n, outShape };
}

/** NaN where the lane had a NaN (it sorted last), as numpy's quantile and median do. */
function nanWhereLaneHasNan(result: NdArray, sorted: NdArray, n: number): NdArray {
  const last = takePrim.bind1([sorted, array([n - 1], { dtype: "int32" })], { axis: sorted.ndim - 1 });
  return where(isnan(last), Number.NaN, result);
}

/**
 * The median along `axis` (all axes by default), as `np.median`: the middle element, or the mean of the
 * two middle ones; NaN for a lane holding a NaN or for an empty lane. Integer and bool input gives
 * float32 (as `mean`). Differentiable through the selected elements.
 */
export function median(x: NdArray, options: Omit<QuantileOptions, "method"> = {}): NdArray {
  checkOptions("median", options, ["axis", "keepdims"]);
  const { sorted, n, outShape } = sortedOverAxes("median", x, options);
  if (n === 0) return full(outShape, Number.NaN, { dtype: sorted.dtype });
  const half = Math.floor(n / 2);
  const positions = n % 2 === 1 ? [half] : [half - 1, half];
  const taken = takePrim.bind1([sorted, array(positions, { dtype: "int32" })], {
    axis: sorted.ndim - 1,
    op: "median",
  });
  // numpy's mean of the middle elements: their sum (from +0, so a -0 median is +0) over their count.
  const middle =
    n % 2 === 1
      ? add(taken, 0)
      : div(
          add(
            add(
              takePrim.bind1([taken, array([0], { dtype: "int32" })], { axis: taken.ndim - 1 }),
              takePrim.bind1([taken, array([1], { dtype: "int32" })], { axis: taken.ndim - 1 }),
            ),
            0,
          ),
          2,
        );
  return reshape(nanWhereLaneHasNan(middle, sorted, n), outShape);
}

function checkQuantiles(op: string, q: number | readonly number[], scale: number): number[] {
  const list = typeof q === "number" ? [q] : [...q];
  for (const v of list) {
    if (typeof v !== "number" || !(v >= 0 && v <= scale)) {
      throw new RangeError(
        `${op}: ${scale === 1 ? "quantiles" : "percentiles"} must be numbers in [0, ${scale}], got ${JSON.stringify(typeof q === "number" ? q : [...q])}`,
      );
    }
  }
  return list;
}

function quantileOf(
  op: string,
  x: NdArray,
  qs: readonly number[],
  scalarQ: boolean,
  options: QuantileOptions,
): NdArray {
  checkOptions(op, options, optionKeys<QuantileOptions>({ axis: true, keepdims: true, method: true }));
  const method = checkOptionValue(op, "method", options.method, QUANTILE_METHODS) ?? "linear";
  const { sorted, n, outShape } = sortedOverAxes(op, x, options);
  if (n === 0) {
    throw new ShapeError(
      `${op}: cannot take a quantile over an empty axis (array of shape ${fmtShape(x.shape)}, axis ${JSON.stringify(options.axis ?? null)})`,
    );
  }
  const taps = qs.map((q) => quantileTaps(n, q, method));
  const last = sorted.ndim - 1;
  const gather = (positions: number[]) =>
    takePrim.bind1([sorted, array(positions, { dtype: "int32" })], { axis: last, op });
  const prev = gather(taps.map((t) => t.prev));
  let result: NdArray;
  if (DISCRETE_METHODS.includes(method)) {
    // numpy takes the element itself (no interpolation, so -0 stays -0).
    result = prev;
  } else {
    // numpy's _lerp: a + (b - a)·γ, or b - (b - a)·(1 - γ) where γ >= 0.5 (so γ = 1 gives b exactly).
    const next = gather(taps.map((t) => t.next));
    const dtype = sorted.dtype;
    const gamma = array(
      taps.map((t) => t.gamma),
      { dtype },
    );
    const oneMinus = array(
      taps.map((t) => 1 - t.gamma),
      { dtype },
    );
    const upper = array(
      taps.map((t) => t.gamma >= 0.5),
      { dtype: "bool" },
    );
    const diff = sub(next, prev);
    result = where(upper, sub(next, mul(diff, oneMinus)), add(prev, mul(diff, gamma)));
  }
  const checked = isFloat(x.dtype) ? nanWhereLaneHasNan(result, sorted, n) : result;
  // [..., nq] -> [nq, ...outShape], as numpy puts q's axis first.
  if (scalarQ) return reshape(checked, outShape);
  return reshape(moveaxis(checked, last, 0), [qs.length, ...outShape]);
}

/**
 * The `q`-th quantile(s) along `axis` (all axes by default), as `np.quantile` with numpy 1.24's methods
 * (`method`, default "linear"). `q` is a number in [0, 1] or a list of them (their axis comes first in
 * the result). A lane holding a NaN gives NaN; integer and bool input gives float32 (as `mean`).
 * Differentiable through the selected elements.
 */
export function quantile(x: NdArray, q: number | readonly number[], options: QuantileOptions = {}): NdArray {
  return quantileOf("quantile", x, checkQuantiles("quantile", q, 1), typeof q === "number", options);
}

/** The `p`-th percentile(s), p in [0, 100]: `quantile` at p / 100 (`np.percentile`). */
export function percentile(
  x: NdArray,
  p: number | readonly number[],
  options: QuantileOptions = {},
): NdArray {
  const qs = checkQuantiles("percentile", p, 100).map((v) => v / 100);
  return quantileOf("percentile", x, qs, typeof p === "number", options);
}

/** Options of `searchsorted`. */
export interface SearchSortedOptions {
  /** "left" (default): the first index where the value could be inserted; "right": the last. */
  side?: "left" | "right";
}

/**
 * Indices (int32, shaped like `v`) where the values `v` would be inserted into the sorted 1-D array `a`
 * to keep it sorted (`np.searchsorted`), in numpy's order (NaN after every number). Values and `a` are
 * compared in their common dtype (float64 when int32 meets float32, so the comparison is exact).
 */
export function searchsorted(a: NdArray, v: NdArray | number, options: SearchSortedOptions = {}): NdArray {
  checkOptions("searchsorted", options, optionKeys<SearchSortedOptions>({ side: true }));
  const side = checkOptionValue("searchsorted", "side", options.side, ["left", "right"] as const) ?? "left";
  if (a.ndim !== 1) {
    throw new ShapeError(`searchsorted: the sorted array must be 1-D, got shape ${fmtShape(a.shape)}`);
  }
  const values = typeof v === "number" ? scalar(v, weakScalarDType(a.dtype, v)) : v;
  let dtype = promoteTypes(a.dtype, values.dtype);
  if (dtype === "float32" && (a.dtype === "int32" || values.dtype === "int32")) dtype = "float64";
  const out = searchSortedPrim.bind1([astype(a, dtype), reshape(astype(values, dtype), [values.size])], {
    side,
  });
  return reshape(out, values.shape);
}
