/**
 * Vector and matrix norms and condition numbers with numpy's semantics (`numpy.linalg.norm`,
 * `numpy.linalg.cond`), composed from reductions and, for the spectral and nuclear norms, the singular
 * values of `svd` (ops/linalg-svd.ts) and `inv` (ops/linalg-functions.ts). Everything is differentiable
 * by composition.
 *
 * The gradient of the 2-norm (and of the Frobenius norm) at x = 0 is NaN, as in JAX, whose norm is the same
 * `sqrt(sum(x * x))` (d sqrt at 0 is infinite, times a zero tangent); PyTorch defines it as 0 there.
 */

import type { NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { checkOptions, optionKeys } from "../core/options.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import { astype, divide, logicalAnd, multiply, notEqual, power, where } from "./binary.js";
import { moveaxis, reshape } from "./layout.js";
import { inv } from "./linalg-functions.js";
import { floatMatrices, svdvals } from "./linalg-svd.js";
import { any, max, min, sum } from "./reduce.js";
import { abs, isnan, logicalNot, sqrt } from "./unary.js";

/**
 * The order of a norm, as numpy's `ord`: a number (vectors: any p, with 0 counting the nonzero elements
 * and ±Infinity the largest/smallest |x|; matrices: 1, -1, 2, -2, ±Infinity), `"fro"` or `"nuc"`
 * (matrices), or null / undefined for the default (2-norm of vectors, Frobenius norm of matrices).
 */
export type NormOrder = number | "fro" | "nuc" | null;

/** Options of `np.linalg.norm`. */
export interface NormOptions {
  /**
   * An axis (a vector norm along it), a pair of axes (a matrix norm over them), or null (default): the
   * whole array, as a vector if it is 1-D and a matrix if it is 2-D (with `ord` null, any rank, flattened).
   */
  axis?: number | readonly [number, number] | null;
  /** Keep the normed axes as size 1 (default false). */
  keepdims?: boolean;
}

const NORM_KEYS = optionKeys<NormOptions>({ axis: true, keepdims: true });

function normalizeAxis(op: string, axis: number, ndim: number, shape: readonly number[]): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    throw new ShapeError(
      `${op}: axis ${axis} is out of bounds for an array of shape ${fmtShape(shape)} (expected an integer in [${-ndim}, ${ndim}))`,
    );
  }
  return axis < 0 ? axis + ndim : axis;
}

const floatOf = (x: NdArray): NdArray => (isFloat(x.dtype) ? x : astype(x, "float32"));

/**
 * The norm of a vector or matrix, or of many along the given axes (`numpy.linalg.norm(x, ord, axis,
 * keepdims)`):
 *
 * | ord | vector (one axis) | matrix (two axes) |
 * | --- | --- | --- |
 * | null / undefined | 2-norm | Frobenius norm |
 * | `"fro"` | error | Frobenius norm |
 * | `"nuc"` | error | nuclear norm (sum of singular values) |
 * | Infinity | max(abs(x)) | max row sum of abs |
 * | -Infinity | min(abs(x)) | min row sum of abs |
 * | 0 | number of nonzero elements | error |
 * | 1 | sum(abs(x)) | max column sum of abs |
 * | -1 | sum(abs(x)^-1)^-1 | min column sum of abs |
 * | 2 | 2-norm | largest singular value |
 * | -2 | sum(abs(x)^-2)^(-1/2) | smallest singular value |
 * | other p | sum(abs(x)^p)^(1/p) | error |
 *
 * With `axis` null the array is one vector (1-D) or one matrix (2-D); with `ord` null too, any rank is
 * flattened to one vector. An invalid `ord` is a RangeError, a wrong number of axes a ShapeError. Integer
 * input computes in float32 (numpy: float64). The gradient of the 2- and Frobenius norms at 0 is NaN, as
 * JAX's (PyTorch's is 0).
 */
export function norm(x: NdArray, ord: NormOrder = null, options: NormOptions = {}): NdArray {
  checkOptions("norm", options, NORM_KEYS);
  const keepdims = options.keepdims ?? false;
  if (typeof keepdims !== "boolean")
    throw new TypeError(`norm: option keepdims must be a boolean, got ${keepdims}`);
  checkOrd(ord);
  const xf = floatOf(x);
  const nd = xf.ndim;
  let axes: number[];
  if (options.axis === undefined || options.axis === null) {
    if (ord === null || (ord === "fro" && nd === 2) || (ord === 2 && nd === 1)) {
      const all = xf.shape.map((_, i) => i);
      return sqrt(sum(multiply(xf, xf), { axis: all, keepdims }));
    }
    axes = xf.shape.map((_, i) => i);
  } else if (typeof options.axis === "number") {
    axes = [normalizeAxis("norm", options.axis, nd, xf.shape)];
  } else if (Array.isArray(options.axis) && options.axis.length === 2) {
    axes = options.axis.map((a) => normalizeAxis("norm", a, nd, xf.shape));
    if (axes[0] === axes[1]) throw new ShapeError(`norm: duplicate axes (${options.axis.join(", ")}) given`);
  } else {
    throw new ShapeError(
      `norm: axis must be an integer, a pair of integers or null, got ${JSON.stringify(options.axis)}`,
    );
  }
  if (axes.length === 1) return vectorNorm(xf, ord, axes[0]!, keepdims);
  if (axes.length === 2) return matrixNorm(xf, ord, axes[0]!, axes[1]!, keepdims);
  throw new ShapeError(
    `norm: with ord ${String(ord)} and no axis, expected a 1-D or 2-D array (a vector or a matrix), got shape ${fmtShape(x.shape)}`,
  );
}

