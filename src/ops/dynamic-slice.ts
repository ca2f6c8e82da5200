/**
 * JAX's lax dynamic slices: a window of static size whose start may be a traced int32 scalar, so the
 * window can move with a loop index inside `scan` and `forLoop`. Two primitives, dynamic_slice and
 * dynamic_update_slice (each the other's transpose), and the lax-named functions on them.
 *
 * Start indices follow JAX (jax/_src/lax/slicing.py, allow_negative_indices=True by default): a negative
 * start counts from the end once (start + size of the axis), then XLA clamps it to [0, dim - sliceSize],
 * so the window always lies inside the operand and never raises for an out-of-range start. With
 * `allowNegativeIndices: false` a negative start is simply clamped to 0 (XLA's rule alone).
 */

import { clampedStart, dynamicSliceKernel, dynamicUpdateSliceKernel } from "../backend/js/dynamic-slice.js";
import { type AbstractValue, NdArray } from "../core/array.js";
import { isFloat, NARROW_DTYPES } from "../core/dtype.js";
import type { ArrayLike } from "../core/methods-types.js";
import { checkOptions } from "../core/options.js";
import { type BatchDim, type Primitive, UndefinedPrimal } from "../core/primitive.js";
import { fmtShape, normalizeAxis, type Shape, ShapeError, sizeOf } from "../core/shape.js";
import { add, astype, clip, greaterEqual, less, logicalAnd, subtract, where } from "./binary.js";
import { arange, asArray, scalar, zeros } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { takeAlongAxisPrim, takePrim } from "./indexing.js";
import {
  batchSize,
  broadcastInDimPrim,
  broadcastTo,
  expandDims,
  moveAxisTo0,
  moveaxis,
  reshape,
} from "./layout.js";
import { slice } from "./shape.js";
import { dynamicSliceToOnnx, dynamicUpdateSliceToOnnx } from "./shape-onnx.js";

/** Params of dynamic_update_slice (the window's shape is the update's). */
export interface DynamicUpdateSliceParams {
  /** Per axis: a negative start counts from the end once before clamping (JAX's allow_negative_indices). */
  allowNegativeIndices: readonly boolean[];
}

/** Params of dynamic_slice. */
export interface DynamicSliceParams extends DynamicUpdateSliceParams {
  /** The window's size per axis, 0 <= size <= the operand's. */
  sliceSizes: readonly number[];
}

// ---------------------------------------------------------------------------------------------------
// checks shared by the primitives and the functions (op names the one the user called)

function checkStartAvals(op: string, x: AbstractValue, starts: readonly AbstractValue[]): void {
  if (starts.length !== x.shape.length) {
    throw new ShapeError(
      `${op}: ${starts.length} start indices for an operand of shape ${fmtShape(x.shape)}, expected one per axis (${x.shape.length})`,
    );
  }
  starts.forEach((s, a) => {
    if (s.shape.length !== 0 || s.dtype !== "int32") {
      throw new ShapeError(
        `${op}: start index ${a} must be an int32 scalar, got ${s.dtype}${fmtShape(s.shape)}`,
      );
    }
  });
}

function checkAllowNegative(op: string, allow: readonly boolean[], rank: number): void {
  if (allow.length !== rank || allow.some((v) => typeof v !== "boolean")) {
    throw new ShapeError(
      `${op}: allowNegativeIndices ${JSON.stringify(allow)} must be one boolean per axis (${rank})`,
    );
  }
}

function checkSliceSizes(op: string, shape: Shape, sizes: readonly number[]): void {
  if (!Array.isArray(sizes) || sizes.length !== shape.length) {
    throw new ShapeError(
      `${op}: sliceSizes ${JSON.stringify(sizes)} must have one size per axis of the operand ${fmtShape(shape)}`,
    );
  }
  sizes.forEach((s, a) => {
    if (!Number.isInteger(s) || s < 0 || s > shape[a]!) {
      throw new ShapeError(
        `${op}: sliceSizes ${JSON.stringify(sizes)} must be integers with 0 <= size <= the operand's size on every axis; axis ${a} of ${fmtShape(shape)} has ${shape[a]}, got ${s}`,
      );
    }
  });
}

