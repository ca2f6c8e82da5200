/**
 * The symmetric eigenproblem for larger n, as LAPACK's dsyev does it, on float64 storage:
 *
 * - dsytrd (lower): A = Q T Qᵀ, top down, a panel of EIGH_BLOCK columns at a time (dlatrd). Within a
 *   panel the reflectors are made from columns updated on the fly (A - V Wᵀ - W Vᵀ restricted to the
 *   column), so the trailing matrix is read once per column (the symmetric matrix-vector product, half
 *   the flops) and updated once per panel as A -= [V W] [W V]ᵀ, one GEMM (the backend's `gemmKernel`,
 *   WebAssembly SIMD where the plan memory is wasm) for the other half.
 * - Q = H_0 ... H_{n-2} formed blocked (dorgtr: the reflectors start one row below their column, so Q is
 *   diag(1, Q') with Q' a QR's Q; linalg-qr-blocked.ts forms it with compact-WY GEMMs).
 * - The implicit QL iterations of linalg-eigh.ts on (d, e), their rotations applied to Qᵀ's rows (in
 *   WebAssembly where linalg-eigh-rotations.ts can), the rows sorted and sign-normalised.
 *
 * The reflectors are not tred2's (it reduces bottom up), so the numbers differ from the unblocked kernel
 * by rounding; eigenvalues and sign-normalised eigenvectors of distinct eigenvalues agree to it.
 */
import type { KernelContext } from "../../core/primitive.js";
import { gemmKernel } from "../index.js";
import { planArray, withResidency } from "../plan-memory.js";
import {
  normalizeSigns,
  scaleToSafeRange,
  symmetricEigen,
  symmetricEigenFail,
  tridiagonalQl,
  unscale,
} from "./linalg-eigh.js";
import { wasmMatrixVector } from "./linalg-eigh-matvec.js";
import { type RowRotations, rowRotations } from "./linalg-eigh-rotations.js";
import { qFormer } from "./linalg-qr-blocked.js";

/** Columns per tridiagonalisation panel (LAPACK's dsytrd default). */
export const EIGH_BLOCK = 32;
/** From this order on eigh is blocked (below, the unblocked tred2/tql2 is faster). */
export const EIGH_BLOCK_MIN = 64;
/** From this order on the eigenvector rotations run in WebAssembly (below, the call costs more than it saves). */
const EIGH_WASM_ROTATIONS_MIN = 16;

/** The panel width and the crossover to the blocked kernel (tests make them small). */
export interface EighBlocking {
  /** Columns per tridiagonalisation panel. */
  readonly block: number;
  /** Blocked from this order on. */
  readonly blockMin: number;
}

/** The symmetric eigensolver of one order n, with its scratch. */
export interface SymmetricEigensolver {
  /**
   * The n x n work matrix: the symmetric input goes in (row-major, both triangles), and after solve()
   * row j holds the unit eigenvector of eigenvalue j (largest-magnitude component positive).
   */
  readonly u: () => Float64Array;
  /**
   * Eigenvalues into d (ascending) and, with vectors, eigenvectors into u(). False (d and u NaN) when the
   * input is not finite or the iteration does not converge.
   */
  solve(d: Float64Array): boolean;
}

type Gemm = (a: Float64Array, b: Float64Array, out: Float64Array) => void;

/**
 * The eigensolver for order n (eigenvectors too when `vectors`), its scratch in `context`'s plan memory:
 * blocked from `blocking.blockMin` on (EIGH_BLOCK_MIN), else linalg-eigh.ts's tred2 and tql2.
 */
