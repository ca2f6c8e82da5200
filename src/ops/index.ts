/**
 * numpy indexing through one function, `np.index(x, ...items)` / `x.index(...items)` (issue 18).
 * Basic indexing (integers, slices with any step, newaxis, the ellipsis) is one `slice` and one
 * `reshape`; advanced indexing (integer arrays, boolean masks) adds one `take` of the indexed axes
 * flattened into one, at the flat position the broadcast index arrays name. Every step is an existing
 * primitive, so grad (take's transpose is a scatter-add), vmap and jit need no rules of their own.
 */

import { ConcreteArray, type NdArray } from "../core/array.js";
import { broadcastShapes, fmtShape, type Shape, sizeOf, stridesOf } from "../core/shape.js";
import { knownValue } from "../core/trace.js";
import { add, greaterEqual, logicalAnd, multiply, where } from "./binary.js";
import { arange, array, full, scalar, zeros } from "./creation.js";
import {
  checkedIndices,
  type IndexArgs,
  IndexError,
  type ParsedIndex,
  type ParsedItem,
  parseIndex,
} from "./index-spec.js";
import { takePrim } from "./indexing.js";
import { broadcastTo, reshape, transpose } from "./layout.js";
import { nonzero } from "./nonzero.js";
import { type SliceSpec, slice } from "./shape.js";

/** An advanced index on one operand axis (null: a bool scalar's new axis, which reads nothing). */
interface Advanced {
  indices: NdArray;
  axis: number | null;
  /** Known to be in [0, size) (mask positions), so the run-time bounds check is not needed. */
  inRange: boolean;
  /** For a mask with a static size: which of the `size` positions are real (the rest are filled). */
  valid?: NdArray;
}

/**
 * numpy indexing, `x[i, 1:, ::-1, None, ..., idx, mask]` written `np.index(x, i, "1:", "::-1", null,
 * "...", idx, mask)` (or `x.index(...)`); see {@link IndexItem} for every form an item takes.
 *
 * Basic indexing (integers, slices, `null`, `"..."`) gives numpy's view as a new array. Integer arrays
 * (and boolean masks, read as `nonzero(mask)`) broadcast together to one shape B, which replaces the
 * axes they index where they stand next to each other, and goes first when a slice, an ellipsis or
 * `null` separates them (numpy's rule); integers count as arrays when arrays are present.
 *
 * Static indices out of range throw an {@link IndexError} while tracing, as do concrete index arrays;
 * index arrays traced under jit or vmap are checked when the kernel runs (a RangeError naming `index`,
 * the axis, its size and the index): unlike JAX, nothing is clamped. Under jit a boolean mask needs
 * the final options `{ size, fillValue }` (see {@link IndexOptions}): the result holds the first
 * `size` selected elements and `fillValue` (default 0) past the real count.
 *
 * Differentiable in `x` (the gradient of a gather is a scatter-add: repeated indices accumulate).
 *
 * @example
 * np.index(x, 0)                   // x[0]
 * np.index(x, "::-1", { start: 1 }) // x[::-1, 1:]
 * np.index(x, "...", null)         // x[..., None]
 * np.index(x, [0, 2], [1, 1])      // x[[0, 2], [1, 1]]
 * np.index(x, x.greater(0))        // x[x > 0] (eager)
 * jit((x) => np.index(x, x.greater(0), { size: 3, fillValue: -1 }))
 */
export function index(x: NdArray, ...args: IndexArgs): NdArray {
  const spec = parseIndex("index", x.shape, args);
  // Slices (and integers, in basic indexing, as one-element slices) in one slice primitive.
  const slices: SliceSpec[] = x.shape.map(() => ({}));
  for (const item of spec.items) {
    if (item.kind === "slice") slices[item.axis] = item.spec;
    else if (item.kind === "int" && !spec.advanced)
      slices[item.axis] = { start: item.value, stop: item.value + 1 };
  }
  const sliced = slice(x, slices);
  if (!spec.advanced) return reshape(sliced, resultShape(spec, sliced.shape, []));
  return advancedIndex(x, sliced, spec);
}

