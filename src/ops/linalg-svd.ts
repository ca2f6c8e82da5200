/**
 * The singular value decomposition: the `svd` primitive (JAX's `svd_p`: outputs s, then U and Vh) with
 * every rule, and the numpy functions built on it (`svd`, `svdvals`, `pinv`, `lstsq`, `matrixRank`).
 * The kernel is one-sided Jacobi (backend/js/linalg-svd.ts), computed in float64 for float32 and float64.
 *
 * Conventions: singular values descending; each column of U has its largest-magnitude component positive
 * (the first on a tie), with the matching row of Vh flipped alike, so U and Vh are a function of A
 * wherever the singular values are distinct and nonzero. A matrix with a NaN or infinity gives NaN in
 * every output (numpy raises "SVD did not converge"; JAX gives NaN).
 *
 * Derivatives (JAX's `_svd_jvp_rule`): with dS = Uᵀ dA V, ds = diag(dS); dU = U (F ∘ (dS S + S dSᵀ)),
 * dV = V (F ∘ (S dS + dSᵀ S)), F_ij = 1 / (s_j² - s_i²) off the diagonal and 0 on it, plus the parts
 * outside the span of U (m > n) or V (n > m) divided by s. Repeated singular values make F infinite and
 * zero singular values make the last term infinite, so the tangents of U and V are then inf or NaN, as in
 * JAX (the tangent of s alone stays finite: `svdvals` is differentiable wherever the singular values are
 * distinct, and everywhere for a simple largest one). `fullMatrices` with m != n has no derivative (the
 * extra columns are not unique; JAX raises too): use `fullMatrices: false`.
 */

import { svdKernel } from "../backend/js/linalg-svd.js";
import type { AbstractValue, NdArray } from "../core/array.js";
import { DTypeError } from "../core/dtype.js";
import { checkOptions, optionKeys } from "../core/options.js";
import type { Primitive } from "../core/primitive.js";
import { fmtShape, ShapeError, sizeOf } from "../core/shape.js";
import { add, astype, div, mul, sub } from "./binary.js";
import { diagonal } from "./construction.js";
import { eye } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { expandDims, matrixTranspose, moveAxisTo0 } from "./layout.js";
import { matmul } from "./linalg.js";

/** Parameters of the `svd` primitive (JAX's `full_matrices` and `compute_uv`). */
export interface SvdParams {
  /** U is [..., m, m] and Vh [..., n, n]; else [..., m, k] and [..., k, n] with k = min(m, n). */
  readonly fullMatrices: boolean;
  /** Outputs [s, U, Vh]; else [s] alone (no rotations accumulated: cheaper). */
  readonly computeUv: boolean;
}

function svdShapes(op: string, x: AbstractValue, { fullMatrices, computeUv }: SvdParams): AbstractValue[] {
  if (x.dtype !== "float32" && x.dtype !== "float64") {
    throw new DTypeError(`${op}: expected a float32 or float64 matrix, got ${x.dtype}${fmtShape(x.shape)}`);
  }
  const r = x.shape.length;
  if (r < 2) {
    throw new ShapeError(
      `${op}: expected a matrix or a stack of them [..., m, n], got shape ${fmtShape(x.shape)}`,
    );
  }
  const lead = x.shape.slice(0, -2);
  const m = x.shape[r - 2]!;
  const n = x.shape[r - 1]!;
  const k = Math.min(m, n);
  const s = { shape: [...lead, k], dtype: x.dtype };
  if (!computeUv) return [s];
  const ucols = fullMatrices ? m : k;
  const vrows = fullMatrices ? n : k;
  return [s, { shape: [...lead, m, ucols], dtype: x.dtype }, { shape: [...lead, vrows, n], dtype: x.dtype }];
}