export function symmetricEigensolver(
  n: number,
  vectors: boolean,
  context: KernelContext,
  blocking: EighBlocking = { block: EIGH_BLOCK, blockMin: EIGH_BLOCK_MIN },
): SymmetricEigensolver {
  const rotations: RowRotations | null =
    vectors && n >= Math.min(EIGH_WASM_ROTATIONS_MIN, blocking.blockMin) ? rowRotations(n, context) : null;
  const e = new Float64Array(n);
  if (n < blocking.blockMin || n < 2) {
    const own = rotations ? null : new Float64Array(n * n);
    const u = rotations ? rotations.u : () => own!;
    return { u, solve: (d) => symmetricEigen(u(), n, d, e, vectors, rotations) };
  }
  // In the plan memory where the wasm matrix-vector products read it.
  const own = context.wasm ? null : new Float64Array(n * n);
  const u = rotations
    ? rotations.u
    : own
      ? () => own
      : (planArray(context, "float64", n * n) as () => Float64Array);
  const tridiagonalize = blockedTridiagonalization(n, Math.min(blocking.block, n - 1), context);
  const reflectors = new Float64Array((n - 1) * (n - 1));
  const tau = new Float64Array(n - 1);
  const formQ = vectors ? qFormer(n - 1, n - 1, n - 1, context, blocking) : null;
  const q = vectors ? new Float64Array((n - 1) * (n - 1)) : null;
  return {
    u,
    solve(d) {
      const a = u();
      const sigma = scaleToSafeRange(a, n);
      if (Number.isNaN(sigma)) return symmetricEigenFail(a, n, d);
      tridiagonalize(a, d, e, reflectors, tau);
      if (formQ) {
        formQ(reflectors, tau, q!);
        // u = Qᵀ, Q = diag(1, Q'): the QL rotations combine u's rows (Q's columns).
        a.fill(0);
        a[0] = 1;
        const m = n - 1;
        for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) a[(j + 1) * n + k + 1] = q![k * m + j]!;
      }
      if (!tridiagonalQl(a, n, d, e, vectors, rotations)) return symmetricEigenFail(a, n, d);
      if (vectors) normalizeSigns(a, n);
      unscale(d, n, sigma);
      return true;
    },
  };
}

/**
 * dsytrd (lower) of the symmetric n x n matrix `a` (row-major, both triangles; overwritten): T's diagonal
 * into d, its subdiagonal into e (e[i] = T[i, i-1], e[0] = 0); reflector c (c < n - 1) is
 * H_c = I - tau[c] v vᵀ with v 0 above row c + 1, 1 there and its tail below row c + 1 stored at
 * reflectors[(r - 1) * (n - 1) + c] for row r (the layout of a QR of n - 1 columns, for qFormer).
 */
