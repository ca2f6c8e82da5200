/**
 * numpy's `linalg.det` and `linalg.slogdet` as composite primitives (ops/composite.ts): their values come
 * from the LU factorization, their derivatives are JAX's rules rather than the LU factorization's, which
 * is undefined where U is singular.
 *
 * - `det`: the tangent is trace(adj(A) dA), the adjugate computed from the LU factors as JAX's
 *   `_cofactor_solve` does, so the gradient (the cofactor matrix adj(A)ᵀ) is right at singular matrices
 *   too; generalised here to a zero pivot anywhere on U's diagonal and to every rank n - 1 matrix (see `adjugate`). The adjugate depends
 *   on A alone, so the tangent is linear in dA without a solve, and reverse mode transposes no solve.
 * - `slogdet`: the tangent of log|det A| is trace(A⁻¹ dA), by `solve` (JAX's `_slogdet_jvp`); the sign's
 *   is zero.
 *
 * Both rules are written with differentiable ops, so second derivatives compose; at a singular matrix
 * they pass through the LU factorization's derivative and are NaN, as JAX's.
 */
import type { NdArray } from "../core/array.js";
import type { Primitive } from "../core/primitive.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import { add, astype, div, equal, lessEqual, logicalAnd, mod, mul, notEqual, sub, where } from "./binary.js";
import { compositePrimitive } from "./composite.js";
import { diagonal, trace } from "./construction.js";
import { arange, eye, ones, scalar, zerosLike } from "./creation.js";
import { cumprod } from "./cumulative.js";
import { broadcastTo, expandDims, matrixTranspose, moveAxisTo0 } from "./layout.js";
import { matmul } from "./linalg.js";
import { solve } from "./linalg-functions.js";
import { floatOperands, inDtype, luPrim, matrixDims, permuteRows } from "./linalg-lu.js";
import { triangularSolve } from "./linalg-triangular.js";
import { all, max, prod, sum } from "./reduce.js";
import { concatenate, slice } from "./shape.js";
import { abs, isfinite, log, negative, sign, sqrt } from "./unary.js";

type Params = Record<string, never>;
const P: Params = {};

/** Checks a square operand [..., n, n] (float32/float64); returns n. */
function squareDims(op: string, a: { shape: readonly number[]; dtype: NdArray["dtype"] }): number {
  const [m, n] = matrixDims(op, a);
  if (m !== n)
    throw new ShapeError(
      `${op}: expected a square matrix or a batch of them [..., n, n], got ${fmtShape(a.shape)}`,
    );
  return n;
}

/** The sign (±1, in `dtype`) of the row permutation that LU pivots [..., k] make. */
function permutationSign(pivots: NdArray, dtype: NdArray["dtype"]): NdArray {
  const k = pivots.shape[pivots.ndim - 1]!;
  const swaps = sum(notEqual(pivots, arange(k, undefined, 1, { dtype: "int32" })), { axis: -1 });
  return where(notEqual(mod(swaps, 2), 0), scalar(-1, dtype), scalar(1, dtype));
}

/** The LU factors' diagonal [..., n] and the sign of the row permutation, of square `a`. */
function luDiagonalAndSign(a: NdArray): [NdArray, NdArray] {
  const [lu, pivots] = luPrim.bind([a], P) as [NdArray, NdArray];
  return [diagonal(lu, { axis1: -2, axis2: -1 }), permutationSign(pivots, a.dtype)];
}

/**
 * The adjugate adj(m) of each matrix of `m` [..., n, n] (n >= 2) from its LU factorization, and whether
 * that factorization could tell it (bool [..., 1, 1]). With P m = L U, adj(m) = sign(P) adj(U) L⁻¹ P.
 *
 * JAX's `_cofactor_solve` computes adj(U) x by back substitution with U's last pivot replaced by
 * 1 / (the signed product of the others) and the other rows of x scaled by det(m): no division by a
 * zero pivot when only the last one is zero. Partial pivoting can leave the zero pivot of a rank n - 1
 * matrix higher up (where a column below the diagonal is zero), where JAX's rule gives 0; here an exactly
 * zero pivot is replaced by +ε and by -ε (ε the largest pivot's magnitude) and the two results averaged:
 * adj(U) is affine in each diagonal entry, so the average is adj(U), and with no zero pivot both are
 * JAX's result. Two or more zero pivots, or an upper solve that overflows (JAX's test), and the
 * factorization cannot tell.
 */
