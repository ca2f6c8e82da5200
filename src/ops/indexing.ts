/**
 * Indexing primitives: take (gather along one axis), scatter_add (its transpose), take_along_axis and
 * scatter_add_along_axis (per-position indices, numpy take_along_axis); and the numpy-style take,
 * takeAlongAxis, scatterAdd and oneHot. Indices are int32 and wrap when negative, as in numpy; an index
 * out of range is a RangeError when the kernel runs (it cannot be known while tracing).
 */

import {
  scatterAddAlongAxisKernel,
  scatterAddKernel,
  takeAlongAxisKernel,
  takeKernel,
} from "../backend/js/indexing.js";
import type { AbstractValue, NdArray } from "../core/array.js";
import { type DType, NARROW_DTYPES } from "../core/dtype.js";
import type { ArrayLike } from "../core/methods-types.js";
import { checkOptions } from "../core/options.js";
import { type Primitive, UndefinedPrimal } from "../core/primitive.js";
import {
  broadcastShapes,
  fmtShape,
  normalizeAxis,
  type Shape,
  ShapeError,
  shapeEquals,
  sizeOf,
} from "../core/shape.js";
import { astype, equal } from "./binary.js";
import { arange, array, asArray, scalar, zeros } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { alignBatched } from "./elementwise-kit.js";
import {
  scatterAddAlongAxisToOnnx,
  scatterAddToOnnx,
  takeAlongAxisToOnnx,
  takeToOnnx,
} from "./indexing-onnx.js";
import { broadcastInDimPrim, broadcastTo, expandDims, moveAxisTo0, reshape } from "./layout.js";

export interface AxisParams {
  axis: number;
  /**
   * The function the user called (take, takeAlongAxis, scatterAdd), named in an index error: the
   * transposes and batching rules pass it on, so a gradient or a jitted plan reports what eager does.
   * Default: the primitive's name.
   */
  op?: string;
}

function checkAxisParam(op: string, axis: number, shape: Shape): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new ShapeError(`${op}: axis ${axis} is out of bounds for operand of shape ${fmtShape(shape)}`);
  }
}

function checkIndexDtype(op: string, indices: AbstractValue): void {
  if (indices.dtype !== "int32") {
    throw new ShapeError(`${op}: indices must be int32, got ${indices.dtype}${fmtShape(indices.shape)}`);
  }
}

function checkScatterDtypes(op: string, x: AbstractValue, updates: AbstractValue): void {
  if (x.dtype === "bool")
    throw new ShapeError(`${op}: cannot add into a bool array (operand ${fmtShape(x.shape)})`);
  if (updates.dtype !== x.dtype) {
    throw new ShapeError(`${op}: updates dtype ${updates.dtype} differs from operand dtype ${x.dtype}`);
  }
}

/** x.shape[:axis] + indices.shape + x.shape[axis+1:]. */
function takenShape(x: Shape, indices: Shape, axis: number): number[] {
  return [...x.slice(0, axis), ...indices, ...x.slice(axis + 1)];
}

/** Along-axis operands: same rank as x, equal sizes except along `axis`. */
function checkAlongAxis(op: string, x: Shape, indices: Shape, axis: number): void {
  checkAxisParam(op, axis, x);
  if (indices.length !== x.length || indices.some((d, i) => i !== axis && d !== x[i])) {
    throw new ShapeError(
      `${op}: indices of shape ${fmtShape(indices)} must match operand ${fmtShape(x)} in every axis but ${axis}`,
    );
  }
}

/**
 * Per-example indices for an operand with its batch axis at 0 and gather axis at `axis`: indices
 * [B, ...I] become [B, ...x.shape[1:axis], K, ...x.shape[axis+1:]] (K = size of I), the layout
 * take_along_axis reads, so each example gathers from its own slice of x.
 */
function alongAxisIndices(x: NdArray, indices: NdArray, axis: number): NdArray {
  const b = indices.shape[0]!;
  const k = sizeOf(indices.shape.slice(1));
  const shape = x.shape.map((d, i) => (i === 0 ? b : i === axis ? k : d));
  return broadcastInDimPrim.bind1([reshape(indices, [b, k])], { shape, broadcastDimensions: [0, axis] });
}

// ---------------------------------------------------------------------------------------------------
// take

