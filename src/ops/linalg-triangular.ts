/**
 * Triangular solves: the `triangular_solve` primitive (JAX's `lax.linalg.triangular_solve`, real
 * matrices) with every rule, and the user-facing `triangularSolve` (lax.linalg) and `solveTriangular`
 * (scipy.linalg). The kernel is backend/js/linalg-triangular.ts (blocked, GEMM trailing updates).
 *
 * The primitive solves op(A) X = B (`leftSide`) or X op(A) = B, op(A) = A or Aᵀ (`transposeA`), for A
 * [..., n, n] triangular (only its `lower` or upper triangle is read; with `unitDiagonal` its diagonal is
 * taken as ones and not read) and B [..., n, k] (left) or [..., k, n] (right) with the same batch dims.
 * A singular A (a zero on the diagonal) gives infinities and NaNs, as LAPACK's trsm: no error is raised.
 */

import { type TriangularSolveSpec, triangularSolveKernel } from "../backend/js/linalg-triangular.js";
import type { AbstractValue, NdArray } from "../core/array.js";
import { DTypeError } from "../core/dtype.js";
import { checkOptions, checkOptionValue, optionKeys } from "../core/options.js";
import { type Primitive, UndefinedPrimal } from "../core/primitive.js";
import { broadcastShapes, fmtShape, ShapeError, shapeEquals, sizeOf } from "../core/shape.js";
import { add, promoteOperands } from "./binary.js";
import { tril, triu } from "./construction.js";
import { loweredPrimitive } from "./eager.js";
import { alignBatched } from "./elementwise-kit.js";
import {
  broadcastTo,
  expandDims,
  matrixTranspose,
  moveAxisTo0,
  reshape,
  squeeze,
  transpose,
} from "./layout.js";
import { matmulPrim } from "./linalg.js";
import { negative } from "./unary.js";

/** The flags of `triangular_solve` (JAX's, without `conjugate_a`: real matrices only). */
export interface TriangularSolveParams {
  /** Solve op(A) X = B (true) or X op(A) = B (false). */
  readonly leftSide: boolean;
  /** Read A's lower triangle (true) or its upper one. */
  readonly lower: boolean;
  /** op(A) = Aᵀ (true) or A. */
  readonly transposeA: boolean;
  /** Take A's diagonal as ones (it is not read). */
  readonly unitDiagonal: boolean;
}

function checkOperands(a: AbstractValue, b: AbstractValue, p: TriangularSolveParams): void {
  const op = "triangular_solve";
  const shapes = `a ${a.dtype}${fmtShape(a.shape)}, b ${b.dtype}${fmtShape(b.shape)}`;
  if (a.dtype !== b.dtype || (a.dtype !== "float32" && a.dtype !== "float64"))
    throw new DTypeError(`${op}: expected a and b of one float dtype (float32 or float64), got ${shapes}`);
  const r = a.shape.length;
  const n = a.shape[r - 1];
  if (r < 2 || a.shape[r - 2] !== n)
    throw new ShapeError(`${op}: expected a square matrix a [..., n, n], got ${shapes}`);
  const expected = p.leftSide ? `[..., ${n}, k]` : `[..., k, ${n}]`;
  const bn = b.shape[p.leftSide ? r - 2 : r - 1];
  if (b.shape.length !== r || bn !== n || !shapeEquals(a.shape.slice(0, -2), b.shape.slice(0, -2)))
    throw new ShapeError(
      `${op}: expected b of shape ${expected} with a's batch dims ${fmtShape(a.shape.slice(0, -2))} (leftSide ${p.leftSide}), got ${shapes}`,
    );
}

/** A's part that the solve reads: its triangle, without the diagonal when that is taken as ones. */
function readTriangle(a: NdArray, p: TriangularSolveParams): NdArray {
  const k = p.unitDiagonal ? 1 : 0;
  return p.lower ? tril(a, { k: -k }) : triu(a, { k });
}

