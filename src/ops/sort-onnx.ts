/**
 * The ONNX forms of the sorting primitives (their `onnx` rules, ops/sort.ts and random/sort.ts): sort
 * and top_k as TopK over the whole axis, which breaks ties by the lower index (so it is stable, both
 * ways), with NaNs put last (first when descending) by a second stable TopK on the NaN flags; the values
 * are gathered by the indices, so NaNs and signed zeros come through unchanged. searchsorted counts the
 * sorted elements before each value in the same order.
 */
import type { AbstractValue } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import type { OnnxGraph } from "../core/onnx-rule.js";

/** The stable order of `x` along `axis` (int64 indices), NaN largest. */
function stableOrder(
  g: OnnxGraph,
  x: string,
  axis: number,
  descending: boolean,
  aval: AbstractValue,
): string {
  const n = g.int64s([aval.shape[axis]!]);
  const largest = descending ? 1 : 0;
  const order = (key: string) => g.node("TopK", [key, n], { axis, largest, sorted: 1 }, 2)[1]!;
  if (!isFloat(aval.dtype)) return order(x);
  const nan = g.node1("IsNaN", [x]);
  // NaN as the largest number first; then the NaN flags (0/1) partition that order stably.
  const bound = g.scalar(descending ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY, aval.dtype);
  const byValue = order(g.node1("Where", [nan, bound, x]));
  const flags = g.cast(g.node1("GatherElements", [nan, byValue], { axis }), "bool", "float32");
  return g.node1("GatherElements", [byValue, order(flags)], { axis });
}

/** sort: [values, int32 indices] along `axis`. */
export function sortToOnnx(
  g: OnnxGraph,
  x: string,
  axis: number,
  descending: boolean,
  aval: AbstractValue,
): string[] {
  if (aval.shape[axis] === 0) return [g.node1("Identity", [x]), g.cast(x, aval.dtype, "int32")];
  const order = stableOrder(g, x, axis, descending, aval);
  return [g.node1("GatherElements", [x, order], { axis }), g.cast(order, "int64", "int32")];
}

/** top_k: the first k of the descending stable order along the last axis. */
export function topKToOnnx(g: OnnxGraph, x: string, k: number, aval: AbstractValue): string[] {
  const axis = aval.shape.length - 1;
  if (k === 0 || aval.shape[axis] === 0) {
    const empty = g.node1("Slice", [x, g.int64s([0]), g.int64s([0]), g.int64s([axis])]);
    return [empty, g.cast(empty, aval.dtype, "int32")];
  }
  const order = g.node1("Slice", [
    stableOrder(g, x, axis, true, aval),
    g.int64s([0]),
    g.int64s([k]),
    g.int64s([axis]),
  ]);
  return [g.node1("GatherElements", [x, order], { axis }), g.cast(order, "int64", "int32")];
}

/**
 * searchsorted: for each value the number of sorted elements before it in sort order (NaN largest):
 * those less than it ("left"), or not greater ("right"), counted over a [..., m, n] comparison.
 */
export function searchSortedToOnnx(
  g: OnnxGraph,
  sorted: string,
  values: string,
  side: "left" | "right",
  aval: AbstractValue,
): string {
  const s = g.node1("Unsqueeze", [sorted, g.int64s([-2])]); // [..., 1, n]
  const v = g.node1("Unsqueeze", [values, g.int64s([-1])]); // [..., m, 1]
  let before: string;
  if (side === "left") before = g.node1("Less", [s, v]);
  else before = g.node1("LessOrEqual", [s, v]);
  if (isFloat(aval.dtype)) {
    const sNan = g.node1("IsNaN", [s]);
    const vNan = g.node1("IsNaN", [v]);
    // left: s before v when s is a number and v is NaN; right: every s is before a NaN value.
    const nanValue = side === "left" ? g.node1("And", [g.node1("Not", [sNan]), vNan]) : vNan;
    before = g.node1("Or", [before, nanValue]);
  }
  const counts = g.node1("ReduceSum", [g.cast(before, "bool", "int32"), g.int64s([-1])], { keepdims: 0 });
  return counts;
}

/**
 * sort_by_key: values reordered along `axis` by the stable ascending order of uint32 keys [...lead, n]
 * (the order of the keys' values as int64 words), one order per lead index shared along the other axes.
 */
export function sortByKeyToOnnx(
  g: OnnxGraph,
  keys: string,
  values: string,
  axis: number,
  keysAval: AbstractValue,
  valuesAval: AbstractValue,
): string {
  const lead = keysAval.shape.length - 1;
  const n = keysAval.shape[lead]!;
  if (n === 0) return g.node1("Identity", [values]);
  const words = g.node1("BitwiseAnd", [g.cast(keys, "int32", "int64"), g.scalar(0xffffffff, "int64")]);
  const order = g.node("TopK", [words, g.int64s([n])], { axis: lead, largest: 0, sorted: 1 }, 2)[1]!;
  // [...lead, n] -> [...lead, 1.., n, 1..] broadcast to the values' shape, then gathered along `axis`.
  const shape = valuesAval.shape;
  const between = Array.from({ length: axis - lead }, (_, i) => lead + i);
  const after = Array.from({ length: shape.length - axis - 1 }, (_, i) => axis + 1 + i);
  const singletons = [...between, ...after];
  const unsqueezed = singletons.length ? g.node1("Unsqueeze", [order, g.int64s(singletons)]) : order;
  return g.node1("GatherElements", [values, g.node1("Expand", [unsqueezed, g.int64s(shape)])], { axis });
}
