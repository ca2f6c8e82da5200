/** The methods every array offers (x.add(y).sum()); installed by ops/methods.ts. */
import type { NdArray } from "./array.js";
import type { DType } from "./dtype.js";

/** An operand of the elementwise functions: an array, or a JS number or boolean (weakly typed, as in JAX). */
export type ArrayLike = NdArray | number | boolean;
/** Axes to reduce over: one (negative counts from the end), several, or `null` for all of them. */
export type Axis = number | readonly number[] | null;
/** Options of the reductions (`np.sum(x, { axis, keepdims })`), as numpy's. */
export interface ReduceOptions {
  /** The axes to reduce (default: all). */
  axis?: Axis;
  /** Keep the reduced axes as size 1, so the result broadcasts against the input (default false). */
  keepdims?: boolean;
}

/** One axis of a Python slice `start:stop:step`; omitted fields take Python's defaults. */
export interface SliceSpec {
  start?: number;
  stop?: number;
  step?: number;
}

/** Nested JS lists of integers (an integer index array) or of booleans (a mask). */
export type NestedIndexList = readonly (number | boolean | NestedIndexList)[];

/**
 * One item of a numpy index (`x[i, 1:, ::-1, None, ..., idx, mask]`), as `np.index` takes it:
 *
 * - an integer: one element along the axis (negative counts from the end); the axis is dropped;
 * - a slice, either an object `{ start?, stop?, step? }` or a string in Python's syntax, `":"`,
 *   `"1:"`, `":-1"`, `"::2"`, `"::-1"`, `"1:7:3"`; negative bounds count from the end and out-of-range
 *   bounds are clamped exactly as Python's `slice.indices`; a negative step reads backwards;
 * - `null`: a new axis of size 1 (numpy's `None`/`np.newaxis`);
 * - `"..."`: as many full slices as the array has axes left over (at most one ellipsis);
 * - an integer array (an integer `NdArray`, or nested JS lists of integers): advanced indexing;
 *   all index arrays (and integers next to them) broadcast together;
 * - a boolean mask (a bool `NdArray` or nested lists of booleans), standing for the integer arrays
 *   `nonzero(mask)` over as many axes as the mask has; a bool scalar (`true`/`false`) adds an axis of
 *   size 1 or 0, as in numpy.
 */
export type IndexItem = number | boolean | null | string | SliceSpec | NdArray | NestedIndexList;

/**
 * The options of a boolean-mask index under `jit` or `vmap`, given as the last argument of
 * `np.index(x, mask, { size, fillValue })`. While tracing, the number of true elements of a mask is
 * not known, so (as JAX's `size` argument of `nonzero`) the caller fixes it: the result holds the
 * first `size` selected elements, and `fillValue` past the real count.
 */
export interface IndexOptions {
  /** How many elements each mask selects: the first `size` true ones, padded past the real count. */
  size: number;
  /** The value of the result past the real count (default 0; cast to the array's dtype). */
  fillValue?: number;
}

/** The arguments of `np.index(x, ...)` after the array: index items, then optionally the mask options. */
export type IndexArgs = readonly IndexItem[] | readonly [...IndexItem[], IndexOptions];

/**
 * Out-of-bounds indices in `x.at(...)` (JAX's `mode`): "drop" skips an update (and reads the fill value
 * in `get`), "fill" is the same, "clip" moves the index to the nearest end of its axis.
 */
export type AtMode = "drop" | "clip" | "fill";

/** Options of `x.at(...).set/add/mul/min/max`. */
export interface AtUpdateOptions {
  /** Out-of-bounds indices: "drop" (default, as JAX) skips those updates, "clip" clamps them into range. */
  mode?: AtMode;
}

/** Options of `x.at(...).get()`. */
export interface AtGetOptions {
  /** Out-of-bounds indices: "clip" (default, as JAX) reads the nearest element; "fill" reads `fillValue`. */
  mode?: AtMode;
  /** Read out of bounds with mode "fill" (default, as JAX: NaN for floats, the smallest int32, true for bool). */
  fillValue?: number | boolean;
}

/**
 * JAX's functional updates `x.at[index]`: each method returns a new array, x is unchanged. Values
 * broadcast to the shape `get()` returns and are cast to x's dtype (float to int truncates).
 */
export interface IndexUpdateRef {
  /** x with the selected elements replaced by `values`; with repeated indices the last update wins. */
  set(values: ArrayLike, options?: AtUpdateOptions): NdArray;
  /** x with `values` added at the selected elements; repeated indices accumulate (numpy's add.at; bool adds as OR). */
  add(values: ArrayLike, options?: AtUpdateOptions): NdArray;
  /** x with the selected elements multiplied by `values`; repeated indices accumulate (numpy's multiply.at). */
  mul(values: ArrayLike, options?: AtUpdateOptions): NdArray;
  /** x with each selected element the minimum of itself and its values; NaN propagates (numpy's minimum.at). */
  min(values: ArrayLike, options?: AtUpdateOptions): NdArray;
  /** x with each selected element the maximum of itself and its values; NaN propagates (numpy's maximum.at). */
  max(values: ArrayLike, options?: AtUpdateOptions): NdArray;
  /** The selected elements, `x[index]`; out-of-bounds indices clamp unless mode is "fill". */
  get(options?: AtGetOptions): NdArray;
}

/**
 * The methods every array offers, the same functions as `np`'s (`x.add(y)` is `np.add(x, y)`), with
 * numpy broadcasting and dtype promotion.
 */
