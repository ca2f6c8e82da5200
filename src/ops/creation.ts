/** Creating arrays: np.array and friends. Concrete values; inside a transform they become constants. */
import { ConcreteArray, NdArray } from "../core/array.js";
import {
  castScalar,
  checkDType as checkDTypeValue,
  type DType,
  defaultDTypeOf,
  storageFor,
  type TypedArray,
} from "../core/dtype.js";
import type { ArrayLike as ArrayLikeValue } from "../core/methods-types.js";
import { checkOptions } from "../core/options.js";
import { checkShape, describeValue, fmtShape, ShapeError, sizeOf } from "../core/shape.js";
import { broadcastInDimPrim } from "./layout.js";

/** Nested JS arrays of numbers or booleans (`[[1, 2], [3, 4]]`), as `np.array` takes them. */
export type NestedNumbers = number | boolean | readonly NestedNumbers[];

/** Options of `np.array`. */
export interface ArrayOptions {
  /** The shape to give the values (their count must match): for a flat list or a typed array. */
  shape?: readonly number[];
  /**
   * The element type (default: the typed array's, else float32 for numbers and bool for booleans). Values
   * convert as `castScalar` states: integers wrap (300 -> uint8 44), halves round to nearest even.
   */
  dtype?: DType;
}

function checkDType(op: string, dtype: DType | undefined): void {
  if (dtype !== undefined) checkDTypeValue(op, dtype);
}

/** A shape as the creation functions take it: a list of sizes, or one size for a 1-D array (as numpy). */
export type ShapeLike = number | readonly number[];

/** The shape as a list, checked (non-negative safe integers, within MAX_ARRAY_BYTES for `dtype`). */
function toShape(op: string, shape: ShapeLike, dtype: DType): number[] {
  const list = typeof shape === "number" ? [shape] : shape;
  checkShape(op, list, dtype);
  return [...list];
}

/**
 * The dtype a typed array becomes in `np.array`: its own (Uint8Array and Uint8ClampedArray uint8,
 * Int8Array int8, Uint16Array uint16, Int16Array int16, Uint32Array uint32, Int32Array int32,
 * Float32Array float32, Float64Array float64, a Float16Array float16); 64-bit integer arrays and
 * DataViews throw. No value is ever dropped.
 */
function typedArrayDType(data: ArrayBufferView): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Uint32Array) return "uint32";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return "uint8";
  if (data.constructor.name === "Float16Array") return "float16";
  throw new TypeError(
    `array: a ${data.constructor.name} is not supported (expected a Float32Array, Float64Array or an 8-, 16- or 32-bit integer array; convert 64-bit integers to a Float64Array)`,
  );
}

/**
 * An array from nested numbers, a flat list with `shape`, or a typed array (whose dtype it keeps unless
 * `dtype` says otherwise). Numbers default to float32, booleans to bool.
 */
export function array(data: NestedNumbers | ArrayBufferView | NdArray, options: ArrayOptions = {}): NdArray {
  checkOptions("array", options, ["shape", "dtype"]);
  checkDType("array", options.dtype);
  if (data instanceof NdArray) {
    const x = options.dtype && options.dtype !== data.dtype ? data.astype(options.dtype) : data;
    return options.shape ? x.reshape(options.shape) : x;
  }
  let flat: ArrayLike<number | boolean>;
  let shape: number[];
  let inferred: DType;
  if (ArrayBuffer.isView(data)) {
    inferred = typedArrayDType(data);
    flat = data as TypedArray;
    shape = [flat.length];
  } else {
    const values: (number | boolean)[] = [];
    shape = nestedShape(data);
    flattenNested(data, shape, 0, values);
    flat = values;
    inferred = values.length > 0 && values.every((v) => typeof v === "boolean") ? "bool" : "float32";
  }
  const dtype = options.dtype ?? inferred;
  if (options.shape) {
    checkShape("array", options.shape, dtype);
    if (sizeOf(options.shape) !== flat.length) {
      throw new ShapeError(
        `array: ${flat.length} values do not fill shape ${fmtShape(options.shape)} (${sizeOf(options.shape)} elements)`,
      );
    }
    shape = [...options.shape];
  }
  const storage = storageFor(dtype, flat.length);
  if (dtype === inferred && ArrayBuffer.isView(data) && dtype !== "float16") storage.set(flat as TypedArray);
  else for (let i = 0; i < flat.length; i++) storage[i] = castScalar(Number(flat[i]), dtype);
  return new ConcreteArray(shape, dtype, storage);
}

