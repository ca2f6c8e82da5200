/**
 * The singular value decomposition: the `svd` primitive (JAX's `svd_p`: outputs s, then U and Vh) with
 * every rule, and the numpy functions built on it (`svd`, `svdvals`, `pinv`, `lstsq`, `matrixRank`).
 * The kernel is Golub-Kahan-Reinsch (backend/js/linalg-svd.ts: Householder bidiagonalisation, then
 * implicit-shift QR on the bidiagonal), computed in float64 for float32 and float64.
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
import { type AbstractValue, ConcretizationError, type NdArray } from "../core/array.js";
import { DTypeError } from "../core/dtype.js";
import { checkOptions, checkOptionValue, optionKeys } from "../core/options.js";
import type { Primitive } from "../core/primitive.js";
import { broadcastShapes, fmtShape, ShapeError, sizeOf } from "../core/shape.js";
import { add, astype, div, greater, mul, notEqual, promoteOperands, sub, where } from "./binary.js";
import { compositePrimitive } from "./composite.js";
import { diagonal } from "./construction.js";
import { asArray, eye, full, zeros } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { batchSize, broadcastTo, expandDims, matrixTranspose, moveAxisTo0, reshape } from "./layout.js";
import { matmul } from "./linalg.js";
import { any, max, sum } from "./reduce.js";

/** Parameters of the `svd` primitive (JAX's `full_matrices` and `compute_uv`). */
export interface SvdParams {
  /** U is [..., m, m] and Vh [..., n, n]; else [..., m, k] and [..., k, n] with k = min(m, n). */
  readonly fullMatrices: boolean;
  /** Outputs [s, U, Vh]; else [s] alone (no rotations accumulated: cheaper). */
  readonly computeUv: boolean;
}