function checkUpdate(op: string, x: AbstractValue, update: AbstractValue): void {
  if (update.dtype !== x.dtype) {
    throw new TypeError(
      `${op}: update dtype ${update.dtype} differs from operand dtype ${x.dtype} (cast the update with astype)`,
    );
  }
  if (update.shape.length !== x.shape.length || update.shape.some((d, a) => d > x.shape[a]!)) {
    throw new ShapeError(
      `${op}: update of shape ${fmtShape(update.shape)} must have the operand's rank and fit inside the operand ${fmtShape(x.shape)} on every axis`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// dynamic_slice

type SliceArity = [x: unknown, ...starts: unknown[]];
type UpdateArity = [x: unknown, update: unknown, ...starts: unknown[]];

export const dynamicSlicePrim: Primitive<DynamicSliceParams, SliceArity, [out: unknown]> = loweredPrimitive<
  DynamicSliceParams,
  SliceArity,
  [out: unknown]
>({
  name: "dynamic_slice",
  narrowDtypes: NARROW_DTYPES,
  onnx: (g, [x, ...starts], p, [aval]) => [
    dynamicSliceToOnnx(g, x!, starts, p.sliceSizes, p.allowNegativeIndices, aval!),
  ],
  abstractEval([x, ...starts], { sliceSizes, allowNegativeIndices }) {
    checkStartAvals("dynamic_slice", x, starts);
    checkSliceSizes("dynamic_slice", x.shape, sliceSizes);
    checkAllowNegative("dynamic_slice", allowNegativeIndices, x.shape.length);
    return [{ shape: [...sliceSizes], dtype: x.dtype }];
  },
  lower:
    ([x], _outAvals, { sliceSizes, allowNegativeIndices }) =>
    ([xd, ...starts], [out]) =>
      dynamicSliceKernel(xd, x.shape, starts, sliceSizes, allowNegativeIndices, out),
  jvp: ([x, ...starts], [t], p) => ({
    primalsOut: [dynamicSlicePrim.bind1([x, ...starts], p)],
    tangentsOut: [dynamicSlicePrim.bind1([t, ...starts], p)],
  }),
  transpose([ct], [x, ...starts], { allowNegativeIndices }) {
    const none = starts.map(() => null);
    if (!(x instanceof UndefinedPrimal)) return [null, ...none];
    const known = knownStarts("dynamic_slice", starts);
    const into = zeros(x.aval.shape, { dtype: x.aval.dtype });
    return [dynamicUpdateSlicePrim.bind1([into, ct, ...known], { allowNegativeIndices }), ...none];
  },
  formatParams: (p) => `sliceSizes=${JSON.stringify(p.sliceSizes)}${formatAllowNegative(p)}`,
  batch([x, ...starts], [dx, ...ds], p) {
    if (ds.every((d) => d === null)) {
      const xb = moveAxisTo0(x, dx);
      return [[dynamicSlicePrim.bind1([xb, zeroIndex(), ...starts], withBatchAxis(p, xb.shape[0]!))], [0]];
    }
    return [[sliceAtBatchedStarts(x, dx, starts, ds, p)], [0]];
  },
});

// ---------------------------------------------------------------------------------------------------
// dynamic_update_slice

export const dynamicUpdateSlicePrim: Primitive<DynamicUpdateSliceParams, UpdateArity, [out: unknown]> =
  loweredPrimitive<DynamicUpdateSliceParams, UpdateArity, [out: unknown]>({
    name: "dynamic_update_slice",
    narrowDtypes: NARROW_DTYPES,
    onnx: (g, [x, update, ...starts], p, [aval, updateAval]) => [
      dynamicUpdateSliceToOnnx(g, x!, update!, starts, p.allowNegativeIndices, aval!, updateAval!),
    ],
    abstractEval([x, update, ...starts], { allowNegativeIndices }) {
      checkUpdate("dynamic_update_slice", x, update);
      checkStartAvals("dynamic_update_slice", x, starts);
      checkAllowNegative("dynamic_update_slice", allowNegativeIndices, x.shape.length);
      return [x];
    },
    lower:
      ([x, update], _outAvals, { allowNegativeIndices }) =>
      ([xd, ud, ...starts], [out]) =>
        dynamicUpdateSliceKernel(xd, x.shape, ud, update.shape, starts, allowNegativeIndices, out),
    // Linear in (operand, update) jointly.
    jvp: ([x, update, ...starts], [tx, tu], p) => ({
      primalsOut: [dynamicUpdateSlicePrim.bind1([x, update, ...starts], p)],
      tangentsOut: [dynamicUpdateSlicePrim.bind1([tx, tu, ...starts], p)],
    }),
    transpose([ct], [x, update, ...starts], p) {
      const known = knownStarts("dynamic_update_slice", starts);
      const updateAval = update.aval;
      // The operand's cotangent is ct with the window zeroed (those elements were overwritten) ...
      const ctX =
        x instanceof UndefinedPrimal
          ? dynamicUpdateSlicePrim.bind1(
              [ct, zeros(updateAval.shape, { dtype: updateAval.dtype }), ...known],
              p,
            )
          : null;
      // ... and the update's is the window of ct.
      const ctU =
        update instanceof UndefinedPrimal
          ? dynamicSlicePrim.bind1([ct, ...known], { ...p, sliceSizes: updateAval.shape })
          : null;
      return [ctX, ctU, ...starts.map(() => null)];
    },
    formatParams: (p) => formatAllowNegative(p).trim(),
    batch([x, update, ...starts], [dx, du, ...ds], p) {
      const size = batchSize([x, update, ...starts], [dx, du, ...ds]);
      const xb = batchedAt0(x, dx, size);
      const ub = batchedAt0(update, du, size);
      if (ds.every((d) => d === null)) {
        return [
          [
            dynamicUpdateSlicePrim.bind1([xb, ub, zeroIndex(), ...starts], {
              allowNegativeIndices: [false, ...p.allowNegativeIndices],
            }),
          ],
          [0],
        ];
      }
      return [[updateAtBatchedStarts(xb, ub, starts, ds, p)], [0]];
    },
  });

// ---------------------------------------------------------------------------------------------------
// helpers of the rules

function knownStarts(op: string, starts: readonly (NdArray | UndefinedPrimal)[]): NdArray[] {
  return starts.map((s) => {
    if (s instanceof UndefinedPrimal) throw new Error(`${op}: start indices cannot be a linear input`);
    return s;
  });
}

/** The IR printer's params: allowNegativeIndices only where some axis turns it off. */
function formatAllowNegative({ allowNegativeIndices }: DynamicUpdateSliceParams): string {
  const all = allowNegativeIndices.every((v) => v);
  return all ? "" : ` allowNegativeIndices=${JSON.stringify(allowNegativeIndices)}`;
}

const zeroIndex = (): NdArray => scalar(0, "int32");

/** The params with a leading batch axis taken whole (its start is 0). */
function withBatchAxis(p: DynamicSliceParams, size: number): DynamicSliceParams {
  return {
    sliceSizes: [size, ...p.sliceSizes],
    allowNegativeIndices: [false, ...p.allowNegativeIndices],
  };
}

/** `x` with its batch axis first, or broadcast along a new first axis of `size` when unbatched. */
function batchedAt0(x: NdArray, d: BatchDim, size: number): NdArray {
  return d === null ? broadcastTo(x, [size, ...x.shape]) : moveAxisTo0(x, d);
}

/**
 * Per example, the start the kernel would use (clampedStart in backend/js/dynamic-slice.ts), as int32
 * ops on a [B] vector of starts: negative ones count from the end once, then clamp to [0, dim - size].
 */
function clampedStarts(starts: NdArray, size: number, dim: number, allowNegative: boolean): NdArray {
  const s = allowNegative ? where(less(starts, 0), add(starts, dim), starts) : starts;
  return clip(s, 0, dim - size);
}

/** Start `a` as a [B] vector (broadcast when the batch shares it). */
function startVector(start: NdArray, d: BatchDim, size: number): NdArray {
  return d === null ? broadcastTo(start, [size]) : moveAxisTo0(start, d);
}

/**
 * vmap of dynamic_slice when some starts differ per example, as a gather (JAX turns it into one too):
 * the axes whose start the batch shares are sliced by the primitive itself, then each axis with per-example
 * starts is gathered at start + arange(size) (take for a shared operand, take_along_axis for a batched one).
 * An axis taken whole needs no gather: its start always clamps to 0.
 */
function sliceAtBatchedStarts(
  x: NdArray,
  dx: BatchDim,
  starts: readonly NdArray[],
  ds: readonly BatchDim[],
  p: DynamicSliceParams,
): NdArray {
  const size = batchSize([x, ...starts], [dx, ...ds]);
  const { sliceSizes, allowNegativeIndices } = p;
  let v = dx === null ? x : moveAxisTo0(x, dx);
  let batched = dx !== null;
  const shape = batched ? v.shape.slice(1) : v.shape;
  const shared = ds.map((d) => d === null);
  if (shared.some((s, a) => s && sliceSizes[a]! < shape[a]!)) {
    const sizes = shape.map((n, a) => (shared[a] ? sliceSizes[a]! : n));
    const st = starts.map((s, a) => (shared[a] ? s : zeroIndex()));
    const params = { sliceSizes: sizes, allowNegativeIndices };
    v = batched
      ? dynamicSlicePrim.bind1([v, zeroIndex(), ...st], withBatchAxis(params, size))
      : dynamicSlicePrim.bind1([v, ...st], params);
  }
  shape.forEach((n, a) => {
    const k = sliceSizes[a]!;
    if (shared[a] || k === n) return;
    const start = clampedStarts(startVector(starts[a]!, ds[a]!, size), k, n, allowNegativeIndices[a]!);
    const idx = add(expandDims(start, 1), arange(k, undefined, 1, { dtype: "int32" })); // [B, k]
    if (!batched) {
      v = moveaxis(takePrim.bind1([v, idx], { axis: a, op: "dynamic_slice" }), a, 0);
      batched = true;
    } else {
      const target = v.shape.map((m, i) => (i === a + 1 ? k : m));
      const full = broadcastInDimPrim.bind1([idx], { shape: target, broadcastDimensions: [0, a + 1] });
      v = takeAlongAxisPrim.bind1([v, full], { axis: a + 1, op: "dynamic_slice" });
    }
  });
  // Every per-example start was on an axis taken whole: the examples share one window.
  return batched ? v : broadcastTo(v, [size, ...v.shape]);
}

/**
 * vmap of dynamic_update_slice when some starts differ per example: the update is gathered into the
 * operand's shape (element j of an axis reads update element j - start, clamped), and a mask of the window
 * selects it over the operand. Both pieces are differentiable primitives, so the rule needs no transpose
 * of its own.
 */
function updateAtBatchedStarts(
  xb: NdArray,
  ub: NdArray,
  starts: readonly NdArray[],
  ds: readonly BatchDim[],
  p: DynamicUpdateSliceParams,
): NdArray {
  const size = xb.shape[0]!;
  const shape = xb.shape.slice(1);
  const us = ub.shape.slice(1);
  if (sizeOf(us) === 0) return xb;
  let placed = ub;
  let mask: NdArray | null = null;
  shape.forEach((n, a) => {
    const k = us[a]!;
    if (k === n) return; // the window covers the axis: its start clamps to 0
    const start = clampedStarts(startVector(starts[a]!, ds[a]!, size), k, n, p.allowNegativeIndices[a]!);
    const offset = subtract(expandDims(arange(n, undefined, 1, { dtype: "int32" }), 0), expandDims(start, 1)); // [B, n]
    const target = placed.shape.map((m, i) => (i === a + 1 ? n : m));
    const source = broadcastInDimPrim.bind1([clip(offset, 0, k - 1)], {
      shape: target,
      broadcastDimensions: [0, a + 1],
    });
    placed = takeAlongAxisPrim.bind1([placed, source], { axis: a + 1, op: "dynamic_update_slice" });
    const inside = broadcastInDimPrim.bind1([logicalAnd(greaterEqual(offset, 0), less(offset, k))], {
      shape: xb.shape,
      broadcastDimensions: [0, a + 1],
    });
    mask = mask === null ? inside : logicalAnd(mask, inside);
  });
  return mask === null ? placed : where(mask, placed, xb);
}

// ---------------------------------------------------------------------------------------------------
// user-facing

/** One start index: a JS integer, or an integer scalar array (traced under jit, vmap, scan, forLoop). */
export type StartIndex = NdArray | number;

/** Start indices, one per axis: a list, or a 1-D integer array. */
export type StartIndices = readonly StartIndex[] | NdArray;

/** Options of the dynamic slices. */
export interface DynamicSliceOptions {
  /**
   * Whether a negative start counts from the end (start + size of the axis) before clamping; one boolean
   * for every axis or one per axis. Default true, as JAX's `allow_negative_indices`; false clamps it to 0.
   */
  allowNegativeIndices?: boolean | readonly boolean[];
}

function allowNegativePerAxis(
  op: string,
  allow: boolean | readonly boolean[] | undefined,
  rank: number,
): boolean[] {
  if (allow === undefined) return new Array<boolean>(rank).fill(true);
  if (typeof allow === "boolean") return new Array<boolean>(rank).fill(allow);
  if (!Array.isArray(allow))
    throw new TypeError(
      `${op}: allowNegativeIndices must be a boolean or a list of booleans, got ${String(allow)}`,
    );
  checkAllowNegative(op, allow, rank);
  return [...allow];
}

/**
 * The start operands: JS numbers are resolved now (wrapped and clamped as the kernel would, so no value
 * can overflow int32) and become int32 constants; arrays must be integer scalars.
 */
function startOperands(
  op: string,
  shape: Shape,
  startIndices: StartIndices,
  sizes: readonly number[],
  allow: readonly boolean[],
): NdArray[] {
  let list: StartIndex[];
  if (startIndices instanceof NdArray) {
    if (startIndices.ndim !== 1)
      throw new ShapeError(
        `${op}: start indices given as an array must be 1-D, got shape ${fmtShape(startIndices.shape)}`,
      );
    list = Array.from({ length: startIndices.shape[0]! }, (_, i) =>
      reshape(slice(startIndices, [{ start: i, stop: i + 1 }]), []),
    );
  } else if (Array.isArray(startIndices)) list = [...startIndices];
  else
    throw new TypeError(
      `${op}: start indices must be a list or a 1-D integer array, got ${String(startIndices)}`,
    );
  if (list.length !== shape.length) {
    throw new ShapeError(
      `${op}: ${list.length} start indices for an operand of shape ${fmtShape(shape)}, expected one per axis (${shape.length})`,
    );
  }
  return list.map((s, a) => {
    if (typeof s === "number") {
      if (!Number.isInteger(s)) throw new TypeError(`${op}: start index ${a} must be an integer, got ${s}`);
      return scalar(clampedStart(s, sizes[a]!, shape[a]!, allow[a]!), "int32");
    }
    if (!(s instanceof NdArray))
      throw new TypeError(
        `${op}: start index ${a} must be a JS integer or an integer scalar array, got ${String(s)}`,
      );
    if (s.ndim !== 0)
      throw new ShapeError(`${op}: start index ${a} must be a scalar, got shape ${fmtShape(s.shape)}`);
    if (s.dtype === "bool" || isFloat(s.dtype))
      throw new TypeError(`${op}: start index ${a} must be an integer array, got ${s.dtype}`);
    return s.dtype === "int32" ? s : astype(s, "int32");
  });
}

/**
 * JAX's `lax.dynamic_slice`: the window of `x` of shape `sliceSizes` starting at `startIndices`, which may
 * be traced (e.g. a `forLoop` index); the sizes are static. Each start is clamped as JAX does: a negative
 * start counts from the end once (unless `allowNegativeIndices: false`), then it is clamped to
 * [0, x.shape[d] - sliceSizes[d]], so the window always lies inside `x` (an out-of-range start moves the
 * window to the edge rather than failing).
 *
 * ```ts
 * dynamicSlice(np.arange(10), [i], [3]) // x[i:i+3] for 0 <= i <= 7; x[7:10] for any larger i
 * ```
 * @throws ShapeError when the number of starts or sizes differs from x's rank, or a size exceeds x's.
 * @throws TypeError for a non-integer start.
 */
export function dynamicSlice(
  x: NdArray,
  startIndices: StartIndices,
  sliceSizes: readonly number[],
  options: DynamicSliceOptions = {},
): NdArray {
  checkOptions("dynamicSlice", options, ["allowNegativeIndices"]);
  checkSliceSizes("dynamicSlice", x.shape, sliceSizes);
  const allow = allowNegativePerAxis("dynamicSlice", options.allowNegativeIndices, x.ndim);
  const starts = startOperands("dynamicSlice", x.shape, startIndices, sliceSizes, allow);
  return dynamicSlicePrim.bind1([x, ...starts], { sliceSizes: [...sliceSizes], allowNegativeIndices: allow });
}

/**
 * JAX's `lax.dynamic_update_slice`: `x` with the window at `startIndices` (possibly traced) overwritten by
 * `update`, whose shape is the window's. Starts are clamped as in `dynamicSlice`, so the whole update is
 * always written (an out-of-range start moves it to the edge). The update must have x's dtype and rank.
 * Differentiable in both `x` and `update`.
 * @throws ShapeError when the update does not fit inside x or the number of starts differs from x's rank.
 * @throws TypeError when the update's dtype differs from x's.
 */
export function dynamicUpdateSlice(
  x: NdArray,
  update: ArrayLike,
  startIndices: StartIndices,
  options: DynamicSliceOptions = {},
): NdArray {
  checkOptions("dynamicUpdateSlice", options, ["allowNegativeIndices"]);
  const u = asArray(update, x.dtype);
  checkUpdate("dynamicUpdateSlice", x.aval, u.aval);
  const allow = allowNegativePerAxis("dynamicUpdateSlice", options.allowNegativeIndices, x.ndim);
  const starts = startOperands("dynamicUpdateSlice", x.shape, startIndices, u.shape, allow);
  return dynamicUpdateSlicePrim.bind1([x, u, ...starts], { allowNegativeIndices: allow });
}

/** Starts of 0 on every axis but `axis`, which gets `start`; sizes whole but `axis`'s. */
function inDim(x: NdArray, axis: number, start: StartIndex): StartIndex[] {
  return x.shape.map((_, a) => (a === axis ? start : 0));
}

/**
 * JAX's `lax.dynamic_slice_in_dim`: `sliceSize` elements of `x` along `axis` (default 0) from `startIndex`
 * (possibly traced), every other axis whole; clamped as `dynamicSlice`.
 */
export function dynamicSliceInDim(
  x: NdArray,
  startIndex: StartIndex,
  sliceSize: number,
  axis = 0,
  options: DynamicSliceOptions = {},
): NdArray {
  const ax = normalizeAxis("dynamicSliceInDim", axis, x.ndim);
  checkOptions("dynamicSliceInDim", options, ["allowNegativeIndices"]);
  const sizes = x.shape.map((d, a) => (a === ax ? sliceSize : d));
  checkSliceSizes("dynamicSliceInDim", x.shape, sizes);
  return dynamicSlice(x, inDim(x, ax, startIndex), sizes, options);
}

/** Options of `dynamicIndexInDim`. */
export interface DynamicIndexOptions extends DynamicSliceOptions {
  /** Keep the indexed axis with size 1 (default true, as JAX's `dynamic_index_in_dim`). */
  keepdims?: boolean;
}

/**
 * JAX's `lax.dynamic_index_in_dim`: element `index` (possibly traced) of `x` along `axis` (default 0),
 * keeping that axis with size 1 unless `keepdims: false`. An out-of-range index is clamped to the nearest
 * end (negative indices count from the end first).
 */
export function dynamicIndexInDim(
  x: NdArray,
  index: StartIndex,
  axis = 0,
  options: DynamicIndexOptions = {},
): NdArray {
  checkOptions("dynamicIndexInDim", options, ["keepdims", "allowNegativeIndices"]);
  const ax = normalizeAxis("dynamicIndexInDim", axis, x.ndim);
  if (x.shape[ax] === 0)
    throw new ShapeError(
      `dynamicIndexInDim: axis ${ax} of ${fmtShape(x.shape)} is empty, there is no element to index`,
    );
  const { keepdims = true, ...rest } = options;
  const out = dynamicSliceInDim(x, index, 1, ax, rest);
  return keepdims
    ? out
    : reshape(
        out,
        x.shape.filter((_, a) => a !== ax),
      );
}

/**
 * JAX's `lax.dynamic_update_slice_in_dim`: `x` with `update` written along `axis` from `startIndex`
 * (possibly traced); the update spans every other axis of x whole. Clamped as `dynamicUpdateSlice`.
 */
export function dynamicUpdateSliceInDim(
  x: NdArray,
  update: ArrayLike,
  startIndex: StartIndex,
  axis: number,
  options: DynamicSliceOptions = {},
): NdArray {
  const ax = normalizeAxis("dynamicUpdateSliceInDim", axis, x.ndim);
  return dynamicUpdateSlice(x, update, inDim(x, ax, startIndex), options);
}

/**
 * JAX's `lax.dynamic_update_index_in_dim`: `x` with position `index` (possibly traced) along `axis`
 * replaced by `update`, given either without that axis (rank one less than x) or with it of size 1.
 * E.g. writing row i of a buffer inside `forLoop`.
 */
export function dynamicUpdateIndexInDim(
  x: NdArray,
  update: ArrayLike,
  index: StartIndex,
  axis: number,
  options: DynamicSliceOptions = {},
): NdArray {
  const ax = normalizeAxis("dynamicUpdateIndexInDim", axis, x.ndim);
  const u = asArray(update, x.dtype);
  if (u.ndim !== x.ndim && u.ndim !== x.ndim - 1) {
    throw new ShapeError(
      `dynamicUpdateIndexInDim: update of shape ${fmtShape(u.shape)} must have the rank of x ${fmtShape(x.shape)} or one less`,
    );
  }
  return dynamicUpdateSliceInDim(x, u.ndim === x.ndim ? u : expandDims(u, ax), index, ax, options);
}