type ArrayLike<T> = { readonly length: number; readonly [i: number]: T };

function nestedShape(data: NestedNumbers): number[] {
  const shape: number[] = [];
  let d: NestedNumbers = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    if (d.length === 0) break;
    d = d[0] as NestedNumbers;
  }
  return shape;
}

function flattenNested(
  data: NestedNumbers,
  shape: readonly number[],
  dim: number,
  out: (number | boolean)[],
): void {
  if (dim === shape.length) {
    if (Array.isArray(data)) {
      throw new ShapeError(
        `array: ragged nested data: expected a number at depth ${dim}, shape ${fmtShape(shape)}`,
      );
    }
    if (typeof data !== "number" && typeof data !== "boolean") {
      throw new TypeError(
        `array: expected nested lists of JS numbers or booleans, got ${data instanceof NdArray ? `an array of shape ${fmtShape(data.shape)} inside a list (use np.stack)` : describe(data)} at depth ${dim}`,
      );
    }
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new ShapeError(
      `array: ragged nested data: expected a list of length ${shape[dim]} at depth ${dim}, shape ${fmtShape(shape)}`,
    );
  }
  for (const item of data) flattenNested(item as NestedNumbers, shape, dim + 1, out);
}

/** A 0-d array of a JS number or boolean (float32 for numbers, bool for booleans unless `dtype` says). */
export function scalar(value: number | boolean, dtype?: DType): NdArray {
  checkFillValue("scalar", value);
  checkDType("scalar", dtype);
  const d = dtype ?? defaultDTypeOf(value);
  const s = storageFor(d, 1);
  s[0] = castScalar(Number(value), d);
  return new ConcreteArray([], d, s);
}

/** Arrays pass through; JS numbers become 0-d arrays of `dtype` (float32 by default). */
export function asArray(x: ArrayLikeValue, dtype?: DType): NdArray {
  if (x instanceof NdArray) return x;
  if (typeof x === "number" || typeof x === "boolean") return scalar(x, dtype);
  throw new TypeError(`expected an array or a number, got ${describe(x)}`);
}

function describe(x: unknown): string {
  if (Array.isArray(x)) return "a JS array (wrap it with np.array)";
  return describeValue(x);
}

function checkFillValue(op: string, value: unknown): void {
  if (typeof value !== "number" && typeof value !== "boolean")
    throw new TypeError(
      `${op}: expected a JS number or boolean, got ${value instanceof NdArray ? `an array of shape ${fmtShape(value.shape)} (use it as is, or .item() for its value)` : describe(value)}`,
    );
}

function filled(op: string, shape: ShapeLike, value: number | boolean, dtype: DType | undefined): NdArray {
  checkFillValue(op, value);
  checkDType(op, dtype);
  const d = dtype ?? defaultDTypeOf(value);
  const s = scalar(value, d);
  return broadcastInDimPrim.bind1([s], { shape: toShape(op, shape, d), broadcastDimensions: [] });
}

/** An array of `shape` (a list of sizes, or one size) filled with `value`. */
export function full(shape: ShapeLike, value: number | boolean, options: { dtype?: DType } = {}): NdArray {
  checkOptions("full", options, ["dtype"]);
  return filled("full", shape, value, options.dtype);
}

/** An array of `shape` (a list of sizes, or one size) filled with zeros (float32 unless `dtype` says otherwise). */
export function zeros(shape: ShapeLike, options: { dtype?: DType } = {}): NdArray {
  checkOptions("zeros", options, ["dtype"]);
  return filled("zeros", shape, 0, options.dtype ?? "float32");
}

