/**
 * The index forms of `np.index(x, ...items)`: parsing the user's items into one
 * normalised list, checked against the array's shape. Static parts (integers, slices, the ellipsis,
 * newaxis, the number of axes indexed) are checked here, at trace time, with numpy's IndexError
 * messages; index arrays are only classified (integer or boolean) and bound to the axes they index.
 */

import { ConcreteArray, NdArray } from "../core/array.js";
import type { IndexOptions, NestedIndexList, SliceSpec } from "../core/methods-types.js";
import { describeValue, fmtShape, type Shape } from "../core/shape.js";
import { astype } from "./binary.js";
import { array, scalar } from "./creation.js";

export type { IndexArgs, IndexItem, IndexOptions, NestedIndexList } from "../core/methods-types.js";

/**
 * numpy's IndexError: an index that does not fit the array (out of bounds, too many indices, index
 * arrays that do not broadcast, a mask of the wrong shape), thrown where it is known: at trace time
 * for static indices and for concrete index arrays. A RangeError, like the run-time bounds error of
 * the gather kernel that catches traced indices out of range.
 */
export class IndexError extends RangeError {
  override name = "IndexError";
}

/** One normalised index item; `axis` is the operand axis it indexes (the first one, for a mask). */
export type ParsedItem =
  | { kind: "int"; value: number; axis: number }
  | { kind: "slice"; spec: SliceSpec; axis: number }
  | { kind: "newaxis" }
  | { kind: "array"; indices: NdArray; axis: number }
  | { kind: "mask"; mask: NdArray; axis: number }
  | { kind: "scalarMask"; mask: NdArray };

export interface ParsedIndex {
  /** Every axis of the operand is indexed by exactly one item (the ellipsis and a short index filled in). */
  items: ParsedItem[];
  /** Whether the index has arrays (or masks): numpy's advanced indexing, integers then count as arrays. */
  advanced: boolean;
  /**
   * numpy's placement rule: the advanced items (arrays, masks and, with them, integers) stand next to
   * each other, so the broadcast index dimensions replace them in place; otherwise (separated by a
   * slice, an ellipsis or a newaxis) they go first.
   */
  adjacent: boolean;
  options?: Required<IndexOptions>;
}

const SLICE_KEYS = ["start", "stop", "step"];
const OPTION_KEYS = ["size", "fillValue"];
const SLICE_STRING = /^(-?\d+)?:(-?\d+)?(?::(-?\d+)?)?$/;
const FORMS =
  'an integer, a slice ({ start, stop, step } or a string like "1:", "::-1"), null (newaxis), "..." (ellipsis), an integer or boolean array, or nested lists of integers or booleans';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof NdArray);
}

/** Python's slice syntax as a string: `"1:"`, `":3"`, `"::-1"`, `"1:7:2"` (whitespace allowed). */
export function parseSliceString(op: string, text: string): SliceSpec {
  const m = SLICE_STRING.exec(text.replace(/\s+/g, ""));
  if (!m)
    throw new TypeError(
      `${op}: ${JSON.stringify(text)} is not an index; strings are "..." or a slice in Python's syntax, like ":", "1:", ":-1", "::2", "::-1", "1:7:3"`,
    );
  const [, start, stop, step] = m;
  const spec: { start?: number; stop?: number; step?: number } = {};
  if (start !== undefined) spec.start = Number(start);
  if (stop !== undefined) spec.stop = Number(stop);
  if (step !== undefined) spec.step = Number(step);
  return checkSlice(op, spec);
}

function checkSlice(op: string, spec: Record<string, unknown>): SliceSpec {
  for (const key of Object.keys(spec)) {
    if (!SLICE_KEYS.includes(key))
      throw new TypeError(
        `${op}: a slice object has the keys start, stop and step, got ${describeValue(spec)}; the options { size, fillValue } go last and alone`,
      );
  }
  const out: { start?: number; stop?: number; step?: number } = {};
  for (const key of SLICE_KEYS) {
    const v = spec[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isSafeInteger(v))
      throw new TypeError(`${op}: slice ${key} must be an integer (or omitted), got ${describeValue(v)}`);
    out[key as keyof SliceSpec] = v;
  }
  if (out.step === 0) throw new RangeError(`${op}: slice step cannot be zero`);
  return out;
}