export const triangularSolvePrim: Primitive<TriangularSolveParams, [a: unknown, b: unknown], [x: unknown]> =
  loweredPrimitive<TriangularSolveParams, [a: unknown, b: unknown], [x: unknown]>({
    name: "triangular_solve",
    widenNarrow: { kind: "float" },
    abstractEval([a, b], params) {
      checkOperands(a, b, params);
      return [b];
    },
    lower([a, b], _outs, params, context) {
      const r = a.shape.length;
      const spec: TriangularSolveSpec = {
        ...params,
        dtype: a.dtype,
        batch: sizeOf(a.shape.slice(0, -2)),
        n: a.shape[r - 1]!,
        k: b.shape[params.leftSide ? r - 1 : r - 2]!,
      };
      const kernel = triangularSolveKernel(spec, context);
      return ([ad, bd], [out]) => kernel(ad!, bd!, out!);
    },
    // JAX's rule: d(op(A)⁻¹ B) = op(A)⁻¹ (dB - d op(A) X) on the left (X ... on the right), the product
    // taken in whichever order is cheaper.
    jvp([a, b], [ta, tb], params) {
      const x = triangularSolvePrim.bind1([a, b], params);
      const solve = (rhs: NdArray) => triangularSolvePrim.bind1([a, rhs], params);
      let g = negative(readTriangle(ta, params));
      if (params.transposeA) g = matrixTranspose(g);
      const r = x.ndim;
      const [m, k] = [x.shape[r - 2]!, x.shape[r - 1]!];
      let fromA: NdArray;
      if (params.leftSide)
        fromA = m > k ? solve(matmulPrim.bind1([g, x], {})) : matmulPrim.bind1([solve(g), x], {});
      else fromA = m < k ? solve(matmulPrim.bind1([x, g], {})) : matmulPrim.bind1([x, solve(g)], {});
      return { primalsOut: [x], tangentsOut: [add(solve(tb), fromA)] };
    },
    // Linear in b: the cotangent goes back through the solve with op(A) transposed.
    transpose([ct], [a, b], params) {
      if (a instanceof UndefinedPrimal || !(b instanceof UndefinedPrimal))
        throw new Error("triangular_solve: transpose is linear in b only");
      return [null, triangularSolvePrim.bind1([a, ct], { ...params, transposeA: !params.transposeA })];
    },
    batch([a, b], [da, db], params) {
      // An unbatched matrix against batched right-hand sides: the batch joins the right-hand sides.
      if (da === null && a.ndim === 2) {
        const bm = moveAxisTo0(b, db);
        const [size, r0, r1] = bm.shape as [number, number, number];
        if (!params.leftSide) {
          const x = triangularSolvePrim.bind1([a, reshape(bm, [size * r0, r1])], params);
          return [[reshape(x, [size, r0, r1])], [0]];
        }
        const wide = reshape(transpose(bm, [1, 0, 2]), [r0, size * r1]);
        const x = triangularSolvePrim.bind1([a, wide], params);
        return [[transpose(reshape(x, [r0, size, r1]), [1, 0, 2])], [0]];
      }
      return [[triangularSolvePrim.bind1(alignBatched([a, b], [da, db]), params)], [0]];
    },
    formatParams: (p) =>
      `leftSide=${p.leftSide} lower=${p.lower} transposeA=${p.transposeA} unitDiagonal=${p.unitDiagonal}`,
  });

// ---------------------------------------------------------------------------------------------------
// user-facing

/** Operands as one float dtype, with their batch dims broadcast; `vector` b gets a trailing (or leading) unit axis. */
function solveOperands(
  op: string,
  a: NdArray,
  b: NdArray,
  leftSide: boolean,
): { a: NdArray; b: NdArray; vector: boolean } {
  [a, b] = promoteOperands(op, [a, b], "float") as [NdArray, NdArray];
  if (a.ndim < 2 || a.shape[a.ndim - 1] !== a.shape[a.ndim - 2])
    throw new ShapeError(
      `${op}: expected a square matrix a [..., n, n], got a ${fmtShape(a.shape)} (b ${fmtShape(b.shape)})`,
    );
  const vector = b.ndim === a.ndim - 1;
  if (vector) b = expandDims(b, leftSide ? -1 : -2);
  if (b.ndim < 2)
    throw new ShapeError(
      `${op}: expected b of rank >= 1, got a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)}`,
    );
  const n = a.shape[a.ndim - 1]!;
  const bn = b.shape[b.ndim - (leftSide ? 2 : 1)];
  if (bn !== n)
    throw new ShapeError(
      `${op}: a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)} do not match (expected b of shape ${leftSide ? `[..., ${n}, k] or [..., ${n}]` : `[..., k, ${n}] or [..., ${n}]`})`,
    );
  const batch = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  return {
    a: broadcastTo(a, [...batch, ...a.shape.slice(-2)]),
    b: broadcastTo(b, [...batch, ...b.shape.slice(-2)]),
    vector,
  };
}