/** An array of `shape` (a list of sizes, or one size) filled with ones (float32 unless `dtype` says otherwise). */
export function ones(shape: ShapeLike, options: { dtype?: DType } = {}): NdArray {
  checkOptions("ones", options, ["dtype"]);
  return filled("ones", shape, 1, options.dtype ?? "float32");
}

/** Zeros of the shape of `x`, and its dtype unless `dtype` says otherwise. */
export function zerosLike(x: NdArray, options: { dtype?: DType } = {}): NdArray {
  checkOptions("zerosLike", options, ["dtype"]);
  return full(x.shape, 0, { dtype: options.dtype ?? x.dtype });
}

/** Ones of the shape of `x`, and its dtype unless `dtype` says otherwise. */
export function onesLike(x: NdArray, options: { dtype?: DType } = {}): NdArray {
  checkOptions("onesLike", options, ["dtype"]);
  return full(x.shape, 1, { dtype: options.dtype ?? x.dtype });
}

/** `value` in the shape of `x`, and its dtype unless `dtype` says otherwise. */
export function fullLike(x: NdArray, value: number | boolean, options: { dtype?: DType } = {}): NdArray {
  checkOptions("fullLike", options, ["dtype"]);
  return filled("fullLike", x.shape, value, options.dtype ?? x.dtype);
}

/**
 * Evenly spaced values in [start, stop): `arange(n)`, `arange(start, stop, step?)`. Integer arguments give
 * int32 (as numpy), others float32.
 */
export function arange(start: number, stop?: number, step = 1, options: { dtype?: DType } = {}): NdArray {
  checkOptions("arange", options, ["dtype"]);
  checkDType("arange", options.dtype);
  const [lo, hi] = stop === undefined ? [0, start] : [start, stop];
  for (const [name, v] of [
    stop === undefined ? ["stop", start] : ["start", start],
    ["stop", stop],
    ["step", step],
  ] as const) {
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v)))
      throw new RangeError(`arange: ${name} must be a finite number, got ${describe(v)}`);
  }
  if (step === 0) throw new RangeError("arange: step must be non-zero, got 0");
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const dtype = options.dtype ?? ([lo, hi, step].every(Number.isInteger) ? "int32" : "float32");
  checkShape("arange", [n], dtype);
  const s = storageFor(dtype, n);
  for (let i = 0; i < n; i++) s[i] = castScalar(lo + i * step, dtype);
  return new ConcreteArray([n], dtype, s);
}

/** `num` evenly spaced values from start to stop (inclusive unless `endpoint: false`). */
export function linspace(
  start: number,
  stop: number,
  num = 50,
  options: { endpoint?: boolean; dtype?: DType } = {},
): NdArray {
  checkOptions("linspace", options, ["endpoint", "dtype"]);
  checkDType("linspace", options.dtype);
  if (!Number.isSafeInteger(num) || num < 0)
    throw new RangeError(`linspace: num must be a non-negative integer, got ${describe(num)}`);
  const endpoint = options.endpoint ?? true;
  const dtype = options.dtype ?? "float32";
  checkShape("linspace", [num], dtype);
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const s = storageFor(dtype, num);
  for (let i = 0; i < num; i++)
    s[i] = castScalar(i === num - 1 && endpoint && num > 1 ? stop : start + i * step, dtype);
  return new ConcreteArray([num], dtype, s);
}

/** An `n` x `m` matrix with ones on diagonal `k`. */
export function eye(n: number, m = n, options: { k?: number; dtype?: DType } = {}): NdArray {
  checkOptions("eye", options, ["k", "dtype"]);
  checkDType("eye", options.dtype);
  const dtype = options.dtype ?? "float32";
  checkShape("eye", [n, m], dtype);
  const k = options.k ?? 0;
  if (!Number.isSafeInteger(k)) throw new RangeError(`eye: k must be an integer, got ${describe(k)}`);
  const s = storageFor(dtype, n * m);
  for (let i = 0; i < n; i++) {
    const j = i + k;
    if (j >= 0 && j < m) s[i * m + j] = 1;
  }
  return new ConcreteArray([n, m], dtype, s);
}