/** Nested JS lists as an index array: all integers (int32) or all booleans (a mask). */
function listIndex(op: string, list: NestedIndexList): NdArray {
  const leaves: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const w of v) walk(w);
    else leaves.push(v);
  };
  walk(list);
  if (leaves.length > 0 && leaves.every((v) => typeof v === "boolean"))
    return array(list as boolean[], { dtype: "bool" });
  if (leaves.every((v) => typeof v === "number" && Number.isSafeInteger(v) && Math.abs(v) < 2 ** 31))
    return array(list as number[], { dtype: "int32" });
  throw new TypeError(
    `${op}: a list used as an index must hold only integers or only booleans, got ${describeValue(list)}`,
  );
}

/** An index array: bool (a mask) or integer (read as int32); anything else is numpy's IndexError. */
function arrayIndex(op: string, a: NdArray): NdArray {
  if (a.dtype === "bool" || a.dtype === "int32") return a;
  if (a.dtype.includes("int")) return astype(a, "int32");
  throw new IndexError(
    `${op}: arrays used as indices must be of integer or boolean type, got ${a.dtype}${fmtShape(a.shape)}`,
  );
}

function checkOptionsObject(op: string, value: Record<string, unknown>): Required<IndexOptions> {
  for (const key of Object.keys(value)) {
    if (!OPTION_KEYS.includes(key))
      throw new TypeError(
        `${op}: the options object takes size and fillValue, got ${describeValue(value)} (a slice object has only start, stop and step)`,
      );
  }
  const { size, fillValue = 0 } = value;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)
    throw new RangeError(`${op}: size must be a non-negative integer, got ${describeValue(size)}`);
  if (typeof fillValue !== "number")
    throw new TypeError(`${op}: fillValue must be a number, got ${describeValue(fillValue)}`);
  return { size, fillValue };
}

type RawItem =
  | { kind: "int"; value: number }
  | { kind: "slice"; spec: SliceSpec }
  | { kind: "newaxis" }
  | { kind: "ellipsis" }
  | { kind: "array"; indices: NdArray }
  | { kind: "mask"; mask: NdArray }
  | { kind: "scalarMask"; mask: NdArray };

function classify(op: string, item: unknown): RawItem {
  if (item === null) return { kind: "newaxis" };
  if (typeof item === "number") {
    if (!Number.isSafeInteger(item))
      throw new IndexError(
        `${op}: only integers, slices, "...", null and integer or boolean arrays are valid indices, got ${describeValue(item)}`,
      );
    return { kind: "int", value: item };
  }
  if (typeof item === "boolean") return { kind: "scalarMask", mask: scalar(item, "bool") };
  if (typeof item === "string") {
    if (item.trim() === "...") return { kind: "ellipsis" };
    return { kind: "slice", spec: parseSliceString(op, item) };
  }
  if (item instanceof NdArray || Array.isArray(item)) {
    const a = item instanceof NdArray ? arrayIndex(op, item) : listIndex(op, item as NestedIndexList);
    if (a.dtype !== "bool") return { kind: "array", indices: a };
    return a.ndim === 0 ? { kind: "scalarMask", mask: a } : { kind: "mask", mask: a };
  }
  if (isPlainObject(item)) return { kind: "slice", spec: checkSlice(op, item) };
  throw new TypeError(`${op}: an index item is ${FORMS}; got ${describeValue(item)}`);
}

/** How many operand axes an item consumes. */
const consumed = (r: RawItem): number =>
  r.kind === "int" || r.kind === "slice" || r.kind === "array" ? 1 : r.kind === "mask" ? r.mask.ndim : 0;

const isAdvanced = (r: RawItem, advanced: boolean): boolean =>
  r.kind === "array" || r.kind === "mask" || r.kind === "scalarMask" || (advanced && r.kind === "int");

/**
 * Parses the items of `np.index(x, ...items)` against `x`'s shape: the trailing options object is
 * split off, integers are bounds-checked and made non-negative, slices validated, the ellipsis (or
 * the missing trailing axes) filled with full slices, and every item bound to the axes it indexes.
 */