export interface ArrayMethods {
  /** x + y, elementwise with broadcasting (`np.add`). */
  add(y: ArrayLike): NdArray;
  /** x - y, elementwise with broadcasting (`np.subtract`). */
  sub(y: ArrayLike): NdArray;
  /** x * y, elementwise with broadcasting (`np.multiply`). */
  mul(y: ArrayLike): NdArray;
  /** x / y, true division (integer operands give float32; `np.divide`). */
  div(y: ArrayLike): NdArray;
  /** x ** y (`np.power`); a JS number exponent is a constant, so the gradient has no log(x) term. */
  pow(y: ArrayLike): NdArray;
  /** The elementwise maximum, propagating NaN (`np.maximum`). */
  maximum(y: ArrayLike): NdArray;
  /** The elementwise minimum, propagating NaN (`np.minimum`). */
  minimum(y: ArrayLike): NdArray;
  /** x == y, elementwise, as a bool array (`np.equal`). */
  equal(y: ArrayLike): NdArray;
  /** x != y, elementwise, as a bool array (`np.notEqual`). */
  notEqual(y: ArrayLike): NdArray;
  /** x < y, elementwise, as a bool array (`np.less`). */
  less(y: ArrayLike): NdArray;
  /** x <= y, elementwise, as a bool array (`np.lessEqual`). */
  lessEqual(y: ArrayLike): NdArray;
  /** x > y, elementwise, as a bool array (`np.greater`). */
  greater(y: ArrayLike): NdArray;
  /** x >= y, elementwise, as a bool array (`np.greaterEqual`). */
  greaterEqual(y: ArrayLike): NdArray;
  /** -x (`np.negative`). */
  neg(): NdArray;
  /** |x| (`np.abs`). */
  abs(): NdArray;
  /** e ** x (`np.exp`). */
  exp(): NdArray;
  /** The natural logarithm (`np.log`). */
  log(): NdArray;
  /** The square root (`np.sqrt`). */
  sqrt(): NdArray;
  /** x * x (`np.square`). */
  square(): NdArray;
  /** The hyperbolic tangent (`np.tanh`). */
  tanh(): NdArray;
  /** Sum over `axis` (all axes by default; `np.sum`). */
  sum(options?: ReduceOptions): NdArray;
  /** Mean over `axis` (all axes by default; `np.mean`). */
  mean(options?: ReduceOptions): NdArray;
  /** Maximum over `axis` (all axes by default; `np.max`). */
  max(options?: ReduceOptions): NdArray;
  /** Minimum over `axis` (all axes by default; `np.min`). */
  min(options?: ReduceOptions): NdArray;
  /** Product over `axis` (all axes by default; `np.prod`). */
  prod(options?: ReduceOptions): NdArray;
  /** Index of the first maximum along `axis`, int32 (of the flattened array by default; `np.argmax`). */
  argmax(options?: { axis?: number | null; keepdims?: boolean }): NdArray;
  /** Index of the first minimum along `axis`, int32 (of the flattened array by default; `np.argmin`). */
  argmin(options?: { axis?: number | null; keepdims?: boolean }): NdArray;
  /** Sorted along `axis` (default -1; null flattens), stable, NaN last (`np.sort`). */
  sort(options?: { axis?: number | null; descending?: boolean }): NdArray;
  /** The int32 indices that sort along `axis` (default -1; null flattens), stable (`np.argsort`). */
  argsort(options?: { axis?: number | null; descending?: boolean }): NdArray;
  /** The same values in a new shape; one dimension may be -1 (`np.reshape`). */
  reshape(shape: readonly number[]): NdArray;
  /** Permutes the axes; without `axes`, reverses them (`np.transpose`). */
  transpose(axes?: readonly number[]): NdArray;
  /** Flattens the axes from `startAxis` (default 0) on into one, like `torch.flatten`. */
  flatten(startAxis?: number): NdArray;
  /** Removes size-1 axes: those in `axis`, or all of them (`np.squeeze`). */
  squeeze(axis?: Axis): NdArray;
  /** Inserts a size-1 axis at `axis` (`np.expandDims`). */
  expandDims(axis: number): NdArray;
  /** Broadcasts to `shape` by numpy's rules (`np.broadcastTo`). */
  broadcastTo(shape: readonly number[]): NdArray;
  /** Converts to `dtype` (float to int truncates toward zero; `np.astype`). */
  astype(dtype: DType): NdArray;
  /** Matrix product with numpy's matmul rules (`np.matmul`). */
  matmul(y: NdArray): NdArray;
  /**
   * numpy indexing, `x[i, 1:, ::-1, None, ..., idx, mask]` as `x.index(i, "1:", "::-1", null, "...",
   * idx, mask)` (`np.index`; the item forms are `IndexItem`'s, the mask options `{ size, fillValue }` last).
   */
  index(...items: IndexArgs): NdArray;
  /**
   * JAX's functional updates `x.at[index]`: `x.at(0, [1, 1]).add(v)` is x with v added at [0, 1] twice
   * (`np.at`). The index takes `x.index`'s forms; out-of-bounds updates are dropped (JAX's default).
   */
  at(...index: IndexArgs): IndexUpdateRef;
  /** Iterates over the first axis, like numpy (`const [k1, k2] = random.split(key)`). */
  [Symbol.iterator](): Iterator<NdArray>;
  /** Transposed: the last two axes swapped (all axes reversed for rank < 2 is a no-op). */
  readonly T: NdArray;
}
