/**
 * numpy's shape and construction functions (issue 18): roll, tril/triu/tri, diag/diagonal/trace, meshgrid,
 * indices, swapaxes, ravel, the stacks (vstack, hstack, dstack, columnStack), atleast1d/2d/3d, kron,
 * logspace and geomspace. Each is a composition of existing primitives (slice, pad, concatenate, reshape,
 * transpose, broadcast, select), so every transform (grad, vmap, jit) applies without rules of its own.
 * Arguments, defaults and results follow numpy 1.24; deliberate differences are listed in
 * docs/guides/numpy-differences.md.
 */

import { ConcreteArray, NdArray } from "../core/array.js";
import { type DType, storageFor } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import { checkShape, describeValue, fmtShape, normalizeAxis, ShapeError } from "../core/shape.js";
import { astype, mul, where } from "./binary.js";
import { arange, full, linspace } from "./creation.js";
import { broadcastTo, reshape, transpose } from "./layout.js";
import { sum } from "./reduce.js";
import { concatenate, pad, type SliceSpec, slice, stack } from "./shape.js";

const fmtShapes = (xs: readonly NdArray[]): string => xs.map((x) => fmtShape(x.shape)).join(", ");

function checkInteger(op: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new RangeError(`${op}: ${name} must be an integer, got ${describeValue(v)}`);
  return v;
}

function checkArrays(op: string, xs: unknown): readonly NdArray[] {
  if (!Array.isArray(xs) || xs.some((x) => !(x instanceof NdArray)))
    throw new TypeError(`${op}: expected a list of arrays, got ${describeValue(xs)}`);
  if (xs.length === 0) throw new ShapeError(`${op}: expected at least one array`);
  return xs as readonly NdArray[];
}

/** `x[start:stop]` along `axis`. */
const along = (x: NdArray, axis: number, spec: SliceSpec): NdArray =>
  slice(x, [...Array.from({ length: axis }, () => ({})), spec]);

/** A zero of `x`'s dtype, as a 0-d array (so `where` keeps the dtype, bool included). */
const zeroOf = (x: NdArray): NdArray => full([], 0, { dtype: x.dtype });

// ---------------------------------------------------------------------------------------------------
// roll, swapaxes, ravel

/** Options of `roll`. */
export interface RollOptions {
  /** The axis or axes to roll along (default null: the flattened array, reshaped back). */
  axis?: number | readonly number[] | null;
}

/**
 * numpy roll: elements shifted by `shift` along `axis`, those past the end coming back at the start.
 * `shift` and `axis` may be lists (broadcast against each other; shifts of a repeated axis add up); without
 * an axis the array is rolled flattened and reshaped back.
 */
export function roll(x: NdArray, shift: number | readonly number[], options: RollOptions = {}): NdArray {
  checkOptions("roll", options, ["axis"]);
  const axis = options.axis ?? null;
  if (axis === null) {
    if (typeof shift !== "number")
      throw new ShapeError(
        `roll: a list of shifts needs a list of axes, got shift ${JSON.stringify(shift)} and no axis`,
      );
    return reshape(roll(reshape(x, [x.size]), shift, { axis: 0 }), x.shape);
  }
  const shifts = typeof shift === "number" ? [shift] : [...shift];
  const axes = typeof axis === "number" ? [axis] : [...axis];
  shifts.forEach((s, i) => checkInteger("roll", `shift[${i}]`, s));
  const n = Math.max(shifts.length, axes.length);
  if ((shifts.length !== n && shifts.length !== 1) || (axes.length !== n && axes.length !== 1))
    throw new ShapeError(
      `roll: shift ${JSON.stringify(shift)} and axis ${JSON.stringify(axis)} do not broadcast against each other`,
    );
  const total = new Array<number>(x.ndim).fill(0);
  for (let i = 0; i < n; i++) {
    const a = normalizeAxis("roll", axes[axes.length === 1 ? 0 : i]!, x.ndim);
    total[a] = total[a]! + shifts[shifts.length === 1 ? 0 : i]!;
  }
  let y = x;
  total.forEach((s, a) => {
    const size = x.shape[a]!;
    if (size === 0) return;
    const r = ((s % size) + size) % size;
    if (r === 0) return;
    y = concatenate([along(y, a, { start: size - r }), along(y, a, { stop: size - r })], { axis: a });
  });
  return y;
}

/** numpy swapaxes: `x` with axes `axis1` and `axis2` interchanged. */
export function swapaxes(x: NdArray, axis1: number, axis2: number): NdArray {
  const a = normalizeAxis("swapaxes", axis1, x.ndim);
  const b = normalizeAxis("swapaxes", axis2, x.ndim);
  const perm = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return transpose(x, perm);
}