function adjugateByLu(m: NdArray): [adjugate: NdArray, known: NdArray] {
  const n = m.shape[m.ndim - 1]!;
  const lead = m.shape.slice(0, -2).map(() => ({}));
  const [lu, pivots, permutation] = luPrim.bind([m], P) as [NdArray, NdArray, NdArray];
  const sign = expandDims(permutationSign(pivots, m.dtype), -1);
  const diag = diagonal(lu, { axis1: -2, axis2: -1 });
  const zero = equal(diag, 0);
  const largest = max(abs(diag), { axis: -1, keepdims: true });
  const eps = where(equal(largest, 0), 1, largest);
  const index = arange(n, undefined, 1, { dtype: "int32" });
  const onDiagonal = equal(expandDims(index, -1), expandDims(index, 0));
  const corner = equal(add(expandDims(index, -1), expandDims(index, 0)), 2 * n - 2);
  // L⁻¹ P: the rows of the identity in the permutation's order, through the unit lower solve.
  const y = triangularSolve(
    lu,
    permuteRows(broadcastTo(eye(n, n, { dtype: m.dtype }), m.shape), permutation),
    {
      leftSide: true,
      lower: true,
      unitDiagonal: true,
    },
  );
  const shifted = (direction: 1 | -1): [factors: NdArray, adjugate: NdArray] => {
    const pivotsShifted = where(zero, mul(eps, direction), diag);
    // partial[..., i] = sign · u_00 ⋯ u_ii: the last is the determinant, the one before leaves out u_(n-1)(n-1).
    const partial = mul(cumprod(pivotsShifted, { axis: -1 }), sign);
    const det = expandDims(slice(partial, [...lead, { start: n - 1 }]), -1);
    const others = expandDims(slice(partial, [...lead, { start: n - 2, stop: n - 1 }]), -1);
    const factors = where(corner, div(1, others), where(onDiagonal, expandDims(pivotsShifted, -2), lu));
    const scaled = concatenate(
      [mul(slice(y, [...lead, { stop: n - 1 }]), det), slice(y, [...lead, { start: n - 1 }])],
      {
        axis: -2,
      },
    );
    return [factors, triangularSolve(factors, scaled, { leftSide: true, lower: false })];
  };
  const [factorsUp, adjugateUp] = shifted(1);
  const [, adjugateDown] = shifted(-1);
  const probe = triangularSolve(factorsUp, ones([...m.shape.slice(0, -1), 1], { dtype: m.dtype }), {
    leftSide: true,
    lower: false,
  });
  const known = logicalAnd(
    lessEqual(sum(astype(zero, "int32"), { axis: -1, keepdims: true }), 1),
    all(isfinite(probe), { axis: -2 }),
  );
  return [mul(add(adjugateUp, adjugateDown), 0.5), expandDims(known, -1)];
}

/**
 * The reflection M = I - 2 v vᵀ / vᵀv, v_i = √(i + 2), n x n: orthogonal, symmetric, M⁻¹ = M, det M = -1.
 * Irrational ratios between the v_i, so that a M mixes a's columns generically (see `adjugate`).
 */
function mixingReflection(n: number, dtype: NdArray["dtype"]): NdArray {
  const v = sqrt(arange(2, n + 2, 1, { dtype }));
  const outer = mul(expandDims(v, -1), expandDims(v, 0));
  return sub(eye(n, n, { dtype }), mul(outer, 2 / ((n * (n + 3)) / 2)));
}

/**
 * The adjugate (the transposed cofactor matrix) of each matrix of `a` [..., n, n]: det(a) a⁻¹ where a is
 * nonsingular, a rank-one matrix where the rank is n - 1, 0 below that. From the LU factorization of a,
 * which tells it unless partial pivoting leaves two or more zero pivots (as for [[0, 1], [0, 0]]: JAX's
 * rule gives 0 there, and wherever the one zero pivot is not the last); then from that of a M, M a fixed
 * reflection (`mixingReflection`), as adj(a) = adj(M) adj(a M) = -M adj(a M). Where a has rank n - 1
 * with null vector z, a M's first n - 1 columns are independent unless (M z)_(n-1) = 0, which no
 * rational z meets, so its LU leaves one zero pivot at most; rank below n - 1 leaves several, and 0.
 * Checked exhaustively against exact cofactors on every 3 x 3 matrix with entries in {-1, 0, 1} and every
 * 4 x 4 one in {0, 1} (test/ops/linalg-degenerate.test.ts); the transposed factorization this replaced
 * missed 24 and 788 of them.
 */
function adjugate(a: NdArray): NdArray {
  const n = a.shape[a.ndim - 1]!;
  if (n === 1) return ones(a.shape, { dtype: a.dtype });
  const [direct, directKnown] = adjugateByLu(a);
  const reflection = mixingReflection(n, a.dtype);
  const [mixed, mixedKnown] = adjugateByLu(matmul(a, reflection));
  return where(directKnown, direct, where(mixedKnown, negative(matmul(reflection, mixed)), 0));
}

