/**
 * The ONNX forms of the primitives that cut and join arrays (their `onnx` rules, ops/shape.ts and
 * ops/dynamic-slice.ts): concatenate as Concat, slice as Slice, rev as Slice with step -1, pad as Pad
 * (interior padding first, by padding a new axis after each element and cropping the last gap), and the
 * dynamic slices as Slice and ScatterND at starts clamped as XLA clamps them.
 */
import type { AbstractValue } from "../core/array.js";
import type { OnnxGraph } from "../core/onnx-rule.js";
import { sizeOf } from "../core/shape.js";

/** An int64 end that Slice clamps to "before the first element" when stepping backwards. */
const BEFORE_FIRST = -(2 ** 53);

/** slice: [start, limit) with step `strides` on every axis. */
export function sliceToOnnx(
  g: OnnxGraph,
  x: string,
  start: readonly number[],
  limit: readonly number[],
  strides: readonly number[],
): string {
  if (start.length === 0) return g.node1("Identity", [x]);
  return g.node1("Slice", [
    x,
    g.int64s(start),
    g.int64s(limit),
    g.int64s(start.map((_, i) => i)),
    g.int64s(strides),
  ]);
}

/** rev: each of `axes` read backwards. */
export function revToOnnx(g: OnnxGraph, x: string, axes: readonly number[]): string {
  if (axes.length === 0) return g.node1("Identity", [x]);
  return g.node1("Slice", [
    x,
    g.int64s(axes.map(() => -1)),
    g.int64s(axes.map(() => BEFORE_FIRST)),
    g.int64s(axes),
    g.int64s(axes.map(() => -1)),
  ]);
}

/** pad: `lo` and `hi` elements of `value` around each axis and `interior` between its elements. */
export function padToOnnx(
  g: OnnxGraph,
  x: string,
  lo: readonly number[],
  hi: readonly number[],
  interior: readonly number[],
  value: number,
  aval: AbstractValue,
): string {
  const fill = g.scalar(value, aval.dtype);
  let shape = [...aval.shape];
  let y = x;
  interior.forEach((gap, axis) => {
    const d = shape[axis]!;
    if (gap === 0 || d === 0) return;
    // [.., d, ..] -> [.., d, 1, ..] -> padded to [.., d, 1 + gap, ..] -> [.., d * (1 + gap), ..], less the last gap.
    const rank = shape.length + 1;
    const expanded = g.node1("Unsqueeze", [y, g.int64s([axis + 1])]);
    const pads = new Array<number>(2 * rank).fill(0);
    pads[rank + axis + 1] = gap;
    const spread = g.node1("Pad", [expanded, g.int64s(pads), fill], { mode: "constant" });
    const merged = shape.map((s, i) => (i === axis ? d * (1 + gap) : s));
    const flat = g.node1("Reshape", [spread, g.int64s(merged)]);
    y = g.node1("Slice", [flat, g.int64s([0]), g.int64s([d + (d - 1) * gap]), g.int64s([axis])]);
    shape = merged.map((s, i) => (i === axis ? d + (d - 1) * gap : s));
  });
  if (lo.every((v) => v === 0) && hi.every((v) => v === 0)) return y === x ? g.node1("Identity", [x]) : y;
  return g.node1("Pad", [y, g.int64s([...lo, ...hi]), fill], { mode: "constant" });
}

/** concatenate: Concat along `axis`. */
export function concatenateToOnnx(g: OnnxGraph, xs: readonly string[], axis: number): string {
  return g.node1("Concat", xs, { axis });
}

/**
 * The clamped start of each axis as one int64 vector: a negative start counts from the end once where
 * allowed, then clamps to [0, dim - size] (backend/js/dynamic-slice.ts's clampedStart).
 */
function clampedStarts(
  g: OnnxGraph,
  starts: readonly string[],
  sizes: readonly number[],
  shape: readonly number[],
  allowNegative: readonly boolean[],
): string {
  const each = starts.map((s, a) => {
    let start = s;
    if (allowNegative[a]) {
      const negative = g.node1("Less", [s, g.scalar(0, "int32")]);
      start = g.node1("Where", [negative, g.node1("Add", [s, g.scalar(shape[a]!, "int32")]), s]);
    }
    const clamped = g.node1("Min", [
      g.node1("Max", [start, g.scalar(0, "int32")]),
      g.scalar(shape[a]! - sizes[a]!, "int32"),
    ]);
    return g.node1("Unsqueeze", [g.cast(clamped, "int32", "int64"), g.int64s([0])]);
  });
  return each.length === 1 ? each[0]! : g.node1("Concat", each, { axis: 0 });
}

/** dynamic_slice: a Slice of `sizes` from the clamped starts. */
export function dynamicSliceToOnnx(
  g: OnnxGraph,
  x: string,
  starts: readonly string[],
  sizes: readonly number[],
  allowNegative: readonly boolean[],
  aval: AbstractValue,
): string {
  if (sizes.length === 0) return g.node1("Identity", [x]);
  const begin = clampedStarts(g, starts, sizes, aval.shape, allowNegative);
  const end = g.node1("Add", [begin, g.int64s(sizes)]);
  return g.node1("Slice", [x, begin, end, g.int64s(sizes.map((_, i) => i))]);
}

/**
 * dynamic_update_slice: ScatterND of the update at the clamped starts plus the index of each of its
 * elements (a constant grid of the update's shape).
 */
export function dynamicUpdateSliceToOnnx(
  g: OnnxGraph,
  x: string,
  update: string,
  starts: readonly string[],
  allowNegative: readonly boolean[],
  aval: AbstractValue,
  updateAval: AbstractValue,
): string {
  const shape = updateAval.shape;
  const rank = shape.length;
  if (rank === 0) return g.node1("Identity", [update]);
  if (sizeOf(shape) === 0) return g.node1("Identity", [x]);
  const grid = new Array<number>(sizeOf(shape) * rank);
  const index = new Array<number>(rank).fill(0);
  for (let e = 0; e < sizeOf(shape); e++) {
    for (let a = 0; a < rank; a++) grid[e * rank + a] = index[a]!;
    for (let a = rank - 1; a >= 0; a--) {
      if (++index[a]! < shape[a]!) break;
      index[a] = 0;
    }
  }
  const begin = clampedStarts(g, starts, shape, aval.shape, allowNegative);
  const offsets = g.constant(grid, "int64", [...shape, rank]);
  return g.node1("ScatterND", [x, g.node1("Add", [offsets, begin]), update]);
}
