/**
 * The ONNX forms of the gathers and scatters (their `onnx` rules, ops/indexing.ts and ops/scatter.ts):
 * take as Gather, take_along_axis as GatherElements, scatter_add as ScatterND with reduction "add" over
 * the axis moved to the front, scatter_add_along_axis as ScatterElements; the flat gather and scatter on
 * a flattened operand with one extra element, where positions outside the operand read their fill or
 * drop their update (ONNX's scatters refuse out-of-range indices).
 */
import type { AbstractValue } from "../core/array.js";
import { OnnxExportError, type OnnxGraph } from "../core/onnx-rule.js";
import { sizeOf } from "../core/shape.js";

/** Indices in [-n, n) counted from the end when negative, as take's kernel reads them, in [0, n). */
function wrapNegative(g: OnnxGraph, indices: string, n: number): string {
  const negative = g.node1("Less", [indices, g.scalar(0, "int32")]);
  return g.node1("Where", [negative, g.node1("Add", [indices, g.scalar(n, "int32")]), indices]);
}

/** Moves axis `from` of a rank-`rank` value to `to`. */
function moveAxis(g: OnnxGraph, x: string, rank: number, from: number, to: number): string {
  if (from === to) return x;
  const order = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== from);
  order.splice(to, 0, from);
  return g.node1("Transpose", [x], { perm: order });
}

/** take: x.shape[:axis] + indices.shape + x.shape[axis+1:], as Gather. */
export function takeToOnnx(g: OnnxGraph, x: string, indices: string, axis: number): string {
  return g.node1("Gather", [x, indices], { axis });
}

/**
 * scatter_add: x plus updates (take-shaped) added at the positions take reads. The axis goes to the
 * front of x and the index axes to the front of the updates, so that ScatterND adds each index's slice.
 */
export function scatterAddToOnnx(
  g: OnnxGraph,
  x: string,
  indices: string,
  updates: string,
  axis: number,
  xAval: AbstractValue,
  indicesAval: AbstractValue,
): string {
  const rank = xAval.shape.length;
  const k = indicesAval.shape.length;
  const front = moveAxis(g, x, rank, axis, 0);
  // updates: [x.shape[:axis], I..., x.shape[axis+1:]] -> [I..., x.shape[:axis], x.shape[axis+1:]].
  const updRank = rank - 1 + k;
  const perm = [
    ...Array.from({ length: k }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: rank - 1 - axis }, (_, i) => axis + k + i),
  ];
  const upd =
    perm.every((p, i) => p === i) || updRank === 0 ? updates : g.node1("Transpose", [updates], { perm });
  const idx = g.node1("Unsqueeze", [
    g.cast(wrapNegative(g, indices, xAval.shape[axis]!), "int32", "int64"),
    g.int64s([-1]),
  ]);
  const summed = g.node1("ScatterND", [front, idx, upd], { reduction: "add" });
  return moveAxis(g, summed, rank, 0, axis);
}

/** take_along_axis as GatherElements (negative indices count from the end in both). */
export function takeAlongAxisToOnnx(g: OnnxGraph, x: string, indices: string, axis: number): string {
  return g.node1("GatherElements", [x, indices], { axis });
}

/** scatter_add_along_axis as ScatterElements with reduction "add". */
export function scatterAddAlongAxisToOnnx(
  g: OnnxGraph,
  x: string,
  indices: string,
  updates: string,
  axis: number,
  xAval: AbstractValue,
): string {
  return g.node1("ScatterElements", [x, wrapNegative(g, indices, xAval.shape[axis]!), updates], {
    axis,
    reduction: "add",
  });
}

/** A flattened operand with one extra element `fill` at index `size`, and its positions sent there when outside [0, size). */
function flatWithSlot(
  g: OnnxGraph,
  x: string,
  positions: string,
  xAval: AbstractValue,
  fill: number,
): { flat: string; positions: string; size: number } {
  const size = sizeOf(xAval.shape);
  const flat = g.node1(
    "Concat",
    [
      g.node1("Reshape", [x, g.int64s([size])]),
      g.node1("Reshape", [g.scalar(fill, xAval.dtype), g.int64s([1])]),
    ],
    { axis: 0 },
  );
  const inside = g.node1("And", [
    g.node1("GreaterOrEqual", [positions, g.scalar(0, "int32")]),
    g.node1("Less", [positions, g.scalar(size, "int32")]),
  ]);
  return { flat, positions: g.node1("Where", [inside, positions, g.scalar(size, "int32")]), size };
}

/** gather_flat: x.flat[positions], `fill` where a position is outside x. */
export function gatherFlatToOnnx(
  g: OnnxGraph,
  x: string,
  positions: string,
  fill: number,
  xAval: AbstractValue,
): string {
  const slot = flatWithSlot(g, x, positions, xAval, fill);
  return g.node1("Gather", [slot.flat, slot.positions], { axis: 0 });
}

const REDUCTION: Readonly<Record<string, string>> = {
  set: "none",
  add: "add",
  mul: "mul",
  min: "min",
  max: "max",
};

/**
 * scatter: updates combined into x.flat at `positions` in order (positions outside x dropped). Sets
 * with repeated positions keep the last update, as the kernel does: ONNX leaves the order of duplicate
 * writes undefined, so every update that a later one overwrites is sent to the dropped slot first.
 * bool adds (or) and multiplies (and) become max and min of 0/1 integers.
 */
export function scatterToOnnx(
  g: OnnxGraph,
  x: string,
  positions: string,
  updates: string,
  mode: string,
  xAval: AbstractValue,
  positionsAval: AbstractValue,
): string {
  const reduction = REDUCTION[mode];
  if (reduction === undefined) throw new OnnxExportError(`onnx export: scatter mode ${mode}`);
  const k = sizeOf(positionsAval.shape);
  const isBool = xAval.dtype === "bool";
  const asData = (v: string) => (isBool ? g.cast(v, "bool", "int32") : v);
  const slot = flatWithSlot(g, asData(x), positions, isBool ? { ...xAval, dtype: "int32" } : xAval, 0);
  let at = g.node1("Reshape", [slot.positions, g.int64s([k])]);
  if (mode === "set" && k > 1) {
    // later[i, j]: update j (j > i) writes where update i does.
    const upper = new Uint8Array(k * k);
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) upper[i * k + j] = 1;
    const same = g.node1("Equal", [
      g.node1("Unsqueeze", [at, g.int64s([1])]),
      g.node1("Unsqueeze", [at, g.int64s([0])]),
    ]);
    const later = g.node1("And", [same, g.constant(upper, "bool", [k, k])]);
    const overwritten = g.cast(
      g.node1("ReduceMax", [g.cast(later, "bool", "int32"), g.int64s([1])], { keepdims: 0 }),
      "int32",
      "bool",
    );
    at = g.node1("Where", [overwritten, g.scalar(slot.size, "int32"), at]);
  }
  const boolReduction = mode === "add" ? "max" : mode === "mul" ? "min" : reduction;
  const scattered = g.node1(
    "ScatterElements",
    [slot.flat, g.cast(at, "int32", "int64"), asData(g.node1("Reshape", [updates, g.int64s([k])]))],
    { axis: 0, reduction: isBool ? boolReduction : reduction },
  );
  const kept = g.node1("Slice", [scattered, g.int64s([0]), g.int64s([slot.size]), g.int64s([0])]);
  const shaped = g.node1("Reshape", [kept, g.int64s(xAval.shape)]);
  return isBool ? g.cast(shaped, "int32", "bool") : shaped;
}