/** Options of `lax.linalg.triangularSolve` (JAX's keyword arguments; every one defaults to false). */
export interface TriangularSolveOptions {
  /** Solve op(a) x = b (true) or x op(a) = b (false, the default, as JAX). */
  leftSide?: boolean;
  /** Read a's lower triangle (true) or its upper one (false, the default). */
  lower?: boolean;
  /** op(a) = aᵀ (true) or a (false). */
  transposeA?: boolean;
  /** Take a's diagonal as ones; it is not read. */
  unitDiagonal?: boolean;
}

const TRIANGULAR_KEYS = optionKeys<TriangularSolveOptions>({
  leftSide: true,
  lower: true,
  transposeA: true,
  unitDiagonal: true,
});

function flag(op: string, options: object, key: string): boolean {
  return checkOptionValue(op, key, (options as Record<string, unknown>)[key], [true, false]) ?? false;
}

/**
 * `jax.lax.linalg.triangular_solve` (real matrices): x with op(a) x = b (`leftSide`) or x op(a) = b,
 * op(a) = a or aᵀ (`transposeA`), where only a's `lower` (or upper) triangle is read and, with
 * `unitDiagonal`, its diagonal is taken as ones. `a` is [..., n, n]; `b` is [..., n, k] on the left side,
 * [..., k, n] on the right, or [..., n] (one vector, as JAX: b of rank one less than a). Batch dims
 * broadcast. Integer operands become float32. A zero on a's diagonal gives infinities or NaNs (no
 * error, as LAPACK and JAX). Differentiable in both operands; linear in b.
 */
export function triangularSolve(a: NdArray, b: NdArray, options: TriangularSolveOptions = {}): NdArray {
  const op = "triangularSolve";
  checkOptions(op, options, TRIANGULAR_KEYS);
  const params: TriangularSolveParams = {
    leftSide: flag(op, options, "leftSide"),
    lower: flag(op, options, "lower"),
    transposeA: flag(op, options, "transposeA"),
    unitDiagonal: flag(op, options, "unitDiagonal"),
  };
  return solveTriangularWith(op, a, b, params);
}

/** The solve as the user function `op` names it: operands promoted and broadcast, a vector b squeezed back. */
export function solveTriangularWith(
  op: string,
  a: NdArray,
  b: NdArray,
  params: TriangularSolveParams,
): NdArray {
  const operands = solveOperands(op, a, b, params.leftSide);
  const x = triangularSolvePrim.bind1([operands.a, operands.b], params);
  return operands.vector ? squeeze(x, params.leftSide ? -1 : -2) : x;
}

/** Options of `scipy.linalg.solveTriangular` (scipy's names; `check_finite`, `overwrite_b` do not apply). */
export interface SolveTriangularOptions {
  /** Read a's lower triangle (true) or its upper one (false, the default, as scipy). */
  lower?: boolean;
  /** 0 or "N": a x = b (default); 1 or "T": aᵀ x = b; 2 or "C": aᴴ x = b, the same for real a. */
  trans?: 0 | 1 | 2 | "N" | "T" | "C";
  /** Take a's diagonal as ones; it is not read. */
  unitDiagonal?: boolean;
}

const SOLVE_TRIANGULAR_KEYS = optionKeys<SolveTriangularOptions>({
  lower: true,
  trans: true,
  unitDiagonal: true,
});

/**
 * `scipy.linalg.solve_triangular` (as `jax.scipy.linalg.solve_triangular`): x with a x = b, or aᵀ x = b
 * (`trans` 1/"T"), for triangular a [..., n, n] of which only the `lower` (default upper) triangle is
 * read, and b [..., n, k] or [..., n] (b of rank one less than a is one vector per matrix); batch dims
 * broadcast. A zero on the diagonal gives infinities or NaNs, as JAX (scipy raises LinAlgError; a value
 * check cannot run under jit). Differentiable in a and b.
 */
export function solveTriangular(a: NdArray, b: NdArray, options: SolveTriangularOptions = {}): NdArray {
  const op = "solveTriangular";
  checkOptions(op, options, SOLVE_TRIANGULAR_KEYS);
  const trans = checkOptionValue(op, "trans", options.trans, [0, 1, 2, "N", "T", "C"]) ?? 0;
  return solveTriangularWith(op, a, b, {
    leftSide: true,
    lower: flag(op, options, "lower"),
    transposeA: trans !== 0 && trans !== "N",
    unitDiagonal: flag(op, options, "unitDiagonal"),
  });
}