/** numpy ravel: the elements of `x` as a 1-d array, in row-major order. */
export function ravel(x: NdArray): NdArray {
  return reshape(x, [x.size]);
}

// ---------------------------------------------------------------------------------------------------
// tri, tril, triu

/** Options of `tri`. */
export interface TriOptions {
  /** The diagonal at and below which the ones are (0 the main one, > 0 above it, < 0 below; default 0). */
  k?: number;
  /** The dtype (default float32, the library's default float; numpy's is float64). */
  dtype?: DType;
}

function triMask(op: string, n: number, m: number, k: number): NdArray {
  checkShape(op, [n, m]);
  const s = storageFor("bool", n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) s[i * m + j] = j <= i + k ? 1 : 0;
  return new ConcreteArray([n, m], "bool", s);
}

function eyeMask(n: number): NdArray {
  const s = storageFor("bool", n * n);
  for (let i = 0; i < n; i++) s[i * n + i] = 1;
  return new ConcreteArray([n, n], "bool", s);
}

/** numpy tri: an `n` x `m` array (m defaults to n) with ones at and below diagonal `k`, zeros elsewhere. */
export function tri(n: number, m?: number | null, options: TriOptions = {}): NdArray {
  checkOptions("tri", options, ["k", "dtype"]);
  checkInteger("tri", "n", n);
  const cols = m === undefined || m === null ? n : checkInteger("tri", "m", m);
  const k = checkInteger("tri", "k", options.k ?? 0);
  return astype(triMask("tri", n, cols, k), options.dtype ?? "float32");
}

function triangle(op: "tril" | "triu", x: NdArray, options: { k?: number }): NdArray {
  checkOptions(op, options, ["k"]);
  const k = checkInteger(op, "k", options.k ?? 0);
  if (x.ndim === 0)
    throw new ShapeError(`${op}: expected an array of rank 1 or more, got shape ${fmtShape(x.shape)}`);
  // As numpy: the mask is tri(*x.shape[-2:]), so a 1-d x of size n broadcasts to n x n.
  const n = x.shape[x.ndim - (x.ndim >= 2 ? 2 : 1)]!;
  const m = x.shape[x.ndim - 1]!;
  const lower = triMask(op, n, m, op === "tril" ? k : k - 1);
  return op === "tril" ? where(lower, x, zeroOf(x)) : where(lower, zeroOf(x), x);
}

/** numpy tril: `x` with the elements above diagonal `k` of its last two axes zeroed (a 1-d `x` is broadcast to a square first). */
export function tril(x: NdArray, options: { k?: number } = {}): NdArray {
  return triangle("tril", x, options);
}

/** numpy triu: `x` with the elements below diagonal `k` of its last two axes zeroed (a 1-d `x` is broadcast to a square first). */
export function triu(x: NdArray, options: { k?: number } = {}): NdArray {
  return triangle("triu", x, options);
}

// ---------------------------------------------------------------------------------------------------
// diagonal, trace, diag

/** Options of `diagonal` and `trace`, as numpy's. */
export interface DiagonalOptions {
  /** Which diagonal: 0 the main one, > 0 above it, < 0 below (default 0). */
  offset?: number;
  /** The axis of the rows (default 0). */
  axis1?: number;
  /** The axis of the columns (default 1). */
  axis2?: number;
}

/**
 * numpy diagonal: the diagonal `offset` of the 2-d sub-arrays spanned by `axis1` and `axis2`; those two
 * axes are removed and the diagonal becomes the last axis.
 */
export function diagonal(x: NdArray, options: DiagonalOptions = {}): NdArray {
  return diagonalOf("diagonal", x, options);
}