export const takePrim: Primitive<AxisParams, [x: unknown, indices: unknown], [out: unknown]> =
  loweredPrimitive<AxisParams, [x: unknown, indices: unknown], [out: unknown]>({
    name: "take",
    narrowDtypes: NARROW_DTYPES,
    onnx: (g, [x, indices], { axis }) => [takeToOnnx(g, x!, indices!, axis)],
    abstractEval([x, indices], { axis }) {
      checkAxisParam("take", axis, x.shape);
      checkIndexDtype("take", indices);
      return [{ shape: takenShape(x.shape, indices.shape, axis), dtype: x.dtype }];
    },
    lower:
      ([x], _outAvals, { axis, op = "take" }) =>
      ([xd, idx], [out]) =>
        takeKernel(op, xd, x.shape, axis, idx as Int32Array, out),
    jvp: ([x, indices], [t], p) => ({
      primalsOut: [takePrim.bind1([x, indices], p)],
      tangentsOut: [takePrim.bind1([t, indices], p)],
    }),
    transpose([ct], [x, indices], p) {
      if (!(x instanceof UndefinedPrimal)) return [null, null];
      if (indices instanceof UndefinedPrimal) throw new Error("take: indices cannot be a linear input");
      return [scatterAddPrim.bind1([zeros(x.aval.shape, { dtype: x.aval.dtype }), indices, ct], p), null];
    },
    batch([x, indices], [dx, di], p) {
      const { axis } = p;
      if (di === null)
        return [[takePrim.bind1([moveAxisTo0(x, dx), indices], { ...p, axis: axis + 1 })], [0]];
      const idx = moveAxisTo0(indices, di);
      // Shared operand: the batch of index arrays lands where the gathered axis was.
      if (dx === null) return [[takePrim.bind1([x, idx], p)], [axis]];
      const xb = moveAxisTo0(x, dx);
      const gathered = takeAlongAxisPrim.bind1([xb, alongAxisIndices(xb, idx, axis + 1)], {
        op: "take",
        ...p,
        axis: axis + 1,
      });
      return [[reshape(gathered, takenShape(xb.shape, idx.shape.slice(1), axis + 1))], [0]];
    },
  });

// ---------------------------------------------------------------------------------------------------
// scatter_add

export const scatterAddPrim: Primitive<
  AxisParams,
  [x: unknown, indices: unknown, updates: unknown],
  [out: unknown]
> = loweredPrimitive<AxisParams, [x: unknown, indices: unknown, updates: unknown], [out: unknown]>({
  name: "scatter_add",
  widenNarrow: { kind: "modular" },
  onnx: (g, [x, indices, updates], { axis }, [xAval, indicesAval]) => [
    scatterAddToOnnx(g, x!, indices!, updates!, axis, xAval!, indicesAval!),
  ],
  abstractEval([x, indices, updates], { axis }) {
    checkAxisParam("scatter_add", axis, x.shape);
    checkIndexDtype("scatter_add", indices);
    checkScatterDtypes("scatter_add", x, updates);
    const expected = takenShape(x.shape, indices.shape, axis);
    if (!shapeEquals(updates.shape, expected)) {
      throw new ShapeError(
        `scatter_add: updates of shape ${fmtShape(updates.shape)} do not match ${fmtShape(expected)}, the shape of take(operand ${fmtShape(x.shape)}, indices ${fmtShape(indices.shape)}, axis ${axis})`,
      );
    }
    return [x];
  },
  lower:
    ([x], _outAvals, { axis, op = "scatter_add" }) =>
    ([xd, idx, upd], [out]) =>
      scatterAddKernel(op, xd, x.shape, axis, idx as Int32Array, upd, out),
  // Linear in (x, updates) jointly.
  jvp: ([x, indices, updates], [tx, , tu], p) => ({
    primalsOut: [scatterAddPrim.bind1([x, indices, updates], p)],
    tangentsOut: [scatterAddPrim.bind1([tx, indices, tu], p)],
  }),
  transpose([ct], [x, indices, updates], p) {
    if (indices instanceof UndefinedPrimal) throw new Error("scatter_add: indices cannot be a linear input");
    return [
      x instanceof UndefinedPrimal ? ct : null,
      null,
      updates instanceof UndefinedPrimal ? takePrim.bind1([ct, indices], p) : null,
    ];
  },
  batch(args, dims, p) {
    const [dx, di, du] = dims;
    const axis = p.axis + 1;
    if (di === null) {
      const [x, updates] = alignBatched([args[0], args[2]], [dx!, du!]);
      return [[scatterAddPrim.bind1([x!, args[1], updates!], { ...p, axis })], [0]];
    }
    const [x, indices, updates] = alignBatched(args, dims) as [NdArray, NdArray, NdArray];
    const idx = alongAxisIndices(x, indices, axis);
    const upd = reshape(updates, idx.shape);
    return [[scatterAddAlongAxisPrim.bind1([x, idx, upd], { op: "scatter_add", ...p, axis })], [0]];
  },
});

// ---------------------------------------------------------------------------------------------------
// take_along_axis

