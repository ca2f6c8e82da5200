/**
 * LU factorization with partial pivoting: the `lu` primitive (JAX's `lax.linalg.lu`), on [..., m, n]
 * float32/float64 matrices, square or rectangular, batched over the leading axes. Outputs, as JAX's:
 * `lu` (L strictly below the diagonal, its unit diagonal implied, U on and above), `pivots` (int32
 * [..., min(m, n)], zero-based LAPACK row swaps) and `permutation` (int32 [..., m], with
 * `A[permutation] = L U`). The kernel is backend/js/linalg-lu.ts (blocked, with the GEMM for the
 * trailing updates of large matrices). The derivative is JAX's `_lu_jvp_rule` (De Hoog, Anderssen and
 * Lukas): with Φ = L⁻¹ (P dA) U⁻¹, dL = L tril(Φ, -1) and dU = triu(Φ) U, written with triangular solves.
 */

import { gemmKernel } from "../backend/index.js";
import {
  type LuBlockedScratch,
  luFactorKernel,
  luUpdateShapes,
  pivotsToPermutation,
} from "../backend/js/linalg-lu.js";
import { planArray, withResidency } from "../backend/plan-memory.js";
import type { AbstractValue, NdArray } from "../core/array.js";
import { DTypeError } from "../core/dtype.js";
import { checkOptions, checkOptionValue, optionKeys } from "../core/options.js";
import type { Primitive } from "../core/primitive.js";
import { broadcastShapes, fmtShape, ShapeError, sizeOf } from "../core/shape.js";
import { add, astype, promoteOperands } from "./binary.js";
import { tril, triu } from "./construction.js";
import { eye, zeros } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { takeAlongAxis } from "./indexing.js";
import { broadcastTo, expandDims, moveAxisTo0, squeeze } from "./layout.js";
import { matmul } from "./linalg.js";
import { triangularSolve } from "./linalg-triangular.js";
import { concatenate, slice } from "./shape.js";
import { argsort } from "./sort.js";

type Params = Record<string, never>;
const P: Params = {};

/** Checks an operand of a linear-algebra op: rank >= 2 and float32 or float64. Returns [m, n]. */
export function matrixDims(op: string, x: AbstractValue): [number, number] {
  if (x.shape.length < 2)
    throw new ShapeError(
      `${op}: expected a matrix or a batch of matrices [..., m, n] (rank >= 2), got shape ${fmtShape(x.shape)}`,
    );
  if (x.dtype !== "float32" && x.dtype !== "float64")
    throw new DTypeError(`${op}: expected a float32 or float64 array, got ${x.dtype}${fmtShape(x.shape)}`);
  return [x.shape[x.shape.length - 2]!, x.shape[x.shape.length - 1]!];
}

export const luPrim: Primitive<Params, [a: unknown], [lu: unknown, pivots: unknown, permutation: unknown]> =
  loweredPrimitive<Params, [a: unknown], [lu: unknown, pivots: unknown, permutation: unknown]>({
    name: "lu",
    abstractEval([a]) {
      const [m, n] = matrixDims("lu", a);
      const lead = a.shape.slice(0, -2);
      return [
        { shape: a.shape, dtype: a.dtype },
        { shape: [...lead, Math.min(m, n)], dtype: "int32" },
        { shape: [...lead, m], dtype: "int32" },
      ];
    },
    lower([a], _outAvals, _params, context) {
      const [m, n] = [a.shape[a.shape.length - 2]!, a.shape[a.shape.length - 1]!];
      const batch = sizeOf(a.shape.slice(0, -2));
      const updates = luUpdateShapes(m, n);
      let scratch: LuBlockedScratch | null = null;
      if (batch > 0 && updates.length > 0) {
        // The first update is the largest: every later one fits in its buffers.
        const [rows, inner, cols] = updates[0]!;
        const resident = withResidency(context, [true, true], [true]);
        const kernels = new Map(
          updates.map(([r, k, c]) => [`${r},${k},${c}`, gemmKernel(a.dtype, 1, r, k, c, resident)] as const),
        );
        const left = planArray(context, a.dtype, rows * inner);
        const right = planArray(context, a.dtype, inner * cols);
        const product = planArray(context, a.dtype, rows * cols);
        scratch = {
          left,
          right,
          product,
          gemm: (r, k, c) =>
            kernels.get(`${r},${k},${c}`)!(
              left().subarray(0, r * k),
              right().subarray(0, k * c),
              product().subarray(0, r * c),
            ),
        };
      }
      return ([x], [lu, pivots, perm]) =>
        luFactorKernel(x!, lu!, pivots as Int32Array, perm as Int32Array, batch, m, n, scratch);
    },
    jvp([a], [da]) {
      const [lu, pivots, permutation] = luPrim.bind([a], P) as [NdArray, NdArray, NdArray];
      return {
        primalsOut: [lu, pivots, permutation],
        tangentsOut: [luTangent(lu, da, permutation), zerosInt(pivots), zerosInt(permutation)],
      };
    },
    batch: ([a], [d]) => [luPrim.bind([moveAxisTo0(a, d)], P), [0, 0, 0]],
  });