function diagonalOf(op: string, x: NdArray, options: DiagonalOptions): NdArray {
  checkOptions(op, options, ["offset", "axis1", "axis2"]);
  const offset = checkInteger(op, "offset", options.offset ?? 0);
  if (x.ndim < 2)
    throw new ShapeError(`${op}: expected an array of rank 2 or more, got shape ${fmtShape(x.shape)}`);
  const a1 = normalizeAxis(op, options.axis1 ?? 0, x.ndim);
  const a2 = normalizeAxis(op, options.axis2 ?? 1, x.ndim);
  if (a1 === a2)
    throw new ShapeError(`${op}: axis1 and axis2 cannot be the same axis (${a1}) of ${fmtShape(x.shape)}`);
  const rest = x.shape.map((_, i) => i).filter((i) => i !== a1 && i !== a2);
  let y = transpose(x, [...rest, a1, a2]);
  const r = y.ndim;
  const rows = y.shape[r - 2]!;
  const cols = y.shape[r - 1]!;
  // Cut the square whose main diagonal is the wanted one, then read every (d+1)-th of its elements.
  const d = Math.max(0, offset >= 0 ? Math.min(rows, cols - offset) : Math.min(rows + offset, cols));
  const r0 = offset >= 0 ? 0 : Math.min(-offset, rows);
  const c0 = offset >= 0 ? Math.min(offset, cols) : 0;
  const lead = y.shape.slice(0, r - 2);
  y = slice(y, [...lead.map(() => ({})), { start: r0, stop: r0 + d }, { start: c0, stop: c0 + d }]);
  y = reshape(y, [...lead, d * d]);
  return slice(y, [...lead.map(() => ({})), { step: d + 1 }]);
}

/**
 * numpy trace: the sum along diagonal `offset` of the 2-d sub-arrays spanned by `axis1` and `axis2`;
 * int32 and bool input sum in int32, as `sum` (numpy: int64).
 */
export function trace(x: NdArray, options: DiagonalOptions = {}): NdArray {
  return sum(diagonalOf("trace", x, options), { axis: -1 });
}

/**
 * numpy diag: of a 1-d `v`, the square matrix with `v` on diagonal `k`; of a 2-d `v`, its diagonal `k`.
 */
export function diag(v: NdArray, options: { k?: number } = {}): NdArray {
  checkOptions("diag", options, ["k"]);
  const k = checkInteger("diag", "k", options.k ?? 0);
  if (v.ndim === 2) return diagonalOf("diag", v, { offset: k });
  if (v.ndim !== 1) throw new ShapeError(`diag: expected a 1-d or 2-d array, got shape ${fmtShape(v.shape)}`);
  const n = v.size;
  const square = where(eyeMask(n), reshape(v, [1, n]), zeroOf(v));
  // The diagonal of `square` is v; pad to move it to diagonal k.
  const s = Math.abs(k);
  return pad(
    square,
    k >= 0
      ? [
          [0, s],
          [s, 0],
        ]
      : [
          [s, 0],
          [0, s],
        ],
  );
}

// ---------------------------------------------------------------------------------------------------
// meshgrid, indices

/** Options of `meshgrid`, as numpy's. */
export interface MeshgridOptions {
  /** "xy" (Cartesian, the default: the first two output axes swapped) or "ij" (matrix indexing). */
  indexing?: "xy" | "ij";
  /** Give each output size 1 on every axis but its own, instead of broadcast to the full grid (default false). */
  sparse?: boolean;
}

/**
 * numpy meshgrid: coordinate arrays for a grid from 1-d coordinate vectors (inputs of other shapes are
 * flattened). `meshgrid(x, y)` or `meshgrid(x, y, { indexing: "ij" })`.
 */
export function meshgrid(...args: readonly (NdArray | MeshgridOptions)[]): NdArray[] {
  const last = args[args.length - 1];
  const options = last !== undefined && !(last instanceof NdArray) ? last : {};
  const xs = (options === last ? args.slice(0, -1) : args) as readonly NdArray[];
  checkOptions("meshgrid", options, ["indexing", "sparse"]);
  const indexing = options.indexing ?? "xy";
  if (indexing !== "xy" && indexing !== "ij")
    throw new RangeError(`meshgrid: option indexing must be "xy" or "ij", got ${describeValue(indexing)}`);
  if (xs.some((x) => !(x instanceof NdArray)))
    throw new TypeError("meshgrid: expected arrays, then an optional options object last");
  const n = xs.length;
  const sizes = xs.map((x) => x.size);
  // The output axis of input i: "xy" swaps the first two.
  const axisOf = (i: number): number => (indexing === "xy" && n >= 2 && i < 2 ? 1 - i : i);
  const shape = new Array<number>(n).fill(0);
  sizes.forEach((s, i) => {
    shape[axisOf(i)] = s;
  });
  return xs.map((x, i) => {
    const own = shape.map((s, a) => (a === axisOf(i) ? s : 1));
    const y = reshape(x, own);
    return options.sparse ? y : broadcastTo(y, shape);
  });
}

/** Options of `indices`. */
export interface IndicesOptions {
  /** The dtype (default int32, numpy's int64 as the library's index type). */
  dtype?: DType;
  /** Return one array per axis, each of size 1 on the other axes (default false: one stacked array). */
  sparse?: boolean;
}