/**
 * The result's shape from the items in order: a slice's length, 1 for a newaxis, nothing for a basic
 * integer, and the broadcast index shape B where the advanced items stand (or first).
 */
function resultShape(spec: ParsedIndex, sliced: Shape, broadcast: Shape): number[] {
  const out: number[] = spec.advanced && !spec.adjacent ? [...broadcast] : [];
  let placed = !spec.adjacent;
  for (const item of spec.items) {
    if (item.kind === "slice") out.push(sliced[item.axis]!);
    else if (item.kind === "newaxis") out.push(1);
    else if (spec.advanced && !placed) {
      out.push(...broadcast);
      placed = true;
    }
  }
  return out;
}

/** The advanced index arrays of the items, each bound to its operand axis (masks expanded). */
function advancedOf(x: NdArray, spec: ParsedIndex): Advanced[] {
  const out: Advanced[] = [];
  for (const item of spec.items) {
    if (item.kind === "int")
      out.push({ indices: scalar(item.value, "int32"), axis: item.axis, inRange: true });
    else if (item.kind === "array")
      out.push({
        indices: checkedIndices("index", item.indices, item.axis, x.shape[item.axis]!),
        axis: item.axis,
        // Concrete indices were checked and wrapped just now; traced ones are checked as the plan runs.
        inRange: item.indices instanceof ConcreteArray,
      });
    else if (item.kind === "mask" || item.kind === "scalarMask") out.push(...maskIndices(item, spec));
  }
  return out;
}

/**
 * A mask as the integer arrays nonzero(mask) gives, one per axis it covers. A bool scalar is a mask
 * over a new axis of size 1 (true selects it once, false not at all), which reads no operand axis.
 * With a static size, the positions past the real count read index 0 and are marked invalid.
 */
function maskIndices(item: ParsedItem & { kind: "mask" | "scalarMask" }, spec: ParsedIndex): Advanced[] {
  const axisOf = (k: number): number | null => (item.kind === "mask" ? item.axis + k : null);
  const size = spec.options?.size;
  const known = knownValue(item.mask);
  if (known !== null) return concreteMaskIndices(known, size, axisOf);
  if (size === undefined)
    throw new IndexError(
      `index: the number of true elements of the bool${fmtShape(item.mask.shape)} mask is not known while tracing; pass { size } (and fillValue) as the last argument, np.index(x, mask, { size, fillValue }), for a result of static size, as JAX's size argument`,
    );
  const mask = item.kind === "mask" ? item.mask : reshape(item.mask, [1]);
  const positions = nonzero(mask, { size, fillValue: -1 });
  const valid = greaterEqual(positions[0]!, 0);
  return positions.map((p, k) => ({ indices: where(valid, p, 0), axis: axisOf(k), inRange: true, valid }));
}

/** The positions of a concrete mask, read from its data (constants, also while tracing). */
function concreteMaskIndices(
  mask: ConcreteArray,
  size: number | undefined,
  axisOf: (k: number) => number | null,
): Advanced[] {
  const data = mask.storage;
  const shape = mask.ndim === 0 ? [1] : mask.shape;
  const strides = stridesOf(shape);
  const hits: number[] = [];
  for (let i = 0; i < data.length; i++) if (data[i]) hits.push(i);
  const length = size ?? hits.length;
  return shape.map((_, k) => {
    const positions = new Int32Array(length);
    for (let j = 0; j < Math.min(length, hits.length); j++)
      positions[j] = Math.floor(hits[j]! / strides[k]!) % shape[k]!;
    const indices = array(positions, { dtype: "int32" });
    if (size === undefined) return { indices, axis: axisOf(k), inRange: true };
    const valid = array(
      Array.from({ length }, (_, j) => j < hits.length),
      { dtype: "bool" },
    );
    return { indices, axis: axisOf(k), inRange: true, valid };
  });
}

/**
 * Indices wrapped into [0, size) and checked while the plan runs: a take from 0..size-1 laid along
 * `axis`, so an index out of range is reported by the kernel with numpy's axis and size.
 */