export function parseIndex(op: string, shape: Shape, args: readonly unknown[]): ParsedIndex {
  const last = args[args.length - 1];
  const hasOptions = isPlainObject(last) && OPTION_KEYS.some((k) => k in last);
  const options = hasOptions ? checkOptionsObject(op, last) : undefined;
  const itemArgs = hasOptions ? args.slice(0, -1) : args;
  for (const item of itemArgs) {
    if (isPlainObject(item) && OPTION_KEYS.some((k) => k in item))
      throw new TypeError(`${op}: the options { size, fillValue } must be the last argument`);
  }
  const raw = itemArgs.map((item) => classify(op, item));
  if (raw.filter((r) => r.kind === "ellipsis").length > 1)
    throw new IndexError(`${op}: an index can only have a single ellipsis ("...")`);
  const indexed = raw.reduce((n, r) => n + consumed(r), 0);
  if (indexed > shape.length)
    throw new IndexError(
      `${op}: too many indices for array: array is ${shape.length}-dimensional, but ${indexed} were indexed`,
    );
  const advanced = raw.some((r) => r.kind === "array" || r.kind === "mask" || r.kind === "scalarMask");
  const positions = raw.flatMap((r, i) => (isAdvanced(r, advanced) ? [i] : []));
  const adjacent = positions.every((p, i) => i === 0 || p === positions[i - 1]! + 1);
  if (options && !raw.some((r) => r.kind === "mask" || r.kind === "scalarMask"))
    throw new TypeError(
      `${op}: the options { size, fillValue } apply to boolean masks, and the index has none`,
    );

  const items: ParsedItem[] = [];
  let axis = 0;
  const fill = (count: number): void => {
    for (let k = 0; k < count; k++) items.push({ kind: "slice", spec: {}, axis: axis++ });
  };
  for (const r of raw) {
    switch (r.kind) {
      case "ellipsis":
        fill(shape.length - indexed);
        break;
      case "newaxis":
      case "scalarMask":
        items.push(r);
        break;
      case "int": {
        const n = shape[axis]!;
        if (r.value < -n || r.value >= n)
          throw new IndexError(`${op}: index ${r.value} is out of bounds for axis ${axis} with size ${n}`);
        items.push({ kind: "int", value: r.value < 0 ? r.value + n : r.value, axis: axis++ });
        break;
      }
      case "slice":
        items.push({ kind: "slice", spec: r.spec, axis: axis++ });
        break;
      case "array":
        items.push({ kind: "array", indices: r.indices, axis: axis++ });
        break;
      case "mask": {
        const covered = shape.slice(axis, axis + r.mask.ndim);
        r.mask.shape.forEach((d, k) => {
          if (d !== covered[k])
            throw new IndexError(
              `${op}: boolean index did not match indexed array along dimension ${axis + k}; dimension is ${covered[k]} but corresponding boolean dimension is ${d} (mask ${fmtShape(r.mask.shape)}, array ${fmtShape(shape)})`,
            );
        });
        items.push({ kind: "mask", mask: r.mask, axis });
        axis += r.mask.ndim;
        break;
      }
    }
  }
  fill(shape.length - axis);
  return { items, advanced, adjacent, ...(options ? { options } : {}) };
}

/**
 * Checks concrete integer indices against the axis size (numpy's IndexError) and returns them with
 * negative ones counted from the end; traced indices are returned as they are (checked at run time).
 */
export function checkedIndices(op: string, indices: NdArray, axis: number, size: number): NdArray {
  if (!(indices instanceof ConcreteArray)) return indices;
  const data = indices.storage as Int32Array;
  let negative = false;
  for (const v of data) {
    if (v < -size || v >= size)
      throw new IndexError(`${op}: index ${v} is out of bounds for axis ${axis} with size ${size}`);
    if (v < 0) negative = true;
  }
  if (!negative) return indices;
  return array(
    Int32Array.from(data, (v) => (v < 0 ? v + size : v)),
    {
      dtype: "int32",
      shape: indices.shape,
    },
  );
}
