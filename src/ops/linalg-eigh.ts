/**
 * The symmetric eigendecomposition: the `eigh` primitive (eigenvalues ascending and, unless only values
 * are asked for, unit eigenvectors with a fixed sign) on [..., n, n] float32/float64, batched over the
 * leading dims, reading one triangle of the matrix; kernel backend/js/linalg-eigh.ts (tridiagonalisation
 * and implicit QL, in float64 also for float32 operands, rounded once at the end), blocked from n = 64 on
 * (backend/js/linalg-eigh-blocked.ts).
 *
 * Sign convention: each eigenvector's largest-magnitude component is positive (the first such component
 * on a tie). LAPACK (numpy, torch, JAX) leaves the sign to the algorithm; normalise theirs the same way
 * to compare.
 *
 * Derivative (JAX's eigh jvp): with A = V diag(w) Vᵀ and dA the tangent of the matrix the primitive
 * reads (the triangle mirrored), dw = diag(Vᵀ dA V) and dV = V (F ∘ (Vᵀ dA V)), F_ij = 1/(w_j - w_i)
 * off the diagonal and 0 on it. Repeated eigenvalues: the eigenvectors of a repeated eigenvalue are not
 * unique (any rotation within its eigenspace will do) and F has 1/0 entries there, so the eigenvectors'
 * tangents (and a gradient through them) are ±Infinity or NaN, as in JAX and PyTorch; the eigenvalues'
 * tangents stay finite (dw never reads F), and `eigvalsh` differentiates without F at all.
 */

import { symmetricEigensolver } from "../backend/js/linalg-eigh-blocked.js";
import type { NdArray } from "../core/array.js";
import { DTypeError, isFloat } from "../core/dtype.js";
import { checkOptions, checkOptionValue, optionKeys } from "../core/options.js";
import type { Primitive } from "../core/primitive.js";
import { fmtShape, ShapeError, sizeOf } from "../core/shape.js";
import { add, astype, div, mul, sub } from "./binary.js";
import { diagonal, tril } from "./construction.js";
import { eye } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { expandDims, matrixTranspose, moveAxisTo0 } from "./layout.js";
import { matmul } from "./linalg.js";

/** Parameters of the `eigh` primitive. */
export interface EighParams {
  /** Read the lower triangle (else the upper); the other one is not read. */
  readonly lower: boolean;
  /** Compute the eigenvectors too (outputs [w, v]); else only the eigenvalues (outputs [w]). */
  readonly vectors: boolean;
}

/** Throws unless `shape` is that of a square matrix or a stack of them. */
function checkSquareShape(op: string, shape: readonly number[]): void {
  const r = shape.length;
  if (r < 2 || shape[r - 1] !== shape[r - 2]) {
    throw new ShapeError(
      `${op}: expected a square matrix or a stack of them, shape [..., n, n], got ${fmtShape(shape)}`,
    );
  }
}

export const eighPrim: Primitive<EighParams, [a: unknown], readonly unknown[]> = loweredPrimitive<
  EighParams,
  [a: unknown],
  readonly unknown[]
>({
  name: "eigh",
  widenNarrow: { kind: "float" },
  abstractEval([a], { vectors }) {
    checkSquareShape("eigh", a.shape);
    if (a.dtype !== "float32" && a.dtype !== "float64")
      throw new DTypeError(`eigh: expected a float32 or float64 operand, got ${a.dtype}`);
    const w = { shape: a.shape.slice(0, -1), dtype: a.dtype };
    return vectors ? [w, { shape: a.shape, dtype: a.dtype }] : [w];
  },
  lower([a], _outAvals, { lower, vectors }, context) {
    const n = a.shape[a.shape.length - 1]!;
    const batch = sizeOf(a.shape.slice(0, -2));
    if (batch === 0) return () => {};
    const solver = symmetricEigensolver(n, vectors, context);
    const d = new Float64Array(n);
    return ([x], [w, v]) => {
      const u = solver.u();
      for (let b = 0; b < batch; b++) {
        const off = b * n * n;
        // The symmetric matrix of the triangle read: A[i, j] for j <= i (lower) or A[j, i] (upper).
        for (let i = 0; i < n; i++) {
          for (let j = 0; j <= i; j++) {
            const value = lower ? x![off + i * n + j]! : x![off + j * n + i]!;
            u[i * n + j] = value;
            u[j * n + i] = value;
          }
        }
        solver.solve(d);
        for (let i = 0; i < n; i++) w![b * n + i] = d[i]!;
        // Row j of u is eigenvector j: column j of v.
        if (vectors)
          for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) v![off + k * n + j] = u[j * n + k]!;
      }
    };
  },
  jvp([a], [da], { lower, vectors }) {
    const [w, v] = eighPrim.bind([a], { lower, vectors: true }) as [NdArray, NdArray];
    const n = a.shape[a.ndim - 1]!;
    const vtDaV = matmul(matmul(matrixTranspose(v), mirrorTriangle(da, lower)), v);
    const dw = diagonal(vtDaV, { axis1: -2, axis2: -1 });
    if (!vectors) return { primalsOut: [w], tangentsOut: [dw] };
    // F_ij = 1/(w_j - w_i) off the diagonal, 0 on it, written as JAX does: 1/(I + w_j - w_i) - I.
    const identity = eye(n, n, { dtype: a.dtype });
    const f = sub(div(1, add(identity, sub(expandDims(w, -2), expandDims(w, -1)))), identity);
    return { primalsOut: [w, v], tangentsOut: [dw, matmul(v, mul(f, vtDaV))] };
  },
  batch([a], [d], params) {
    const outs = eighPrim.bind([moveAxisTo0(a, d)], params);
    return [outs, outs.map(() => 0)];
  },
  formatParams: (p) => `lower=${p.lower} vectors=${p.vectors}`,
});