/** `svd`: [a [..., m, n]] -> [s [..., k]] or [s, U, Vh] (see SvdParams). */
export const svdPrim: Primitive<SvdParams, [a: unknown]> = loweredPrimitive<SvdParams, [a: unknown]>({
  name: "svd",
  widenNarrow: { kind: "ordered" },
  abstractEval: ([a], params) => svdShapes("svd", a, params),
  lower([a], _outs, { fullMatrices, computeUv }) {
    const r = a.shape.length;
    const m = a.shape[r - 2]!;
    const n = a.shape[r - 1]!;
    const kernel = svdKernel({ batch: sizeOf(a.shape.slice(0, -2)), m, n, fullMatrices, computeUv });
    type F = Float32Array | Float64Array;
    return ([ad], [s, u, vh]) => kernel(ad as F, s as F, (u ?? null) as F | null, (vh ?? null) as F | null);
  },
  jvp([a], [da], params) {
    const r = a.ndim;
    const m = a.shape[r - 2]!;
    const n = a.shape[r - 1]!;
    if (params.computeUv && params.fullMatrices && m !== n) {
      throw new ShapeError(
        `svd: no derivative with fullMatrices for a non-square matrix (shape ${fmtShape(a.shape)}): the extra columns of U or rows of Vh are not unique; use fullMatrices: false`,
      );
    }
    const [s, u, vt] = svdPrim.bind([a], { fullMatrices: false, computeUv: true }) as [
      NdArray,
      NdArray,
      NdArray,
    ];
    const ut = matrixTranspose(u);
    const v = matrixTranspose(vt);
    const dS = matmul(matmul(ut, da), v);
    const ds = diagonal(dS, { axis1: -2, axis2: -1 });
    if (!params.computeUv) return { primalsOut: [s], tangentsOut: [ds] };
    const k = s.shape[s.ndim - 1]!;
    const sRow = expandDims(s, -2);
    const sCol = expandDims(s, -1);
    const id = astype(eye(k), a.dtype);
    // F_ij = 1 / (s_j² - s_i²) off the diagonal, 0 on it (JAX adds and removes the identity the same way).
    const f = sub(div(1, add(mul(add(sRow, sCol), sub(sRow, sCol)), id)), id);
    const dSS = mul(sRow, dS);
    const sdS = mul(sCol, dS);
    let du = matmul(u, mul(f, add(dSS, matrixTranspose(dSS))));
    let dv = matmul(v, mul(f, add(sdS, matrixTranspose(sdS))));
    if (m > n) {
      const dAV = matmul(da, v);
      du = add(du, div(sub(dAV, matmul(u, matmul(ut, dAV))), sRow));
    }
    if (n > m) {
      const dAtU = matmul(matrixTranspose(da), u);
      dv = add(dv, div(sub(dAtU, matmul(v, matmul(vt, dAtU))), sRow));
    }
    return { primalsOut: [s, u, vt], tangentsOut: [ds, du, matrixTranspose(dv)] };
  },
  batch([a], [d], params) {
    const outs = svdPrim.bind([moveAxisTo0(a, d)], params);
    return [outs, outs.map(() => 0)];
  },
});

// ---------------------------------------------------------------------------------------------------
// user-facing

/** Options of `np.linalg.svd`. */
export interface SvdOptions {
  /** U is [..., m, m] and Vh [..., n, n] (default true, as numpy); false gives k = min(m, n) columns/rows. */
  fullMatrices?: boolean;
  /** Return [U, S, Vh] (default true); false returns S alone. */
  computeUv?: boolean;
}

const SVD_KEYS = optionKeys<SvdOptions>({ fullMatrices: true, computeUv: true });

/** A float matrix stack for `op`: integers and bools become float32 (numpy: float64), rank checked. */
export function floatMatrices(op: string, a: NdArray): NdArray {
  if (a.ndim < 2) {
    throw new ShapeError(
      `${op}: expected a matrix or a stack of them [..., m, n], got shape ${fmtShape(a.shape)}`,
    );
  }
  if (a.dtype === "float32" || a.dtype === "float64" || a.dtype === "float16" || a.dtype === "bfloat16")
    return a;
  return astype(a, "float32");
}