export const takeAlongAxisPrim: Primitive<AxisParams, [x: unknown, indices: unknown], [out: unknown]> =
  loweredPrimitive<AxisParams, [x: unknown, indices: unknown], [out: unknown]>({
    name: "take_along_axis",
    narrowDtypes: NARROW_DTYPES,
    onnx: (g, [x, indices], { axis }) => [takeAlongAxisToOnnx(g, x!, indices!, axis)],
    abstractEval([x, indices], { axis }) {
      checkAlongAxis("take_along_axis", x.shape, indices.shape, axis);
      checkIndexDtype("take_along_axis", indices);
      return [{ shape: indices.shape, dtype: x.dtype }];
    },
    lower:
      ([x, indices], _outAvals, { axis, op = "take_along_axis" }) =>
      ([xd, idx], [out]) =>
        takeAlongAxisKernel(op, xd, x.shape, axis, idx as Int32Array, indices.shape, out),
    jvp: ([x, indices], [t], p) => ({
      primalsOut: [takeAlongAxisPrim.bind1([x, indices], p)],
      tangentsOut: [takeAlongAxisPrim.bind1([t, indices], p)],
    }),
    transpose([ct], [x, indices], p) {
      if (!(x instanceof UndefinedPrimal)) return [null, null];
      if (indices instanceof UndefinedPrimal)
        throw new Error("take_along_axis: indices cannot be a linear input");
      return [
        scatterAddAlongAxisPrim.bind1([zeros(x.aval.shape, { dtype: x.aval.dtype }), indices, ct], p),
        null,
      ];
    },
    batch: (args, dims, p) => [
      [takeAlongAxisPrim.bind1(alignBatched(args, dims), { ...p, axis: p.axis + 1 })],
      [0],
    ],
  });

// ---------------------------------------------------------------------------------------------------
// scatter_add_along_axis

export const scatterAddAlongAxisPrim: Primitive<
  AxisParams,
  [x: unknown, indices: unknown, updates: unknown],
  [out: unknown]
> = loweredPrimitive<AxisParams, [x: unknown, indices: unknown, updates: unknown], [out: unknown]>({
  name: "scatter_add_along_axis",
  widenNarrow: { kind: "modular" },
  onnx: (g, [x, indices, updates], { axis }, [xAval]) => [
    scatterAddAlongAxisToOnnx(g, x!, indices!, updates!, axis, xAval!),
  ],
  abstractEval([x, indices, updates], { axis }) {
    checkAlongAxis("scatter_add_along_axis", x.shape, indices.shape, axis);
    checkIndexDtype("scatter_add_along_axis", indices);
    checkScatterDtypes("scatter_add_along_axis", x, updates);
    if (!shapeEquals(updates.shape, indices.shape)) {
      throw new ShapeError(
        `scatter_add_along_axis: updates of shape ${fmtShape(updates.shape)} must have the shape of the indices ${fmtShape(indices.shape)}`,
      );
    }
    return [x];
  },
  lower:
    ([x, indices], _outAvals, { axis, op = "scatter_add_along_axis" }) =>
    ([xd, idx, upd], [out]) =>
      scatterAddAlongAxisKernel(op, xd, x.shape, axis, idx as Int32Array, indices.shape, upd, out),
  jvp: ([x, indices, updates], [tx, , tu], p) => ({
    primalsOut: [scatterAddAlongAxisPrim.bind1([x, indices, updates], p)],
    tangentsOut: [scatterAddAlongAxisPrim.bind1([tx, indices, tu], p)],
  }),
  transpose([ct], [x, indices, updates], p) {
    if (indices instanceof UndefinedPrimal)
      throw new Error("scatter_add_along_axis: indices cannot be a linear input");
    return [
      x instanceof UndefinedPrimal ? ct : null,
      null,
      updates instanceof UndefinedPrimal ? takeAlongAxisPrim.bind1([ct, indices], p) : null,
    ];
  },
  batch: (args, dims, p) => [
    [scatterAddAlongAxisPrim.bind1(alignBatched(args, dims), { ...p, axis: p.axis + 1 })],
    [0],
  ],
});

// ---------------------------------------------------------------------------------------------------
// user-facing

/** Indices: an int32 array, a JS integer, or a list of JS integers. */
export type IndicesLike = NdArray | number | readonly number[];

function asIndices(op: string, indices: IndicesLike): NdArray {
  if (typeof indices === "number" || Array.isArray(indices)) {
    const list: readonly number[] = typeof indices === "number" ? [indices] : indices;
    if (list.some((v) => !Number.isInteger(v)))
      throw new TypeError(`${op}: indices must be integers, got ${JSON.stringify(indices)}`);
    return typeof indices === "number" ? scalar(indices, "int32") : array(list, { dtype: "int32" });
  }
  const a = indices as NdArray;
  if (a.dtype === "int32") return a;
  throw new TypeError(`${op}: indices must be an int32 array, got ${a.dtype}${fmtShape(a.shape)}`);
}

/**
 * numpy take: elements of `x` at `indices` along `axis` (of the flattened array when `axis` is omitted or null).
 * The result has shape x.shape[:axis] + indices.shape + x.shape[axis+1:]; negative indices count from the end.
 */
