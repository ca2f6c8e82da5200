/**
 * numpy's `np.linalg` functions built on the LU factorization (`solve`, `inv`, `matrixPower`) and the
 * ones that need no factorization (`trace`, `diagonal`, `cross`, `multiDot`). Compositions of
 * primitives, so every transform applies; their derivatives come from the `lu` and `triangular_solve`
 * rules. `det` and `slogdet`, which have derivative rules of their own, are in linalg-det.ts.
 */

import type { NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import { broadcastShapes, fmtShape, normalizeAxis, ShapeError } from "../core/shape.js";
import { multiply, promoteOperands, subtract } from "./binary.js";
import { diagonal as diagonalAxes, trace as traceAxes } from "./construction.js";
import { eye } from "./creation.js";
import { broadcastTo, expandDims, moveaxis, reshape, squeeze } from "./layout.js";
import { matmul } from "./linalg.js";
import { floatOperands, inDtype, luPrim, matrixDims, solveWithLu } from "./linalg-lu.js";
import { slice, stack } from "./shape.js";

/** Checks a square operand [..., n, n]; returns n. */
function squareDims(op: string, a: NdArray, b?: NdArray): number {
  const [m, n] = matrixDims(op, a);
  if (m !== n)
    throw new ShapeError(
      `${op}: expected a square matrix or a batch of them [..., n, n], got ${fmtShape(a.shape)}${b ? ` (b ${fmtShape(b.shape)})` : ""}`,
    );
  return n;
}

/**
 * The solution x of a x = b (numpy's `linalg.solve`), by LU with partial pivoting. `a` is [..., n, n];
 * `b` is [n] (one vector, the result [..., n]) or [..., n, k] (the result [..., n, k]), their batch dims
 * broadcast (numpy 2 and JAX: a `b` of shape [..., n] with more than one axis is a matrix, not a batch of
 * vectors as numpy 1 took it; solve with `b[..., None]` for that). Integer operands become float32.
 *
 * A singular `a` gives infinities or NaNs, as JAX (numpy raises `LinAlgError`; a check of the values
 * cannot run under `jit`). Differentiable in both operands (through the LU factorization's derivative).
 */
export function solve(a: NdArray, b: NdArray): NdArray {
  const op = "solve";
  const [[x, y], dtype] = floatOperands(op, [a, b]);
  const n = squareDims(op, x!, y!);
  const vector = y!.ndim === 1;
  const rhs = vector ? expandDims(y!, -1) : y!;
  if (rhs.ndim < 2 || rhs.shape[rhs.ndim - 2] !== n) {
    const numpy1 =
      y!.ndim === x!.ndim - 1 && y!.shape[y!.ndim - 1] === n
        ? "; numpy 1 took a b of shape [..., n] as a batch of vectors: use b[..., None] and drop the last axis"
        : "";
    throw new ShapeError(
      `${op}: expected b of shape [${n}] or [..., ${n}, k] for a ${fmtShape(a.shape)}, got b ${fmtShape(b.shape)}${numpy1}`,
    );
  }
  const [lu, , permutation] = luPrim.bind([x!], {});
  const solution = solveWithLu(op, lu!, permutation!, rhs, 0);
  return inDtype(vector ? squeeze(solution, -1) : solution, dtype);
}

/**
 * The inverse of each matrix of `a` [..., n, n] (numpy's `linalg.inv`): `solve(a, I)`. Integer input
 * becomes float32. A singular matrix gives infinities or NaNs, as JAX (numpy raises `LinAlgError`).
 * Differentiable: d(a⁻¹) = -a⁻¹ da a⁻¹.
 */
export function inv(a: NdArray): NdArray {
  const [[x], dtype] = floatOperands("inv", [a]);
  const n = squareDims("inv", x!);
  return inDtype(solve(x!, broadcastTo(eye(n, n, { dtype: x!.dtype }), x!.shape)), dtype);
}

/**
 * `a` [..., n, n] to the integer power `n` (numpy's `linalg.matrix_power`): repeated squaring, in
 * numpy's order of products; n = 0 gives the identity (in a's dtype and shape), a negative n the power
 * of `inv(a)`. Integer matrices keep their dtype for n >= 0. Differentiable (float input).
 */
export function matrixPower(a: NdArray, n: number): NdArray {
  const op = "matrixPower";
  if (!Number.isInteger(n)) throw new TypeError(`${op}: the exponent must be an integer, got ${n}`);
  if (a.ndim < 2 || a.shape[a.ndim - 1] !== a.shape[a.ndim - 2])
    throw new ShapeError(
      `${op}: expected a square matrix or a batch of them [..., n, n], got ${a.dtype}${fmtShape(a.shape)}`,
    );
  const size = a.shape[a.ndim - 1]!;
  if (n === 0) return broadcastTo(eye(size, size, { dtype: a.dtype }), a.shape);
  const base = n < 0 ? inv(a) : a;
  let k = Math.abs(n);
  if (k === 1) return base;
  if (k === 2) return matmul(base, base);
  if (k === 3) return matmul(matmul(base, base), base);
  let z: NdArray | null = null;
  let result: NdArray | null = null;
  while (k > 0) {
    z = z === null ? base : matmul(z, z);
    const bit = k % 2;
    k = Math.floor(k / 2);
    if (bit) result = result === null ? z : matmul(result, z);
  }
  return result!;
}

/** Options of `linalg.trace` and `linalg.diagonal` (numpy 2's). */
export interface MatrixDiagonalOptions {
  /** Which diagonal: 0 the main one, > 0 above it, < 0 below (default 0). */
  offset?: number;
}

const DIAGONAL_KEYS = optionKeys<MatrixDiagonalOptions>({ offset: true });

/**
 * The diagonal `offset` of each matrix of `x` [..., m, n] (numpy 2's `linalg.diagonal`: always the
 * last two axes), of shape [..., d]. `np.diagonal` is the general form over any two axes.
 */
export function diagonal(x: NdArray, options: MatrixDiagonalOptions = {}): NdArray {
  checkOptions("linalg.diagonal", options, DIAGONAL_KEYS);
  return diagonalAxes(x, { offset: options.offset ?? 0, axis1: -2, axis2: -1 });
}

/**
 * The sum of the diagonal `offset` of each matrix of `x` [..., m, n] (numpy 2's `linalg.trace`: always
 * the last two axes), of shape x.shape[:-2]. `np.trace` is the general form over any two axes.
 */
export function trace(x: NdArray, options: MatrixDiagonalOptions = {}): NdArray {
  checkOptions("linalg.trace", options, DIAGONAL_KEYS);
  return traceAxes(x, { offset: options.offset ?? 0, axis1: -2, axis2: -1 });
}

/** Options of `linalg.cross`. */
export interface CrossOptions {
  /** The axis of the 3-vectors in both operands and in the result (default -1). */
  axis?: number;
}

const CROSS_KEYS = optionKeys<CrossOptions>({ axis: true });

/**
 * The cross product of 3-vectors along `axis` (default -1) of `x1` and `x2` (numpy 2's `linalg.cross`,
 * which takes 3-vectors only); the other axes broadcast and the result has the vectors along `axis` of
 * the broadcast shape. Dtypes promote as numpy's arithmetic.
 */
export function cross(x1: NdArray, x2: NdArray, options: CrossOptions = {}): NdArray {
  const op = "cross";
  checkOptions(op, options, CROSS_KEYS);
  const axis = options.axis ?? -1;
  const [p, q] = promoteOperands(op, [x1, x2]) as [NdArray, NdArray];
  if (p.ndim === 0 || q.ndim === 0)
    throw new ShapeError(
      `${op}: expected arrays of 3-vectors, got ${fmtShape(x1.shape)} and ${fmtShape(x2.shape)}`,
    );
  const a = moveaxis(p, normalizeAxis(op, axis, p.ndim), -1);
  const b = moveaxis(q, normalizeAxis(op, axis, q.ndim), -1);
  if (a.shape[a.ndim - 1] !== 3 || b.shape[b.ndim - 1] !== 3)
    throw new ShapeError(
      `${op}: both operands need 3 elements along axis ${axis} (linalg.cross takes 3-vectors only), got ${fmtShape(x1.shape)} and ${fmtShape(x2.shape)}`,
    );
  const lead = broadcastShapes(op, a.shape.slice(0, -1), b.shape.slice(0, -1));
  const [ab, bb] = [broadcastTo(a, [...lead, 3]), broadcastTo(b, [...lead, 3])];
  const c = (x: NdArray, i: number): NdArray =>
    squeeze(slice(x, [...lead.map(() => ({})), { start: i, stop: i + 1 }]), -1);
  const [a0, a1, a2] = [c(ab, 0), c(ab, 1), c(ab, 2)];
  const [b0, b1, b2] = [c(bb, 0), c(bb, 1), c(bb, 2)];
  const product = stack(
    [
      subtract(multiply(a1, b2), multiply(a2, b1)),
      subtract(multiply(a2, b0), multiply(a0, b2)),
      subtract(multiply(a0, b1), multiply(a1, b0)),
    ],
    { axis: -1 },
  );
  return moveaxis(product, -1, normalizeAxis(op, axis, product.ndim));
}

/**
 * The product of two or more matrices in the cheapest order (numpy's `linalg.multi_dot`: the matrix
 * chain order by numpy's dynamic program, and its cost rule for three). The first array may be 1-D
 * (a row vector) and the last 1-D (a column vector), with those axes dropped from the result as numpy
 * does; every other array must be 2-D.
 */
export function multiDot(arrays: readonly NdArray[]): NdArray {
  const op = "multiDot";
  const count = arrays.length;
  if (count < 2) throw new TypeError(`${op}: expected at least two arrays, got ${count}`);
  if (count === 2) return matmulChecked(op, arrays[0]!, arrays[1]!);
  const firstVector = arrays[0]!.ndim === 1;
  const lastVector = arrays[count - 1]!.ndim === 1;
  const ms = arrays.map((x, i) => {
    if (i === 0 && firstVector) return expandDims(x, 0);
    if (i === count - 1 && lastVector) return expandDims(x, -1);
    if (x.ndim !== 2)
      throw new ShapeError(
        `${op}: array ${i} has shape ${fmtShape(x.shape)}; expected 2-D arrays (the first and the last may be 1-D)`,
      );
    return x;
  });
  let result: NdArray;
  if (count === 3) {
    const [a, b, c] = ms as [NdArray, NdArray, NdArray];
    const [a0, a1b0] = a.shape as [number, number];
    const [b1c0, c1] = c.shape as [number, number];
    const cost1 = a0 * b1c0 * (a1b0 + c1);
    const cost2 = a1b0 * c1 * (a0 + b1c0);
    result =
      cost1 < cost2
        ? matmulChecked(op, matmulChecked(op, a, b), c)
        : matmulChecked(op, a, matmulChecked(op, b, c));
  } else {
    const order = chainOrder(ms.map((x) => x.shape as [number, number]));
    const product = (i: number, j: number): NdArray =>
      i === j ? ms[i]! : matmulChecked(op, product(i, order[i]![j]!), product(order[i]![j]! + 1, j));
    result = product(0, count - 1);
  }
  if (firstVector && lastVector) return reshape(result, []);
  if (firstVector || lastVector) return reshape(result, [result.size]);
  return result;
}

function matmulChecked(op: string, a: NdArray, b: NdArray): NdArray {
  if (a.shape[a.ndim - 1] !== b.shape[b.ndim === 1 ? 0 : b.ndim - 2])
    throw new ShapeError(`${op}: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} are not aligned`);
  return matmul(a, b);
}

/** numpy's `_multi_dot_matrix_chain_order`: s[i][j], where the cheapest product of i..j splits. */
function chainOrder(shapes: readonly (readonly [number, number])[]): number[][] {
  const n = shapes.length;
  const p = [...shapes.map((s) => s[0]), shapes[n - 1]![1]];
  const cost = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const split = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let l = 1; l < n; l++) {
    for (let i = 0; i < n - l; i++) {
      const j = i + l;
      cost[i]![j] = Number.POSITIVE_INFINITY;
      for (let k = i; k < j; k++) {
        const q = cost[i]![k]! + cost[k + 1]![j]! + p[i]! * p[k + 1]! * p[j + 1]!;
        if (q < cost[i]![j]!) {
          cost[i]![j] = q;
          split[i]![j] = k;
        }
      }
    }
  }
  return split;
}