/** The reduced factors, and the singular values alone. */
const REDUCED: SvdParams = { fullMatrices: false, computeUv: true };
const VALUES_ONLY: SvdParams = { fullMatrices: false, computeUv: false };

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
  widenNarrow: { kind: "float" },
  abstractEval: ([a], params) => svdShapes("svd", a, params),
  lower([a], _outs, { fullMatrices, computeUv }, context) {
    const r = a.shape.length;
    const m = a.shape[r - 2]!;
    const n = a.shape[r - 1]!;
    const kernel = svdKernel({ batch: sizeOf(a.shape.slice(0, -2)), m, n, fullMatrices, computeUv }, context);
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

/** Options of `np.linalg.pinv`. */
export interface PinvOptions {
  /**
   * Singular values at or below `rcond` times the largest are treated as zero (numpy's `rcond`, default
   * 1e-15 when `rtol` is not given either). May be an array broadcasting against the batch dims.
   */
  rcond?: number | NdArray;
  /** numpy 2's name for the same cutoff; null means max(m, n) * eps of the dtype. Not with `rcond`. */
  rtol?: number | NdArray | null;
  /** The matrix is symmetric (numpy uses eigh then); accepted, and the result is the same svd-based one. */
  hermitian?: boolean;
}

const PINV_KEYS = optionKeys<PinvOptions>({ rcond: true, rtol: true, hermitian: true });

const machineEps = (dtype: string): number => (dtype === "float64" ? 2 ** -52 : 2 ** -23);

/** `pinv`: [a [..., m, n], rcond [...]] -> [a⁺ [..., n, m]]; JAX's derivative (Golub and Pereyra). */
export const pinvPrim: Primitive<
  Record<string, never>,
  [a: unknown, rcond: unknown],
  [pinv: unknown]
> = compositePrimitive<Record<string, never>, [a: unknown, rcond: unknown], [pinv: unknown]>({
  name: "pinv",
  abstractEval([a, rcond]) {
    const [s] = svdShapes("pinv", a, { fullMatrices: false, computeUv: false });
    const lead = a.shape.slice(0, -2);
    if (rcond.dtype !== a.dtype || fmtShape(rcond.shape) !== fmtShape(lead))
      throw new ShapeError(
        `pinv: expected rcond of ${a.dtype}${fmtShape(lead)} (a's dtype and batch dims) for a ${a.dtype}${fmtShape(a.shape)}, got ${rcond.dtype}${fmtShape(rcond.shape)}`,
      );
    const m = a.shape[a.shape.length - 2]!;
    const n = a.shape[a.shape.length - 1]!;
    if (s!.shape[s!.shape.length - 1] === 0)
      throw new ShapeError(`pinv: the primitive takes non-empty matrices, got ${fmtShape(a.shape)}`);
    return [{ shape: [...lead, n, m], dtype: a.dtype }];
  },
  expand([a, rcond]) {
    const [s, u, vh] = svdPrim.bind([a], { fullMatrices: false, computeUv: true }) as [
      NdArray,
      NdArray,
      NdArray,
    ];
    const sInv = invertAboveCutoff(s, expandDims(rcond, -1));
    return [matmul(matrixTranspose(vh), mul(expandDims(sInv, -1), matrixTranspose(u)))];
  },
  // rcond has no derivative.
  jvp([a, rcond], [da]) {
    const p = pinvPrim.bind1([a, rcond], {});
    return { primalsOut: [p], tangentsOut: [pinvTangent(a, p, da)] };
  },
  batch: (args, dims) => [pinvPrim.bind(batchedToFront(args, dims), {}), [0]],
});

/**
 * JAX's `_pinv_jvp`: the tangent of p = a⁺ along da where the rank does not change (Golub and Pereyra),
 * from a⁺ itself: no singular vectors, so it is finite where singular values repeat.
 */
function pinvTangent(a: NdArray, p: NdArray, da: NdArray): NdArray {
  const pt = matrixTranspose(p);
  const dat = matrixTranspose(da);
  const m = a.shape[a.ndim - 2]!;
  const n = a.shape[a.ndim - 1]!;
  if (m >= n) {
    const s = matmul(matmul(p, pt), dat);
    const t = matmul(matmul(dat, pt), p);
    // -p da p + s - s a p + t - p a t
    return sub(
      add(sub(s, matmul(matmul(s, a), p)), t),
      add(matmul(matmul(p, a), t), matmul(matmul(p, da), p)),
    );
  }
  const s = matmul(p, matmul(pt, dat));
  const t = matmul(dat, matmul(pt, p));
  return sub(add(sub(s, matmul(s, matmul(a, p))), t), add(matmul(p, matmul(a, t)), matmul(p, matmul(da, p))));
}

/** A batching rule's operands with the batch axis first (unbatched ones broadcast to the batch size). */
function batchedToFront(args: readonly NdArray[], dims: readonly (number | null)[]): NdArray[] {
  const size = batchSize(args, dims);
  return args.map((x, i) =>
    dims[i] === null ? broadcastTo(x, [size, ...x.shape]) : moveAxisTo0(x, dims[i]!),
  );
}

/**
 * The Moore-Penrose pseudo-inverse of a matrix or a stack [..., m, n], shape [..., n, m]
 * (`numpy.linalg.pinv`): V diag(1/s) Uᵀ over the singular values above `rcond` (or `rtol`) times the
 * largest, the others dropped. numpy's defaults: `rcond` 1e-15; `rtol: null` gives max(m, n) * eps.
 *
 * Differentiable by JAX's rule (Golub and Pereyra's derivative of the pseudo-inverse, from a⁺ itself), so
 * finite where singular values repeat (an orthogonal matrix) or are cut off: it is the derivative of a⁺
 * along perturbations that keep the rank, as JAX's and PyTorch's; `rcond` has no derivative.
 */
export function pinv(a: NdArray, options: PinvOptions = {}): NdArray {
  checkOptions("pinv", options, PINV_KEYS);
  checkFlag("pinv", "hermitian", options.hermitian, false);
  if (options.rcond !== undefined && options.rtol !== undefined)
    throw new RangeError("pinv: rcond and rtol cannot both be given (numpy's rule)");
  const x = floatMatrices("pinv", a);
  const m = x.shape[x.ndim - 2]!;
  const n = x.shape[x.ndim - 1]!;
  const rcond =
    options.rcond ??
    (options.rtol === undefined ? 1e-15 : (options.rtol ?? Math.max(m, n) * machineEps(x.dtype)));
  if (m === 0 || n === 0) return zeros([...x.shape.slice(0, -2), n, m], { dtype: x.dtype });
  // numpy broadcasts rcond against the batch dims, and the result takes the broadcast shape.
  const cutoff = astype(asArray(rcond, x.dtype), x.dtype);
  const lead = broadcastShapes("pinv", x.shape.slice(0, -2), cutoff.shape);
  const half = x.dtype === "float16" || x.dtype === "bfloat16";
  const compute = (y: NdArray): NdArray => (half ? astype(y, "float32") : y);
  const result = pinvPrim.bind1(
    [compute(broadcastTo(x, [...lead, m, n])), compute(broadcastTo(cutoff, lead))],
    {},
  );
  return half ? astype(result, x.dtype) : result;
}

/**
 * 1/s where s exceeds rcond (a number, or an array broadcasting against s [..., k]) times the largest of
 * its row (last axis), else 0; the masked ones get no gradient.
 */
function invertAboveCutoff(s: NdArray, rcond: number | NdArray): NdArray {
  const largest = max(s, { axis: -1, keepdims: true });
  const cutoff = mul(rcond, largest);
  const keep = greater(s, cutoff);
  return where(keep, div(1, where(keep, s, 1)), 0);
}

/** Options of `np.linalg.matrixRank`. */
export interface MatrixRankOptions {
  /** Singular values above `tol` count (absolute; an array broadcasts against the batch dims). */
  tol?: number | NdArray | null;
  /** Relative instead: above `rtol` times the largest (default max(m, n) * eps of the dtype). */
  rtol?: number | NdArray | null;
  /** The matrix is symmetric: accepted; the singular values are the same. */
  hermitian?: boolean;
}

const RANK_KEYS = optionKeys<MatrixRankOptions>({ tol: true, rtol: true, hermitian: true });

/**
 * The rank of a matrix or of each of a stack [..., m, n], int32 (`numpy.linalg.matrix_rank`): how many
 * singular values exceed `tol`, by default max(s) * max(m, n) * eps (numpy's rule; `rtol` replaces the
 * factor max(m, n) * eps). An array of rank < 2 has rank 1 unless every element is 0 (numpy's rule).
 */
export function matrixRank(a: NdArray, options: MatrixRankOptions = {}): NdArray {
  checkOptions("matrixRank", options, RANK_KEYS);
  checkFlag("matrixRank", "hermitian", options.hermitian, false);
  if (a.ndim < 2) return astype(any(notEqual(a, 0)), "int32");
  const x = floatMatrices("matrixRank", a);
  const s = svdvals(x);
  const m = x.shape[x.ndim - 2]!;
  const n = x.shape[x.ndim - 1]!;
  let tol: NdArray;
  if (options.tol !== undefined && options.tol !== null) {
    tol = typeof options.tol === "number" ? asArray(options.tol, s.dtype) : expandDims(options.tol, -1);
  } else {
    const rtol = options.rtol ?? Math.max(m, n) * machineEps(x.dtype);
    tol = mul(max(s, { axis: -1, keepdims: true }), typeof rtol === "number" ? rtol : expandDims(rtol, -1));
  }
  return sum(astype(greater(s, tol), "int32"), { axis: -1 });
}

/** Options of `np.linalg.lstsq`. */
export interface LstsqOptions {
  /**
   * Singular values at or below `rcond` times the largest are treated as zero (default max(m, n) * eps,
   * numpy 2's default; a negative value means eps, as LAPACK).
   */
  rcond?: number | null;
  /**
   * "numpy" (default): numpy's residuals, an empty array unless m > n and the rank is n. For m <= n that
   * is known from the shapes and works everywhere; for m > n it needs the rank's value, so inside `jit`
   * or `vmap` it is a ConcretizationError (JAX's `numpy_resid=True` cannot be traced either). "always":
   * the residual sums in every case (JAX's default, `numpy_resid=False`), under every transform.
   */
  residuals?: "numpy" | "always";
}

const LSTSQ_KEYS = optionKeys<LstsqOptions>({ rcond: true, residuals: true });

/**
 * The least-squares solution of `a x = b` (`numpy.linalg.lstsq`): `a` is [m, n], `b` [m] or [m, k].
 * Returns numpy's four values `[x, residuals, rank, s]`: x ([n] or [n, k]) minimises ‖b - a x‖₂ (and,
 * among minimisers, ‖x‖₂), through the singular values above `rcond` times the largest; `residuals` are
 * the squared 2-norms of the columns of b - a x, shape [k] ([1] for a 1-D b), but an empty [0] array
 * when m <= n or the rank is below n (numpy's rule: the sums would then be zero or not unique
 * information; `residuals: "always"` computes them anyway); `rank` is an int32 scalar; `s` the singular
 * values of `a`. Under `jit` and `vmap` numpy's rule works where m <= n; for a tall `a` it needs the
 * rank's value and throws a ConcretizationError saying so (as JAX's `numpy_resid=True`): pass
 * `residuals: "always"` there. Differentiable in a and b by pinv's rule (x = a⁺ b; PyTorch's lstsq
 * backward is the same), so finite where singular values repeat, along perturbations that keep the rank;
 * `s` differentiates as `svdvals` (distinct singular values).
 */
export function lstsq(
  a: NdArray,
  b: NdArray,
  options: LstsqOptions = {},
): [x: NdArray, residuals: NdArray, rank: NdArray, s: NdArray] {
  checkOptions("lstsq", options, LSTSQ_KEYS);
  const residualsRule =
    checkOptionValue("lstsq", "residuals", options.residuals, ["numpy", "always"]) ?? "numpy";
  if (a.ndim !== 2 || (b.ndim !== 1 && b.ndim !== 2) || a.shape[0] !== b.shape[0]) {
    throw new ShapeError(
      `lstsq: expected a [m, n] matrix and b of shape [m] or [m, k], got a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)}`,
    );
  }
  const [af, bf] = promoteOperands("lstsq", [floatMatrices("lstsq", a), b], "float");
  const m = af!.shape[0]!;
  const n = af!.shape[1]!;
  const b2 = bf!.ndim === 1 ? expandDims(bf!, -1) : bf!;
  const eps = machineEps(af!.dtype);
  const rcond =
    options.rcond === undefined || options.rcond === null
      ? eps * Math.max(m, n)
      : options.rcond < 0
        ? eps
        : options.rcond;
  let x: NdArray;
  let s: NdArray;
  let rank: NdArray;
  if (m === 0 || n === 0) {
    x = zeros([n, b2.shape[1]!], { dtype: af!.dtype });
    s = zeros([0], { dtype: af!.dtype });
    rank = asArray(0, "int32");
  } else {
    const half = af!.dtype === "float16" || af!.dtype === "bfloat16";
    const compute = (y: NdArray): NdArray => (half ? astype(y, "float32") : y);
    const [xw, sw] = lstsqPrim.bind([compute(af!), compute(b2)], { rcond }) as [NdArray, NdArray];
    [x, s] = half ? [astype(xw, af!.dtype), astype(sw, af!.dtype)] : [xw, sw];
    rank = sum(astype(greater(sw, mul(max(sw), rcond)), "int32"));
  }
  const sums = (): NdArray => {
    const r = sub(b2, matmul(af!, x));
    return sum(mul(r, r), { axis: 0 });
  };
  let residuals: NdArray;
  if (residualsRule === "always") residuals = sums();
  else if (m <= n) residuals = zeros([0], { dtype: af!.dtype });
  else residuals = concreteRank(rank, a, b) === n ? sums() : zeros([0], { dtype: af!.dtype });
  return [bf!.ndim === 1 ? reshape(x, [n]) : x, residuals, rank, s];
}

/** Parameters of the `lstsq` primitive: singular values at or below `rcond` times the largest are dropped. */
interface LstsqParams {
  readonly rcond: number;
}

/**
 * `lstsq`: [a [..., m, n], b [..., m, k]] -> [x [..., n, k], s [..., min(m, n)]]: x = a⁺ b (the
 * singular values at or below rcond times the largest dropped) and a's singular values, from one SVD.
 * Its derivative in a and b is pinv's (x = a⁺ b, as PyTorch's lstsq backward), so it is finite where
 * singular values repeat; s's is svd's.
 */
export const lstsqPrim: Primitive<LstsqParams, [a: unknown, b: unknown], [x: unknown, s: unknown]> =
  compositePrimitive<LstsqParams, [a: unknown, b: unknown], [x: unknown, s: unknown]>({
    name: "lstsq",
    abstractEval([a, b]) {
      const [s] = svdShapes("lstsq", a, VALUES_ONLY);
      const r = a.shape.length;
      const m = a.shape[r - 2]!;
      const n = a.shape[r - 1]!;
      if (
        b.dtype !== a.dtype ||
        b.shape.length !== r ||
        fmtShape(b.shape.slice(0, -1)) !== fmtShape(a.shape.slice(0, -1))
      )
        throw new ShapeError(
          `lstsq: expected b of ${a.dtype}[${[...a.shape.slice(0, -1), "k"].join(",")}] (a's dtype, batch dims and rows) for a ${a.dtype}${fmtShape(a.shape)}, got ${b.dtype}${fmtShape(b.shape)}`,
        );
      if (m === 0 || n === 0)
        throw new ShapeError(`lstsq: the primitive takes non-empty matrices, got ${fmtShape(a.shape)}`);
      return [{ shape: [...a.shape.slice(0, -2), n, b.shape[r - 1]!], dtype: a.dtype }, s!];
    },
    expand([a, b], { rcond }) {
      const [s, u, vh] = svdPrim.bind([a], REDUCED) as [NdArray, NdArray, NdArray];
      const sInv = invertAboveCutoff(s, rcond);
      return [matmul(matrixTranspose(vh), mul(expandDims(sInv, -1), matmul(matrixTranspose(u), b))), s];
    },
    jvp([a, b], [da, db], params) {
      const [x, s] = lstsqPrim.bind([a, b], params) as [NdArray, NdArray];
      const p = pinvPrim.bind1([a, full(a.shape.slice(0, -2), params.rcond, { dtype: a.dtype })], {});
      const dx = add(matmul(pinvTangent(a, p, da), b), matmul(p, db));
      const ds = svdPrim.jvp([a], [da], VALUES_ONLY).tangentsOut[0]!;
      return { primalsOut: [x, s], tangentsOut: [dx, ds] };
    },
    batch: (args, dims, params) => [lstsqPrim.bind(batchedToFront(args, dims), params), [0, 0]],
  });

/** The rank's value, or a clear error where it is traced (jit, vmap). */
function concreteRank(rank: NdArray, a: NdArray, b: NdArray): number {
  try {
    return rank.item();
  } catch (e) {
    if (!(e instanceof ConcretizationError)) throw e;
    throw new ConcretizationError(
      `lstsq: numpy's residuals for a tall a ${fmtShape(a.shape)} (b ${fmtShape(b.shape)}) are the squared residual norms when the rank is ${a.shape[1]} and an empty array below it, a shape that depends on the rank's value, which is not known while tracing (jit, vmap; JAX's numpy_resid=True cannot be traced either); pass { residuals: "always" } for the sums in every case (JAX's default), which traces`,
    );
  }
}