/**
 * numpy indices: an array of shape `[dimensions.length, ...dimensions]` whose slice `i` holds each
 * position's index along axis `i`; with `sparse: true`, the list of those index arrays unbroadcast.
 */
export function indices(dimensions: readonly number[], options: IndicesOptions & { sparse: true }): NdArray[];
export function indices(
  dimensions: readonly number[],
  options?: IndicesOptions & { sparse?: false },
): NdArray;
export function indices(dimensions: readonly number[], options: IndicesOptions = {}): NdArray | NdArray[] {
  checkOptions("indices", options, ["dtype", "sparse"]);
  checkShape("indices", dimensions);
  const dtype = options.dtype ?? "int32";
  const parts = dimensions.map((d, i) =>
    astype(
      reshape(
        arange(d),
        dimensions.map((e, j) => (j === i ? e : 1)),
      ),
      dtype,
    ),
  );
  if (options.sparse) return parts;
  if (parts.length === 0) return full([0], 0, { dtype });
  return stack(parts.map((p) => broadcastTo(p, dimensions)));
}

// ---------------------------------------------------------------------------------------------------
// atleast1d/2d/3d and the stacks

function atleast(x: NdArray, rank: 1 | 2 | 3): NdArray {
  if (x.ndim >= rank) return x;
  if (x.ndim === 0) return reshape(x, new Array<number>(rank).fill(1));
  if (x.ndim === 1) return reshape(x, rank === 2 ? [1, x.size] : [1, x.size, 1]);
  return reshape(x, [...x.shape, 1]); // 2-d to 3-d
}

/** numpy atleast_1d: a 0-d array as shape [1], others as they are; given several arrays, a list. */
export function atleast1d(x: NdArray): NdArray;
export function atleast1d(...xs: NdArray[]): NdArray[];
export function atleast1d(...xs: NdArray[]): NdArray | NdArray[] {
  const ys = xs.map((x) => atleast(x, 1));
  return ys.length === 1 ? ys[0]! : ys;
}

/** numpy atleast_2d: 0-d as [1, 1], 1-d of size n as [1, n], others as they are; given several arrays, a list. */
export function atleast2d(x: NdArray): NdArray;
export function atleast2d(...xs: NdArray[]): NdArray[];
export function atleast2d(...xs: NdArray[]): NdArray | NdArray[] {
  const ys = xs.map((x) => atleast(x, 2));
  return ys.length === 1 ? ys[0]! : ys;
}

/**
 * numpy atleast_3d: 0-d as [1, 1, 1], 1-d of size n as [1, n, 1], 2-d [m, n] as [m, n, 1], others as they
 * are; given several arrays, a list.
 */
export function atleast3d(x: NdArray): NdArray;
export function atleast3d(...xs: NdArray[]): NdArray[];
export function atleast3d(...xs: NdArray[]): NdArray | NdArray[] {
  const ys = xs.map((x) => atleast(x, 3));
  return ys.length === 1 ? ys[0]! : ys;
}

function stackAlong(op: string, xs: readonly NdArray[], axis: number): NdArray {
  try {
    return concatenate(xs, { axis });
  } catch (e) {
    if (e instanceof ShapeError)
      throw new ShapeError(`${op}: cannot join arrays of shapes ${fmtShapes(xs)} along axis ${axis}`);
    throw e;
  }
}

/** numpy vstack: arrays joined along the first axis, 0-d and 1-d ones first made rows (`atleast2d`). */
export function vstack(xs: readonly NdArray[]): NdArray {
  return stackAlong(
    "vstack",
    checkArrays("vstack", xs).map((x) => atleast(x, 2)),
    0,
  );
}

/** numpy hstack: 1-d (and 0-d) arrays joined end to end, others along the second axis. */
export function hstack(xs: readonly NdArray[]): NdArray {
  const ys = checkArrays("hstack", xs).map((x) => atleast(x, 1));
  return stackAlong("hstack", ys, ys[0]!.ndim === 1 ? 0 : 1);
}

/** numpy dstack: arrays joined along the third axis, each first made at least 3-d (`atleast3d`). */
export function dstack(xs: readonly NdArray[]): NdArray {
  return stackAlong(
    "dstack",
    checkArrays("dstack", xs).map((x) => atleast(x, 3)),
    2,
  );
}

