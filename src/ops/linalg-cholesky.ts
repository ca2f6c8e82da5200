/**
 * Cholesky factorization: the `cholesky` primitive (JAX's `cholesky_p`) with every rule, and the
 * functions on it: `lax.linalg.cholesky`, `np.linalg.cholesky`, `scipy.linalg.cholesky`, `choFactor` and
 * `choSolve`. The kernel is backend/js/linalg-cholesky.ts (blocked right-looking, GEMM tile updates).
 *
 * The primitive maps A [..., n, n] to its lower factor L (A = L Lᵀ, zeros above the diagonal) reading
 * only A's lower triangle, as LAPACK's potrf. Its derivative is JAX's `L Φ(L⁻¹ dA L⁻ᵀ)` (Murray 2016,
 * arXiv:1602.07527), Φ taking the lower triangle with the diagonal halved, with dA the symmetric matrix
 * the tangent's lower triangle stands for, so the rule is the derivative of what the kernel computes.
 * `np.linalg.cholesky` and `lax.linalg.cholesky` symmetrize their input first, (A + Aᵀ)/2, as JAX's
 * (`symmetrize_input`), so their gradients are symmetric as torch's; the SciPy functions read one
 * triangle (the lower with `lower`, else the upper), as SciPy and `jax.scipy.linalg`.
 *
 * Not positive definite: every function returns NaNs for that matrix (the whole factor), as JAX, since a
 * check of the values cannot raise under jit; numpy and torch raise instead.
 */

import { choleskyKernel } from "../backend/js/linalg-cholesky.js";
import type { AbstractValue, NdArray } from "../core/array.js";
import { DTypeError } from "../core/dtype.js";
import { checkOptions, checkOptionValue, optionKeys } from "../core/options.js";
import type { Primitive } from "../core/primitive.js";
import { fmtShape, ShapeError, sizeOf } from "../core/shape.js";
import { add, divide, multiply, promoteOperands } from "./binary.js";
import { tril } from "./construction.js";
import { eye } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { matrixTranspose, moveAxisTo0 } from "./layout.js";
import { matmulPrim } from "./linalg.js";
import { solveTriangularWith, triangularSolvePrim } from "./linalg-triangular.js";

type Params = Record<string, never>;
const P: Params = {};

function checkSquare(op: string, a: AbstractValue): void {
  if (a.dtype !== "float32" && a.dtype !== "float64")
    throw new DTypeError(`${op}: expected a float32 or float64 matrix, got ${a.dtype}${fmtShape(a.shape)}`);
  const r = a.shape.length;
  if (r < 2 || a.shape[r - 1] !== a.shape[r - 2])
    throw new ShapeError(`${op}: expected square matrices [..., n, n], got shape ${fmtShape(a.shape)}`);
}

/** The symmetric matrix a lower triangle stands for: tril(x) + tril(x, -1)ᵀ. */
function symmetricFromLower(x: NdArray): NdArray {
  return add(tril(x), matrixTranspose(tril(x, { k: -1 })));
}

/** Φ: the lower triangle with the diagonal halved. */
function phi(x: NdArray): NdArray {
  const n = x.shape[x.ndim - 1]!;
  return divide(tril(x), add(eye(n, n, { dtype: x.dtype }), 1));
}

export const choleskyPrim: Primitive<Params, [a: unknown], [l: unknown]> = loweredPrimitive<
  Params,
  [a: unknown],
  [l: unknown]
>({
  name: "cholesky",
  widenNarrow: { kind: "float" },
  abstractEval([a]) {
    checkSquare("cholesky", a);
    return [a];
  },
  lower([a], _outs, _params, context) {
    const n = a.shape[a.shape.length - 1]!;
    const kernel = choleskyKernel(a.dtype, sizeOf(a.shape.slice(0, -2)), n, context);
    return ([ad], [out]) => kernel(ad!, out!);
  },
  // dL = L Φ(L⁻¹ dA L⁻ᵀ), with dA symmetric from the tangent's lower triangle (the part the kernel reads).
  jvp([a], [t]) {
    const l = choleskyPrim.bind1([a], P);
    const flags = { lower: true, unitDiagonal: false };
    const right = triangularSolvePrim.bind1([l, symmetricFromLower(t)], {
      ...flags,
      leftSide: false,
      transposeA: true,
    });
    const inner = triangularSolvePrim.bind1([l, right], { ...flags, leftSide: true, transposeA: false });
    return { primalsOut: [l], tangentsOut: [matmulPrim.bind1([l, phi(inner)], P)] };
  },
  batch: ([a], [d]) => [[choleskyPrim.bind1([moveAxisTo0(a, d)], P)], [0]],
});

// ---------------------------------------------------------------------------------------------------
// user-facing

function floatMatrix(op: string, a: NdArray): NdArray {
  const [x] = promoteOperands(op, [a], "float") as [NdArray];
  if (x.ndim < 2 || x.shape[x.ndim - 1] !== x.shape[x.ndim - 2])
    throw new ShapeError(`${op}: expected square matrices [..., n, n], got shape ${fmtShape(x.shape)}`);
  return x;
}

/** (a + aᵀ) / 2 over the last two axes. */
function symmetrize(a: NdArray): NdArray {
  return multiply(add(a, matrixTranspose(a)), 0.5);
}

function lowerFactor(op: string, a: NdArray, symmetrizeInput: boolean): NdArray {
  const x = floatMatrix(op, a);
  return choleskyPrim.bind1([symmetrizeInput ? symmetrize(x) : x], P);
}