/** Params of `lu_pivots_to_permutation`: the size m of the permutation (at least the number of pivots). */
export interface PivotsToPermutationParams {
  readonly permutationSize: number;
}

/** int32 pivots [..., k] (LAPACK's row swaps, zero-based) -> the permutation [..., m] they make. */
export const luPivotsToPermutationPrim: Primitive<
  PivotsToPermutationParams,
  [pivots: unknown],
  [permutation: unknown]
> = loweredPrimitive<PivotsToPermutationParams, [pivots: unknown], [permutation: unknown]>({
  name: "lu_pivots_to_permutation",
  abstractEval([pivots], { permutationSize }) {
    const k = pivots.shape[pivots.shape.length - 1];
    if (k === undefined || pivots.dtype !== "int32")
      throw new ShapeError(
        `luPivotsToPermutation: expected int32 pivots of shape [..., k], got ${pivots.dtype}${fmtShape(pivots.shape)}`,
      );
    if (!Number.isInteger(permutationSize) || permutationSize < k)
      throw new ShapeError(
        `luPivotsToPermutation: the permutation size ${permutationSize} must be an integer >= the number of pivots ${k} (pivots ${fmtShape(pivots.shape)})`,
      );
    return [{ shape: [...pivots.shape.slice(0, -1), permutationSize], dtype: "int32" }];
  },
  lower([pivots], _outAvals, { permutationSize }) {
    const k = pivots.shape[pivots.shape.length - 1]!;
    const batch = sizeOf(pivots.shape.slice(0, -1));
    return ([p], [perm]) =>
      pivotsToPermutation(p as Int32Array, perm as Int32Array, batch, k, permutationSize);
  },
  jvp: (args, _t, params) => {
    const out = luPivotsToPermutationPrim.bind(args, params);
    return { primalsOut: out, tangentsOut: [zerosInt(out[0]!)] };
  },
  batch: ([p], [d], params) => [luPivotsToPermutationPrim.bind([moveAxisTo0(p, d)], params), [0]],
});

function zerosInt(x: NdArray): NdArray {
  return zeros(x.shape, { dtype: x.dtype });
}

/**
 * The unit lower factor L [..., m, m] and the upper factor U [..., n, n] of packed factors [..., m, n]
 * (JAX's padding: a rectangular L is completed by the identity's columns, U by its rows).
 */
export function unpackLu(lu: NdArray): [NdArray, NdArray] {
  const r = lu.ndim;
  const [m, n] = [lu.shape[r - 2]!, lu.shape[r - 1]!];
  const k = Math.min(m, n);
  const lead = lu.shape.slice(0, -2);
  const all = lead.map(() => ({}));
  let l = tril(slice(lu, [...all, {}, { stop: k }]), { k: -1 });
  if (m > k) l = concatenate([l, zeros([...lead, m, m - k], { dtype: lu.dtype })], { axis: -1 });
  l = add(l, eye(m, m, { dtype: lu.dtype }));
  let u = triu(slice(lu, [...all, { stop: k }]));
  if (n > k) {
    const tail = concatenate(
      [zeros([n - k, k], { dtype: lu.dtype }), eye(n - k, n - k, { dtype: lu.dtype })],
      { axis: 1 },
    );
    u = concatenate([u, add(zeros([...lead, n - k, n], { dtype: lu.dtype }), tail)], { axis: -2 });
  }
  return [l, u];
}

/** The rows of `x` [..., m, c] in the order of `permutation` [..., m]: P x. */
export function permuteRows(x: NdArray, permutation: NdArray): NdArray {
  return takeAlongAxis(x, expandDims(permutation, -1), { axis: -2 });
}