function checkFlag(op: string, key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean")
    throw new TypeError(`${op}: option ${key} must be a boolean, got ${String(value)}`);
  return value;
}

/**
 * The singular value decomposition `a = U diag(S) Vh` of a matrix or a stack [..., m, n]
 * (`numpy.linalg.svd`): returns `[U, S, Vh]`, S descending, or S alone with `computeUv: false` (the
 * cheaper path). `fullMatrices` (default true, as numpy) makes U [..., m, m] and Vh [..., n, n];
 * false gives k = min(m, n). Sign convention: each column of U has its largest-magnitude component
 * positive, the matching row of Vh flipped with it (numpy's LAPACK signs are unspecified).
 * Differentiable (JAX's rule; see this module's notes on repeated and zero singular values); the
 * derivative of U and Vh needs `fullMatrices: false` unless the matrix is square. Integer input
 * computes in float32 (numpy: float64).
 */
export function svd(a: NdArray, options: SvdOptions & { computeUv: false }): NdArray;
export function svd(a: NdArray, options?: SvdOptions): [u: NdArray, s: NdArray, vh: NdArray];
export function svd(a: NdArray, options: SvdOptions = {}): NdArray | [u: NdArray, s: NdArray, vh: NdArray] {
  checkOptions("svd", options, SVD_KEYS);
  const fullMatrices = checkFlag("svd", "fullMatrices", options.fullMatrices, true);
  const computeUv = checkFlag("svd", "computeUv", options.computeUv, true);
  const x = floatMatrices("svd", a);
  if (!computeUv) return svdPrim.bind1([x], { fullMatrices: false, computeUv: false });
  const [s, u, vh] = svdPrim.bind([x], { fullMatrices, computeUv: true }) as [NdArray, NdArray, NdArray];
  return [u, s, vh];
}

/**
 * The singular values of a matrix or a stack [..., m, n], descending, shape [..., min(m, n)]
 * (`numpy.linalg.svdvals`, numpy 2.0): the values-only path of the decomposition.
 */
export function svdvals(a: NdArray): NdArray {
  return svdPrim.bind1([floatMatrices("svdvals", a)], { fullMatrices: false, computeUv: false });
}

/** Options of `lax.linalg.svd` (JAX's keyword arguments). */
export interface LaxSvdOptions {
  /** U is [..., m, m] and Vh [..., n, n] (default true, as JAX); false gives k = min(m, n). */
  fullMatrices?: boolean;
  /** Return [U, s, Vh] (default true); false returns s alone. */
  computeUv?: boolean;
}

/**
 * `jax.lax.linalg.svd`: the `svd` primitive on a float32/float64 matrix stack [..., m, n], returning
 * `[U, s, Vh]` (or s alone with `computeUv: false`), s descending, U's columns sign-normalised as
 * `np.linalg.svd`'s. No dtype conversion (an integer operand is a DTypeError).
 */
export function laxSvd(x: NdArray, options: LaxSvdOptions & { computeUv: false }): NdArray;
export function laxSvd(x: NdArray, options?: LaxSvdOptions): [u: NdArray, s: NdArray, vh: NdArray];
export function laxSvd(
  x: NdArray,
  options: LaxSvdOptions = {},
): NdArray | [u: NdArray, s: NdArray, vh: NdArray] {
  checkOptions("lax.linalg.svd", options, SVD_KEYS);
  const fullMatrices = checkFlag("lax.linalg.svd", "fullMatrices", options.fullMatrices, true);
  const computeUv = checkFlag("lax.linalg.svd", "computeUv", options.computeUv, true);
  const outs = svdPrim.bind([x], { fullMatrices: computeUv && fullMatrices, computeUv });
  return computeUv ? [outs[1]!, outs[0]!, outs[2]!] : outs[0]!;
}