function runtimeChecked(indices: NdArray, axis: number, size: number): NdArray {
  const iota = reshape(arange(0, size, 1, { dtype: "int32" }), [...Array<number>(axis).fill(1), size]);
  return reshape(takePrim.bind1([iota, indices], { axis, op: "index" }), indices.shape);
}

function advancedIndex(x: NdArray, sliced: NdArray, spec: ParsedIndex): NdArray {
  const advanced = advancedOf(x, spec);
  let broadcast: number[];
  try {
    broadcast = broadcastShapes("index", ...advanced.map((a) => a.indices.shape));
  } catch {
    throw new IndexError(
      `index: shape mismatch: indexing arrays could not be broadcast together with shapes ${advanced.map((a) => fmtShape(a.indices.shape)).join(" ")}`,
    );
  }
  const final = resultShape(spec, sliced.shape, broadcast);
  const fillValue = spec.options?.fillValue ?? 0;
  const onAxes = advanced.filter((a): a is Advanced & { axis: number } => a.axis !== null);
  const axes = onAxes.map((a) => a.axis);
  const basicAxes = sliced.shape.flatMap((_, a) => (axes.includes(a) ? [] : [a]));
  const flatSize = sizeOf(axes.map((a) => sliced.shape[a]!));
  // Only a mask with a static size asks for elements of an empty operand: all of them are fill.
  if (flatSize === 0 && sizeOf(broadcast) > 0 && spec.options)
    return full(final, fillValue, { dtype: x.dtype });

  let gathered: NdArray;
  if (onAxes.length === 1 && advanced.length === 1) {
    // One index array: a take along its axis puts B in place, and the kernel checks the bounds.
    gathered = takePrim.bind1([sliced, onAxes[0]!.indices], { axis: onAxes[0]!.axis, op: "index" });
  } else {
    // The indexed axes first and flattened into one, read at the flat position of each index tuple.
    const perm = [...axes, ...basicAxes];
    const moved = perm.every((p, i) => p === i) ? sliced : transpose(sliced, perm);
    const operand = reshape(moved, [flatSize, ...basicAxes.map((a) => sliced.shape[a]!)]);
    const strides = stridesOf(axes.map((a) => sliced.shape[a]!));
    let flat: NdArray = zeros(broadcast, { dtype: "int32" });
    onAxes.forEach((a, k) => {
      const n = sliced.shape[a.axis]!;
      const wrapped = a.inRange ? a.indices : runtimeChecked(a.indices, a.axis, n);
      flat = add(flat, strides[k] === 1 ? wrapped : multiply(wrapped, strides[k]!));
    });
    gathered = takePrim.bind1([operand, broadcastTo(flat, broadcast)], { axis: 0, op: "index" });
  }
  // Where B stands in `gathered`: at the first indexed axis for one take, else first.
  const at = onAxes.length === 1 && advanced.length === 1 ? onAxes[0]!.axis : 0;
  const validities = advanced.flatMap((a) => (a.valid ? [broadcastTo(a.valid, broadcast)] : []));
  if (validities.length) {
    const valid = validities.reduce((a, b) => logicalAnd(a, b));
    const placed = reshape(valid, [
      ...Array<number>(at).fill(1),
      ...broadcast,
      ...Array<number>(gathered.ndim - at - broadcast.length).fill(1),
    ]);
    gathered = where(placed, gathered, scalar(fillValue, x.dtype));
  }
  return reshape(placeBroadcastDims(gathered, at, broadcast.length, spec), final);
}

/**
 * Moves the broadcast index dimensions from `at` to where numpy puts them (in place when the
 * advanced items are adjacent, else first); the newaxes are left to the final reshape.
 */
function placeBroadcastDims(gathered: NdArray, at: number, rank: number, spec: ParsedIndex): NdArray {
  let target = 0;
  if (spec.adjacent) {
    for (const item of spec.items) {
      if (item.kind === "slice") target++;
      else if (item.kind !== "newaxis") break;
    }
  }
  if (target === at) return gathered;
  const others = gathered.shape.flatMap((_, i) => (i >= at && i < at + rank ? [] : [i]));
  const bDims = Array.from({ length: rank }, (_, i) => at + i);
  return transpose(gathered, [...others.slice(0, target), ...bDims, ...others.slice(target)]);
}