function blockedTridiagonalization(
  n: number,
  nb: number,
  context: KernelContext,
): (a: Float64Array, d: Float64Array, e: Float64Array, reflectors: Float64Array, tau: Float64Array) => void {
  // Panel column j's V and W rows, each panel-relative and contiguous (entries above row j + 1 zero), in
  // the plan memory for the wasm matrix-vector product.
  const vs = planArray(context, "float64", nb * n) as () => Float64Array;
  const ws = planArray(context, "float64", nb * n) as () => Float64Array;
  const matrixVector = wasmMatrixVector(n, context);
  const column = new Float64Array(n);
  // The trailing update's GEMM, one per panel: A[k1.., k1..] -= [V W] [W V]ᵀ.
  const left = planArray(context, "float64", n * 2 * nb) as () => Float64Array;
  const right = planArray(context, "float64", n * 2 * nb) as () => Float64Array;
  const product = planArray(context, "float64", n * n) as () => Float64Array;
  const resident = withResidency(context, [true, true], [true]);
  const gemms = new Map<number, Gemm>();
  for (let k0 = 0; k0 < n - 1; k0 += nb) {
    const kb = Math.min(nb, n - 1 - k0);
    const rest = n - k0 - kb;
    gemms.set(k0, gemmKernel("float64", 1, rest, 2 * kb, rest, resident, { transposeB: true }) as Gemm);
  }
  const m = n - 1;
  return (a, d, e, reflectors, tau) => {
    const v = vs();
    const w = ws();
    e[0] = 0;
    for (let k0 = 0; k0 < n - 1; k0 += nb) {
      const kb = Math.min(nb, n - 1 - k0);
      const size = n - k0; // the trailing matrix, rows and columns k0..n
      for (let j = 0; j < kb; j++) {
        const vj = v.subarray(j * size, (j + 1) * size);
        const wj = w.subarray(j * size, (j + 1) * size);
        // Column k0 + j of the matrix updated by the panel's reflectors so far (rows j.. of the panel).
        const row = (k0 + j) * n + k0;
        for (let r = j; r < size; r++) column[r] = a[row + r]!;
        for (let l = 0; l < j; l++) {
          const vl = l * size;
          const wjl = w[vl + j]!;
          const vjl = v[vl + j]!;
          for (let r = j; r < size; r++) column[r]! -= v[vl + r]! * wjl + w[vl + r]! * vjl;
        }
        d[k0 + j] = column[j]!;
        // dlarfg on column[j + 1..]: beta to T's subdiagonal, v = (1, x / (alpha - beta)).
        const t = makeReflector(column, j + 1, size);
        e[k0 + j + 1] = column[j + 1]!;
        tau[k0 + j] = t;
        vj.fill(0, 0, j + 1);
        vj[j + 1] = 1;
        for (let r = j + 2; r < size; r++) vj[r] = column[r]!;
        for (let r = j + 2; r < size; r++) reflectors[(k0 + r - 1) * m + k0 + j] = column[r]!;
        wj.fill(0, 0, j + 1);
        if (t === 0) {
          wj.fill(0);
          continue;
        }
        // w = tau (A v - V (Wᵀ v) - W (Vᵀ v)) on rows j + 1.., A the trailing matrix before this panel.
        const first = (k0 + j + 1) * n + k0 + j + 1;
        if (matrixVector) {
          const at = (i: number) => i * 8;
          matrixVector(
            a.byteOffset + at(first),
            size - j - 1,
            size - j - 1,
            vj.byteOffset + at(j + 1),
            wj.byteOffset + at(j + 1),
          );
        } else {
          for (let r = j + 1; r < size; r++) {
            const ar = first + (r - j - 1) * n - j - 1;
            let s = 0;
            for (let c = j + 1; c < size; c++) s += a[ar + c]! * vj[c]!;
            wj[r] = s;
          }
        }
        for (let l = 0; l < j; l++) {
          const vl = l * size;
          let wv = 0;
          let vv = 0;
          for (let r = j + 1; r < size; r++) {
            wv += w[vl + r]! * vj[r]!;
            vv += v[vl + r]! * vj[r]!;
          }
          for (let r = j + 1; r < size; r++) wj[r]! -= v[vl + r]! * wv + w[vl + r]! * vv;
        }
        let dot = 0;
        for (let r = j + 1; r < size; r++) {
          wj[r]! *= t;
          dot += wj[r]! * vj[r]!;
        }
        // w -= (tau/2)(wᵀ v) v, so that the update V Wᵀ + W Vᵀ is the two-sided H A H.
        const alpha = -0.5 * t * dot;
        for (let r = j + 1; r < size; r++) wj[r]! += alpha * vj[r]!;
      }
      // The trailing matrix (rows and columns k1..n): A -= V Wᵀ + W Vᵀ.
      const rest = size - kb;
      if (rest > 0) {
        const l = left().subarray(0, rest * 2 * kb) as Float64Array;
        const rt = right().subarray(0, rest * 2 * kb) as Float64Array;
        for (let r = 0; r < rest; r++) {
          for (let j = 0; j < kb; j++) {
            const vr = v[j * size + kb + r]!;
            const wr = w[j * size + kb + r]!;
            l[r * 2 * kb + j] = vr;
            l[r * 2 * kb + kb + j] = wr;
            rt[r * 2 * kb + j] = wr;
            rt[r * 2 * kb + kb + j] = vr;
          }
        }
        const p = product().subarray(0, rest * rest) as Float64Array;
        gemms.get(k0)!(l, rt, p);
        const k1 = k0 + kb;
        for (let r = 0; r < rest; r++) {
          const ar = (k1 + r) * n + k1;
          const pr = r * rest;
          for (let c = 0; c < rest; c++) a[ar + c] = a[ar + c]! - p[pr + c]!;
        }
      }
    }
    d[n - 1] = a[(n - 1) * n + n - 1]!;
  };
}

/**
 * dlarfg on alpha = x[at] and the tail x[at + 1..end): beta into x[at], the tail scaled to v's
 * (x / (alpha - beta)); returns tau (0, with nothing changed, when the tail is zero).
 */
function makeReflector(x: Float64Array, at: number, end: number): number {
  const alpha = x[at]!;
  let scale = 0;
  for (let i = at + 1; i < end; i++) scale = Math.max(scale, Math.abs(x[i]!));
  if (scale === 0) return 0;
  let ssq = 0;
  for (let i = at + 1; i < end; i++) {
    const r = x[i]! / scale;
    ssq += r * r;
  }
  const xnorm = scale * Math.sqrt(ssq);
  const big = Math.max(Math.abs(alpha), xnorm);
  const small = Math.min(Math.abs(alpha), xnorm);
  const norm = big * Math.sqrt(1 + (small / big) ** 2);
  const beta = alpha < 0 || Object.is(alpha, -0) ? norm : -norm;
  const tau = (beta - alpha) / beta;
  const s = 1 / (alpha - beta);
  for (let i = at + 1; i < end; i++) x[i]! *= s;
  x[at] = beta;
  return tau;
}