/** `det`: [a [..., n, n]] -> [det [...]]; JAX's cofactor derivative. */
export const detPrim: Primitive<Params, [a: unknown], [det: unknown]> = compositePrimitive<
  Params,
  [a: unknown],
  [det: unknown]
>({
  name: "det",
  abstractEval([a]) {
    squareDims("det", a);
    return [{ shape: a.shape.slice(0, -2), dtype: a.dtype }];
  },
  expand([a]) {
    const [diag, parity] = luDiagonalAndSign(a);
    // + 0 turns the -0 of a singular matrix with an odd permutation into numpy's 0.
    return [add(mul(parity, prod(diag, { axis: -1 })), 0)];
  },
  jvp([a], [da]) {
    const det = detPrim.bind1([a], P);
    const tangent =
      a.shape[a.ndim - 1] === 0
        ? zerosLike(det)
        : sum(mul(matrixTranspose(adjugate(a)), da), { axis: [-2, -1] });
    return { primalsOut: [det], tangentsOut: [tangent] };
  },
  batch: ([a], [d]) => [detPrim.bind([moveAxisTo0(a, d)], P), [0]],
});

/** `slogdet`: [a [..., n, n]] -> [sign [...], logabsdet [...]]; JAX's derivative through `solve`. */
export const slogdetPrim: Primitive<Params, [a: unknown], [sign: unknown, logabsdet: unknown]> =
  compositePrimitive<Params, [a: unknown], [sign: unknown, logabsdet: unknown]>({
    name: "slogdet",
    abstractEval([a]) {
      squareDims("slogdet", a);
      const out = { shape: a.shape.slice(0, -2), dtype: a.dtype };
      return [out, out];
    },
    expand([a]) {
      const [diag, parity] = luDiagonalAndSign(a);
      const signs = add(mul(parity, prod(sign(diag), { axis: -1 })), 0);
      return [signs, sum(log(abs(diag)), { axis: -1 })];
    },
    jvp([a], [da]) {
      const [signs, logabsdet] = slogdetPrim.bind([a], P) as [NdArray, NdArray];
      const tangent =
        a.shape[a.ndim - 1] === 0 ? zerosLike(logabsdet) : trace(solve(a, da), { axis1: -2, axis2: -1 });
      return { primalsOut: [signs, logabsdet], tangentsOut: [zerosLike(signs), tangent] };
    },
    batch: ([a], [d]) => [slogdetPrim.bind([moveAxisTo0(a, d)], P), [0, 0]],
  });

/**
 * The determinant of each matrix of `a` [..., n, n] (numpy's `linalg.det`): the product of U's
 * diagonal from the LU factorization, signed by the row permutation (1 for a 0 x 0 matrix). A singular
 * matrix gives 0 (or a tiny number from rounding), as numpy. Integer input becomes float32.
 *
 * Differentiable everywhere, by JAX's rule: the gradient is the cofactor matrix adj(a)ᵀ, det(a) a⁻ᵀ
 * where a is nonsingular, and still the cofactors at a singular matrix (rank n - 1: a rank-one matrix;
 * rank below n - 1: zero). Second derivatives compose (they are NaN at a singular matrix, as JAX's).
 */
export function det(a: NdArray): NdArray {
  const [[x], dtype] = floatOperands("det", [a]);
  return inDtype(detPrim.bind1([x!], P), dtype);
}

/**
 * The sign and the natural logarithm of the absolute value of the determinant of each matrix of `a`
 * [..., n, n] (numpy's `linalg.slogdet`): `[sign, logabsdet]`, each of shape a.shape[:-2], from the LU
 * factorization (the sum of log |U_ii|), so that det = sign · exp(logabsdet) without overflow. A
 * singular matrix gives sign 0 and logabsdet -Infinity, as numpy. Integer input becomes float32.
 *
 * The gradient of logabsdet is a⁻ᵀ, by JAX's rule: the tangent trace(solve(a, da)) (at a singular
 * matrix it is infinite or NaN, as JAX's); sign has a zero derivative.
 */
export function slogdet(a: NdArray): [sign: NdArray, logabsdet: NdArray] {
  const [[x], dtype] = floatOperands("slogdet", [a]);
  const [signs, logabsdet] = slogdetPrim.bind([x!], P) as [NdArray, NdArray];
  return [inDtype(signs, dtype), inDtype(logabsdet, dtype)];
}