/** JAX's `_lu_jvp_inner`, batched: d(LU) = L tril(Φ, -1) + triu(Φ) U with Φ = L⁻¹ (P dA) U⁻¹. */
function luTangent(lu: NdArray, da: NdArray, permutation: NdArray): NdArray {
  const [l, u] = unpackLu(lu);
  const la = triangularSolve(l, permuteRows(da, permutation), {
    leftSide: true,
    lower: true,
    unitDiagonal: true,
  });
  const phi = triangularSolve(u, la, { leftSide: false, lower: false });
  return add(matmul(l, tril(phi, { k: -1 })), matmul(triu(phi), u));
}

/**
 * LU decomposition with partial pivoting, `P A = L U` (JAX's `lax.linalg.lu`), of `x` [..., m, n]
 * (float32 or float64; square or rectangular), batched over the leading axes.
 *
 * Returns `[lu, pivots, permutation]`: `lu` [..., m, n] holds L strictly below the diagonal (its unit
 * diagonal is implied) and U on and above it; `pivots` (int32 [..., min(m, n)]) are LAPACK's row swaps,
 * zero-based (row j was swapped with row `pivots[j]` at step j); `permutation` (int32 [..., m]) is the
 * permutation they make, so that `x[permutation]` (rows) equals `L U`.
 *
 * float16 and bfloat16 factor in float32 (the factors rounded once); integer arrays are refused (a
 * `DTypeError`), as JAX's. A singular matrix is factored as LAPACK factors it: a zero pivot stays on U's diagonal and the
 * factorization continues (no error, no NaN); what is solved with such factors divides by zero. The
 * derivative is JAX's (De Hoog, Anderssen and Lukas); it is defined where U is nonsingular and the
 * pivot order does not change under a small perturbation.
 *
 * @example
 * const [lu, pivots, perm] = lax.linalg.lu(np.array([[1, 2], [3, 4]], { dtype: "float64" }));
 * // lu = [[3, 4], [1/3, 2/3]], pivots = [1, 1], perm = [1, 0]
 */
export function lu(x: NdArray): [lu: NdArray, pivots: NdArray, permutation: NdArray] {
  // Half floats factor in float32, rounded once at the end; integers are refused by the primitive.
  const half = x.dtype === "float16" || x.dtype === "bfloat16";
  const operand = half ? astype(x, "float32") : x;
  matrixDims("lu", operand);
  const [factors, pivots, permutation] = luPrim.bind([operand], P);
  return [half ? astype(factors!, x.dtype) : factors!, pivots!, permutation!];
}

/**
 * The permutation [..., m] that LU pivots [..., k] make (JAX's `lax.linalg.lu_pivots_to_permutation`):
 * starting from 0..m-1, entries j and `pivots[j]` are swapped for j = 0..k-1, so that for
 * `[lu, pivots] = luFactor(a)`, `a[permutation]` (rows) is `L U`. `permutationSize` is m, at least k.
 * A pivot outside [0, m) throws a RangeError when the kernel runs.
 */
export function luPivotsToPermutation(pivots: NdArray, permutationSize: number): NdArray {
  return luPivotsToPermutationPrim.bind1([pivots], { permutationSize });
}

// ---------------------------------------------------------------------------------------------------
// solving with the factors

/**
 * Operands of a linear-algebra function in one float dtype (numpy's promotion; integer and bool arrays
 * become float32, as JAX's default float); float16/bfloat16 compute in float32. Returns the operands and
 * the dtype to give the result.
 */
export function floatOperands(op: string, xs: readonly NdArray[]): [NdArray[], NdArray["dtype"]] {
  const promoted = promoteOperands(op, xs, "float");
  const dtype = promoted[0]!.dtype;
  if (dtype === "float32" || dtype === "float64") return [promoted, dtype];
  return [promoted.map((x) => astype(x, "float32")), dtype];
}

/** `x` in `dtype` (the result of a computation done in float32 for a half dtype). */
export function inDtype(x: NdArray, dtype: NdArray["dtype"]): NdArray {
  return x.dtype === dtype ? x : astype(x, dtype);
}

/**
 * Solves A x = b (`trans` 0) or Aᵀ x = b (1) from A's packed factors `lu` [..., n, n] and `permutation`
 * [..., n], for b [..., n, k]; the batch dims of the three broadcast (JAX's `lax.linalg.lu_solve`).
 */