/** Options of `lax.linalg.cholesky`. */
export interface LaxCholeskyOptions {
  /** Factor (a + aᵀ)/2 (default true, as JAX); false reads only a's lower triangle, as LAPACK. */
  symmetrizeInput?: boolean;
}

/**
 * `jax.lax.linalg.cholesky`: the lower factor L of symmetric positive-definite matrices a [..., n, n]
 * (a = L Lᵀ, zeros above the diagonal). A matrix that is not positive definite gives a factor of NaNs (no
 * error, so it works under jit). Differentiable (`L Φ(L⁻¹ dA L⁻ᵀ)`), batched, any order of transforms.
 */
export function cholesky(a: NdArray, options: LaxCholeskyOptions = {}): NdArray {
  checkOptions("cholesky", options, optionKeys<LaxCholeskyOptions>({ symmetrizeInput: true }));
  const symmetrizeInput =
    checkOptionValue("cholesky", "symmetrizeInput", options.symmetrizeInput, [true, false]) ?? true;
  return lowerFactor("cholesky", a, symmetrizeInput);
}

/** Options of `np.linalg.cholesky`. */
export interface NpCholeskyOptions {
  /** Return the upper factor U = Lᵀ (a = Uᵀ U) instead of the lower one (default false), as numpy 2. */
  upper?: boolean;
}

/**
 * `numpy.linalg.cholesky` (as `jax.numpy.linalg.cholesky`): the lower factor L of symmetric
 * positive-definite a [..., n, n], a = L Lᵀ, or the upper one U = Lᵀ with `upper`. The input is
 * symmetrized first, (a + aᵀ)/2, as JAX, so gradients are symmetric (as torch's). A matrix that is not
 * positive definite gives NaNs (numpy raises LinAlgError, JAX returns NaNs: a value check cannot raise
 * under jit). Integer input becomes float32.
 */
export function npCholesky(a: NdArray, options: NpCholeskyOptions = {}): NdArray {
  checkOptions("cholesky", options, optionKeys<NpCholeskyOptions>({ upper: true }));
  const upper = checkOptionValue("cholesky", "upper", options.upper, [true, false]) ?? false;
  const l = lowerFactor("cholesky", a, true);
  return upper ? matrixTranspose(l) : l;
}

/** Options of `scipy.linalg.cholesky` and `choFactor`. */
export interface ScipyCholeskyOptions {
  /** Return the lower factor (true) or the upper one (false, the default, as scipy). */
  lower?: boolean;
}

/** SciPy's (and jax.scipy's) factor: from a's lower triangle, or the upper factor from its upper one. */
function scipyFactor(op: string, a: NdArray, options: ScipyCholeskyOptions): [NdArray, boolean] {
  checkOptions(op, options, optionKeys<ScipyCholeskyOptions>({ lower: true }));
  const lower = checkOptionValue(op, "lower", options.lower, [true, false]) ?? false;
  const x = floatMatrix(op, a);
  if (lower) return [choleskyPrim.bind1([x], P), true];
  return [matrixTranspose(choleskyPrim.bind1([matrixTranspose(x)], P)), false];
}

/**
 * `scipy.linalg.cholesky` (as `jax.scipy.linalg.cholesky`): the upper factor U of symmetric
 * positive-definite a [..., n, n] (a = Uᵀ U) from a's upper triangle, or the lower one from its lower
 * triangle with `lower` (the other triangle of a is not read; that of the result is zero). Not positive
 * definite gives NaNs (scipy raises LinAlgError).
 */
export function scipyCholesky(a: NdArray, options: ScipyCholeskyOptions = {}): NdArray {
  return scipyFactor("cholesky", a, options)[0];
}

/**
 * `scipy.linalg.cho_factor` (as `jax.scipy.linalg.cho_factor`): `[c, lower]`, the Cholesky factor of
 * symmetric positive-definite a [..., n, n] (upper by default, lower with `lower`, each from that
 * triangle of a) and which one it is, for `choSolve`. The other triangle of c is zero (scipy leaves
 * whatever a had there). Not positive definite gives NaNs (scipy raises LinAlgError).
 */
export function choFactor(a: NdArray, options: ScipyCholeskyOptions = {}): [c: NdArray, lower: boolean] {
  return scipyFactor("choFactor", a, options);
}

/**
 * `scipy.linalg.cho_solve` (as `jax.scipy.linalg.cho_solve`): x with a x = b, from `[c, lower]` as
 * `choFactor` returns it (a = c cᵀ when lower, cᵀ c when not): two triangular solves. b is [..., n, k] or
 * [..., n] (b of rank one less than c is one vector per matrix); batch dims broadcast. Differentiable in
 * c and b.
 */
export function choSolve(factor: readonly [c: NdArray, lower: boolean], b: NdArray): NdArray {
  const op = "choSolve";
  if (!Array.isArray(factor) || factor.length !== 2 || typeof factor[1] !== "boolean")
    throw new TypeError(`${op}: expected the pair [c, lower] that choFactor returns`);
  const [c, lower] = factor;
  const first = solveTriangularWith(op, c, b, {
    leftSide: true,
    lower,
    transposeA: !lower,
    unitDiagonal: false,
  });
  return solveTriangularWith(op, c, first, { leftSide: true, lower, transposeA: lower, unitDiagonal: false });
}