/** The symmetric matrix whose triangle is that of `x` (`lower` or upper): what the primitive reads. */
function mirrorTriangle(x: NdArray, lower: boolean): NdArray {
  const t = lower ? x : matrixTranspose(x);
  const strict = tril(t, { k: -1 });
  return add(tril(t), matrixTranspose(strict));
}

/** (x + xᵀ) / 2: JAX's `symmetrize`. */
function symmetrize(x: NdArray): NdArray {
  return div(add(x, matrixTranspose(x)), 2);
}

/** Integer and bool operands as float32 (numpy: float64), narrow floats through float32 (the primitive). */
function floatOperand(op: string, a: NdArray): NdArray {
  checkSquareShape(op, a.shape);
  return isFloat(a.dtype) ? a : astype(a, "float32");
}

/** Options of `np.linalg.eigh` and `np.linalg.eigvalsh`. */
export interface EighOptions {
  /** Which triangle to read, as numpy: "L" (default) the lower, "U" the upper; the other is not read. */
  UPLO?: "L" | "U";
  /**
   * Use (a + aᵀ) / 2 instead of one triangle (default false, numpy's behaviour; JAX's
   * `jnp.linalg.eigh` defaults to true). Gradients are then symmetric matrices, as PyTorch's.
   */
  symmetrizeInput?: boolean;
}

const EIGH_KEYS = optionKeys<EighOptions>({ UPLO: true, symmetrizeInput: true });

function eighOperand(op: string, a: NdArray, options: EighOptions): { x: NdArray; lower: boolean } {
  checkOptions(op, options, EIGH_KEYS);
  const uplo = checkOptionValue(op, "UPLO", options.UPLO, ["L", "U"] as const) ?? "L";
  const symmetrizeInput =
    checkOptionValue(op, "symmetrizeInput", options.symmetrizeInput, [true, false]) ?? false;
  const x = floatOperand(op, a);
  return { x: symmetrizeInput ? symmetrize(x) : x, lower: uplo === "L" };
}

/**
 * Eigenvalues and eigenvectors of a real symmetric matrix or a stack of them [..., n, n]
 * (`np.linalg.eigh`): `[w, v]` with the eigenvalues `w` [..., n] ascending and the unit eigenvectors as
 * the columns of `v` [..., n, n], so that `a = v diag(w) vᵀ`. Only the triangle named by `UPLO` is read
 * (the lower by default), as numpy; `symmetrizeInput` uses (a + aᵀ)/2 instead, as JAX.
 *
 * Each eigenvector's largest-magnitude component is positive (the first one on a tie); numpy leaves the
 * sign to LAPACK. Integer input computes in float32 (numpy: float64). NaN or infinite input gives NaN
 * eigenvalues and eigenvectors (numpy raises LinAlgError). Differentiable where the eigenvalues are
 * distinct; at a repeated eigenvalue the eigenvectors' derivative is not finite (see the module notes).
 */
export function eigh(a: NdArray, options: EighOptions = {}): [w: NdArray, v: NdArray] {
  const { x, lower } = eighOperand("eigh", a, options);
  const [w, v] = eighPrim.bind([x], { lower, vectors: true });
  return [w!, v!];
}

/**
 * The eigenvalues of a real symmetric matrix or a stack of them [..., n, n], ascending
 * (`np.linalg.eigvalsh`): cheaper than `eigh` (the eigenvectors are not accumulated), and its derivative
 * `diag(vᵀ da v)` is finite at repeated eigenvalues too. Reads the triangle named by `UPLO`, as `eigh`.
 */
export function eigvalsh(a: NdArray, options: EighOptions = {}): NdArray {
  const { x, lower } = eighOperand("eigvalsh", a, options);
  return eighPrim.bind1([x], { lower, vectors: false });
}

/** Options of `lax.linalg.eigh`, as JAX's keyword arguments. */
export interface LaxEighOptions {
  /** Read the lower triangle (default true), else the upper. */
  lower?: boolean;
  /** Use (x + xᵀ)/2 first (default true, as JAX). */
  symmetrizeInput?: boolean;
  /** Ascending eigenvalues (default true). The eigenvalues are always sorted; false is accepted as JAX's "any order". */
  sortEigenvalues?: boolean;
}

const LAX_EIGH_KEYS = optionKeys<LaxEighOptions>({
  lower: true,
  symmetrizeInput: true,
  sortEigenvalues: true,
});

/**
 * `jax.lax.linalg.eigh`: `[v, w]`, the eigenvectors (columns of `v`, [..., n, n]) and the ascending
 * eigenvalues `w` [..., n] of the symmetric `x`; by default of (x + xᵀ)/2 (`symmetrizeInput`), else of
 * the `lower` (default) or upper triangle. Sign convention and derivative as `np.linalg.eigh`.
 */
export function laxEigh(x: NdArray, options: LaxEighOptions = {}): [v: NdArray, w: NdArray] {
  const op = "lax.linalg.eigh";
  checkOptions(op, options, LAX_EIGH_KEYS);
  const lower = checkOptionValue(op, "lower", options.lower, [true, false]) ?? true;
  const symmetrizeInput =
    checkOptionValue(op, "symmetrizeInput", options.symmetrizeInput, [true, false]) ?? true;
  checkOptionValue(op, "sortEigenvalues", options.sortEigenvalues, [true, false]);
  const a = floatOperand(op, x);
  const [w, v] = eighPrim.bind([symmetrizeInput ? symmetrize(a) : a], { lower, vectors: true });
  return [v!, w!];
}