/** numpy column_stack: 1-d (and 0-d) arrays as columns, 2-d ones as they are, joined along the second axis. */
export function columnStack(xs: readonly NdArray[]): NdArray {
  const ys = checkArrays("columnStack", xs).map((x) => (x.ndim < 2 ? reshape(x, [x.size, 1]) : x));
  return stackAlong("columnStack", ys, 1);
}

// ---------------------------------------------------------------------------------------------------
// kron

/**
 * numpy kron: the Kronecker product, the blocks `a[i] * b` laid out in the shape of `a` (shapes aligned
 * at the end, the shorter one padded with 1s). With a 0-d operand, the product. Operands of different
 * dtypes promote by the library's table (int32 with float32 is float32; numpy: float64).
 */
export function kron(a: NdArray, b: NdArray): NdArray {
  if (a.ndim === 0 || b.ndim === 0) return mul(a, b);
  const r = Math.max(a.ndim, b.ndim);
  const as = [...new Array<number>(r - a.ndim).fill(1), ...a.shape];
  const bs = [...new Array<number>(r - b.ndim).fill(1), ...b.shape];
  const product = mul(
    reshape(
      a,
      as.flatMap((d) => [d, 1]),
    ),
    reshape(
      b,
      bs.flatMap((d) => [1, d]),
    ),
  );
  return reshape(
    product,
    as.map((d, i) => d * bs[i]!),
  );
}

// ---------------------------------------------------------------------------------------------------
// logspace, geomspace

/** Options of `logspace`, as numpy's. */
export interface LogspaceOptions {
  /** Include `base ** stop` as the last value (default true). */
  endpoint?: boolean;
  /** The base of the powers (default 10). */
  base?: number;
  /** The dtype (default float32, the library's default float; numpy's is float64). */
  dtype?: DType;
}

/** numpy logspace: `base ** linspace(start, stop, num)`, computed in float64 and rounded to `dtype`. */
export function logspace(start: number, stop: number, num = 50, options: LogspaceOptions = {}): NdArray {
  checkOptions("logspace", options, ["endpoint", "base", "dtype"]);
  const base = options.base ?? 10;
  if (typeof base !== "number")
    throw new TypeError(`logspace: base must be a number, got ${describeValue(base)}`);
  const exponents = linspace(start, stop, num, { endpoint: options.endpoint ?? true, dtype: "float64" });
  return fromValues(
    "logspace",
    Array.from(exponents.toTypedArray(), (e) => base ** e),
    options.dtype,
  );
}

/** Options of `geomspace`, as numpy's. */
export interface GeomspaceOptions {
  /** Include `stop` as the last value (default true). */
  endpoint?: boolean;
  /** The dtype (default float32, the library's default float; numpy's is float64). */
  dtype?: DType;
}

/**
 * numpy geomspace: `num` values from `start` to `stop` in a geometric progression; the first (and with
 * `endpoint`, the last) are exactly `start` and `stop`. Both negative gives the negated progression of
 * their magnitudes; zero, or a sign change (numpy: NaN inside), is a RangeError.
 */
export function geomspace(start: number, stop: number, num = 50, options: GeomspaceOptions = {}): NdArray {
  checkOptions("geomspace", options, ["endpoint", "dtype"]);
  if (typeof start !== "number" || typeof stop !== "number")
    throw new TypeError(
      `geomspace: start and stop must be numbers, got ${describeValue(start)} and ${describeValue(stop)}`,
    );
  if (start === 0 || stop === 0)
    throw new RangeError(
      `geomspace: a geometric sequence cannot include zero (start ${start}, stop ${stop})`,
    );
  if (Math.sign(start) !== Math.sign(stop))
    throw new RangeError(
      `geomspace: start ${start} and stop ${stop} differ in sign; no real geometric sequence joins them`,
    );
  const sign = start < 0 ? -1 : 1;
  const lo = Math.abs(start);
  const hi = Math.abs(stop);
  const endpoint = options.endpoint ?? true;
  const values = Array.from(
    logspace(Math.log10(lo), Math.log10(hi), num, { endpoint, dtype: "float64" }).toTypedArray(),
  );
  if (values.length > 0) values[0] = lo;
  if (values.length > 1 && endpoint) values[values.length - 1] = hi;
  return fromValues(
    "geomspace",
    values.map((v) => sign * v),
    options.dtype,
  );
}

function fromValues(op: string, values: readonly number[], dtype: DType | undefined): NdArray {
  const d = dtype ?? "float32";
  checkShape(op, [values.length], d);
  const s = storageFor("float64", values.length);
  values.forEach((v, i) => {
    s[i] = v;
  });
  return astype(new ConcreteArray([values.length], "float64", s), d);
}