export function solveWithLu(
  op: string,
  lu: NdArray,
  permutation: NdArray,
  b: NdArray,
  trans: 0 | 1,
): NdArray {
  const n = lu.shape[lu.ndim - 1]!;
  const batch = broadcastShapes(
    op,
    lu.shape.slice(0, -2),
    permutation.shape.slice(0, -1),
    b.shape.slice(0, -2),
  );
  const rhs = broadcastTo(b, [...batch, ...b.shape.slice(-2)]);
  const perm = broadcastTo(permutation, [...batch, n]);
  if (trans === 0) {
    const y = triangularSolve(lu, permuteRows(rhs, perm), {
      leftSide: true,
      lower: true,
      unitDiagonal: true,
    });
    return triangularSolve(lu, y, { leftSide: true, lower: false });
  }
  // Aᵀ = Uᵀ Lᵀ P: x = Pᵀ L⁻ᵀ U⁻ᵀ b, Pᵀ being the rows in the inverse permutation's order.
  const y = triangularSolve(lu, rhs, { leftSide: true, lower: false, transposeA: true });
  const z = triangularSolve(lu, y, { leftSide: true, lower: true, unitDiagonal: true, transposeA: true });
  return permuteRows(z, argsort(perm, { axis: -1 }));
}

/**
 * The LU factorization of `a` [..., m, n] for `luSolve` (SciPy's and JAX's `scipy.linalg.lu_factor`):
 * `[lu, piv]`, where `lu` holds L strictly below the diagonal (unit diagonal implied) and U on and above
 * it, and `piv` (int32 [..., min(m, n)]) the zero-based row swaps of partial pivoting (row j was swapped
 * with row `piv[j]`), as scipy's. Batched over leading axes; integer input becomes float32. A singular
 * matrix factors without error (a zero on U's diagonal, as LAPACK; scipy warns). Differentiable (JAX's
 * LU derivative).
 */
export function luFactor(a: NdArray): [lu: NdArray, piv: NdArray] {
  const [[x], dtype] = floatOperands("luFactor", [a]);
  matrixDims("luFactor", x!);
  const [factors, pivots] = luPrim.bind([x!], P);
  return [inDtype(factors!, dtype), pivots!];
}

/** Options of `scipy.linalg.luSolve`. */
export interface LuSolveOptions {
  /** 0: a x = b (default); 1: aᵀ x = b; 2: aᴴ x = b, the same as 1 for real a. */
  trans?: 0 | 1 | 2;
}

const LU_SOLVE_KEYS = optionKeys<LuSolveOptions>({ trans: true });

/**
 * Solves a x = b (or aᵀ x = b with `trans` 1 or 2) from `luFactor(a)` (SciPy's and JAX's
 * `scipy.linalg.lu_solve`). `lu` is [..., n, n] (square), `piv` [..., n]; `b` is [n] (one vector) or
 * [..., n, k], whose batch dims broadcast against the factors'. The result has b's shape (with the
 * broadcast batch dims). A singular factorization (a zero on U's diagonal) gives infinities or NaNs, as
 * JAX (scipy raises nothing either). Differentiable in the factors and in b.
 */
export function luSolve(
  luAndPiv: readonly [lu: NdArray, piv: NdArray],
  b: NdArray,
  options: LuSolveOptions = {},
): NdArray {
  const op = "luSolve";
  checkOptions(op, options, LU_SOLVE_KEYS);
  const trans = checkOptionValue(op, "trans", options.trans, [0, 1, 2]) ?? 0;
  const [lu0, piv] = luAndPiv;
  const [[factors, rhs], dtype] = floatOperands(op, [lu0, b]);
  const [m, n] = matrixDims(op, factors!);
  if (m !== n)
    throw new ShapeError(`${op}: expected square factors lu [..., n, n], got lu ${fmtShape(factors!.shape)}`);
  if (piv.dtype !== "int32" || piv.ndim < 1 || piv.shape[piv.ndim - 1] !== n)
    throw new ShapeError(
      `${op}: expected int32 pivots piv [..., ${n}] (from luFactor), got ${piv.dtype}${fmtShape(piv.shape)} for lu ${fmtShape(factors!.shape)}`,
    );
  const vector = rhs!.ndim === 1;
  const b2 = vector ? expandDims(rhs!, -1) : rhs!;
  if (b2.ndim < 2 || b2.shape[b2.ndim - 2] !== n)
    throw new ShapeError(
      `${op}: expected b of shape [${n}] or [..., ${n}, k] for lu ${fmtShape(factors!.shape)}, got b ${fmtShape(rhs!.shape)}`,
    );
  const permutation = luPivotsToPermutation(piv, n);
  const x = solveWithLu(op, factors!, permutation, b2, trans === 0 ? 0 : 1);
  return inDtype(vector ? squeeze(x, -1) : x, dtype);
}