function checkOrd(ord: unknown): void {
  if (ord === null || ord === "fro" || ord === "nuc") return;
  if (typeof ord === "number" && !Number.isNaN(ord)) return;
  throw new RangeError(`norm: ord must be a number, "fro", "nuc" or null, got ${JSON.stringify(ord)}`);
}

function vectorNorm(x: NdArray, ord: NormOrder, axis: number, keepdims: boolean): NdArray {
  const r = { axis, keepdims };
  if (typeof ord === "string") throw new RangeError(`norm: invalid norm order "${ord}" for vectors`);
  if (ord === null || ord === 2) return sqrt(sum(multiply(x, x), r));
  if (ord === Number.POSITIVE_INFINITY) return max(abs(x), r);
  if (ord === Number.NEGATIVE_INFINITY) return min(abs(x), r);
  if (ord === 0) return sum(astype(notEqual(x, 0), x.dtype), r);
  if (ord === 1) return sum(abs(x), r);
  return power(sum(power(abs(x), ord), r), 1 / ord);
}

function matrixNorm(x: NdArray, ord: NormOrder, row: number, col: number, keepdims: boolean): NdArray {
  let out: NdArray;
  if (ord === 2 || ord === -2 || ord === "nuc") {
    // The row axis, then the column axis, moved last: a stack of matrices.
    const s = svdvals(moveaxis(moveaxis(x, row, -1), col > row ? col - 1 : col, -1));
    out = ord === 2 ? max(s, { axis: -1 }) : ord === -2 ? min(s, { axis: -1 }) : sum(s, { axis: -1 });
  } else if (ord === 1 || ord === -1) {
    const colSums = sum(abs(x), { axis: row });
    out = (ord === 1 ? max : min)(colSums, { axis: col > row ? col - 1 : col });
  } else if (ord === Number.POSITIVE_INFINITY || ord === Number.NEGATIVE_INFINITY) {
    const rowSums = sum(abs(x), { axis: col });
    out = (ord > 0 ? max : min)(rowSums, { axis: row > col ? row - 1 : row });
  } else if (ord === null || ord === "fro") {
    out = sqrt(sum(multiply(x, x), { axis: [row, col] }));
  } else {
    throw new RangeError(
      `norm: invalid norm order ${JSON.stringify(ord)} for matrices (expected 1, -1, 2, -2, Infinity, -Infinity, "fro", "nuc" or null)`,
    );
  }
  if (!keepdims) return out;
  return reshape(
    out,
    x.shape.map((d, i) => (i === row || i === col ? 1 : d)),
  );
}

/**
 * The condition number of a matrix or of each of a stack [..., m, n] in the norm `p`
 * (`numpy.linalg.cond`): for p null (default), 2 or -2 the ratio of the largest to the smallest singular
 * value (-2: its reciprocal), for any m x n; for "fro", "nuc", 1, -1, Infinity, -Infinity,
 * norm(a, p) * norm(inv(a), p) of a square a. A singular matrix gives Infinity (numpy turns the NaN its
 * computation makes into Infinity unless the matrix holds a NaN). Empty matrices are an error, as in
 * numpy. Differentiable where the singular values involved are simple (p null/2/-2) or a is invertible.
 */
export function cond(x: NdArray, p: NormOrder = null): NdArray {
  checkOrd(p);
  const a = floatMatrices("cond", x);
  const m = a.shape[a.ndim - 2]!;
  const n = a.shape[a.ndim - 1]!;
  if (m === 0 || n === 0)
    throw new ShapeError(`cond: not defined on empty matrices, got shape ${fmtShape(a.shape)}`);
  let r: NdArray;
  if (p === null || p === 2 || p === -2) {
    const s = svdvals(a);
    const largest = s.index("...", 0);
    const smallest = s.index("...", -1);
    r = p === -2 ? divide(smallest, largest) : divide(largest, smallest);
  } else {
    if (m !== n) {
      throw new ShapeError(
        `cond: p = ${JSON.stringify(p)} needs square matrices (it inverts them), got shape ${fmtShape(a.shape)}; p null, 2 and -2 take any m x n`,
      );
    }
    const axis: [number, number] = [-2, -1];
    r = multiply(norm(a, p, { axis }), norm(inv(a), p, { axis }));
  }
  const nanInput = any(isnan(a), { axis: [-2, -1] });
  return where(logicalAnd(isnan(r), logicalNot(nanInput)), Number.POSITIVE_INFINITY, r);
}