export function take(x: NdArray, indices: IndicesLike, options: { axis?: number | null } = {}): NdArray {
  checkOptions("take", options, ["axis"]);
  const idx = asIndices("take", indices);
  if (options.axis === undefined || options.axis === null)
    return takePrim.bind1([reshape(x, [x.size]), idx], { axis: 0, op: "take" });
  return takePrim.bind1([x, idx], { axis: normalizeAxis("take", options.axis, x.ndim), op: "take" });
}

/**
 * numpy take_along_axis: out[..., j, ...] = x[..., indices[..., j, ...], ...] along `axis` (default -1;
 * null flattens x and takes 1-D indices). x and indices have one rank and broadcast in the other axes.
 */
export function takeAlongAxis(x: NdArray, indices: NdArray, options: { axis?: number | null } = {}): NdArray {
  checkOptions("takeAlongAxis", options, ["axis"]);
  const idx = asIndices("takeAlongAxis", indices);
  if (options.axis === null) {
    if (idx.ndim !== 1)
      throw new ShapeError(
        `takeAlongAxis: with axis null the indices must be 1-D, got ${fmtShape(idx.shape)}`,
      );
    return takeAlongAxisPrim.bind1([reshape(x, [x.size]), idx], { axis: 0, op: "takeAlongAxis" });
  }
  if (idx.ndim !== x.ndim) {
    throw new ShapeError(
      `takeAlongAxis: indices ${fmtShape(idx.shape)} must have the same rank as the array ${fmtShape(x.shape)}`,
    );
  }
  const axis = normalizeAxis("takeAlongAxis", options.axis ?? -1, x.ndim);
  const [xb, ib] = broadcastExceptAxis("takeAlongAxis", x, idx, axis);
  return takeAlongAxisPrim.bind1([xb, ib], { axis, op: "takeAlongAxis" });
}

/** Broadcasts x and indices against each other in every axis except `axis`. */
function broadcastExceptAxis(op: string, x: NdArray, indices: NdArray, axis: number): [NdArray, NdArray] {
  const withUnitAxis = (s: Shape): number[] => s.map((d, i) => (i === axis ? 1 : d));
  let common: number[];
  try {
    common = broadcastShapes(op, withUnitAxis(x.shape), withUnitAxis(indices.shape));
  } catch {
    throw new ShapeError(
      `${op}: indices of shape ${fmtShape(indices.shape)} do not broadcast against the array ${fmtShape(x.shape)} outside axis ${axis}`,
    );
  }
  const target = (s: Shape): number[] => common.map((d, i) => (i === axis ? s[axis]! : d));
  return [broadcastTo(x, target(x.shape)), broadcastTo(indices, target(indices.shape))];
}

/**
 * x with `updates` added at the positions `take(x, indices, { axis })` reads (duplicates accumulate,
 * like numpy's add.at); with no axis, indices address the flattened array. Updates broadcast to the
 * shape take would return and are cast to x's dtype.
 */
export function scatterAdd(
  x: NdArray,
  indices: IndicesLike,
  updates: ArrayLike,
  options: { axis?: number } = {},
): NdArray {
  checkOptions("scatterAdd", options, ["axis"]);
  const idx = asIndices("scatterAdd", indices);
  const operand = options.axis === undefined ? reshape(x, [x.size]) : x;
  const axis = options.axis === undefined ? 0 : normalizeAxis("scatterAdd", options.axis, x.ndim);
  const upd = asArray(updates, x.dtype);
  const shape = takenShape(operand.shape, idx.shape, axis);
  if (!shapeEquals(broadcastShapes("scatterAdd", upd.shape, shape), shape)) {
    throw new ShapeError(
      `scatterAdd: updates of shape ${fmtShape(upd.shape)} do not broadcast to ${fmtShape(shape)}, the shape take(x, indices) gives`,
    );
  }
  const out = scatterAddPrim.bind1([operand, idx, broadcastTo(astype(upd, x.dtype), shape)], {
    axis,
    op: "scatterAdd",
  });
  return reshape(out, x.shape);
}

/**
 * One-hot encoding: a trailing axis of `numClasses` with 1 at each label (float32 by default). Labels
 * outside [0, numClasses) give a row of zeros, as jax.nn.one_hot.
 */
export function oneHot(labels: NdArray, numClasses: number, options: { dtype?: DType } = {}): NdArray {
  checkOptions("oneHot", options, ["dtype"]);
  if (!Number.isInteger(numClasses) || numClasses < 0) {
    throw new RangeError(`oneHot: numClasses must be a non-negative integer, got ${numClasses}`);
  }
  const hits = equal(expandDims(labels, -1), arange(numClasses));
  return astype(hits, options.dtype ?? "float32");
}
