/**
 * The SVD's reflector products formed blocked (LAPACK's dorgbr through dlarft and dlarfb): a block of nb
 * consecutive reflectors is one compact-WY transform I - V T Vᵀ (T upper triangular, from the reflectors'
 * dot products), applied to the trailing part of the product with two GEMMs (`gemmKernel` of
 * backend/index.ts, the WebAssembly one where the plan memory allows), which do nearly all the work.
 */
import type { KernelContext } from "../../core/primitive.js";
import { gemmKernel } from "../index.js";
import { planArray, withResidency } from "../plan-memory.js";
import { bidiagonalize, reflector } from "./linalg-svd-bidiagonal.js";

/** Reflectors per block. */
export const SVD_BLOCK = 32;
/** From this many reflectors on the products are formed blocked. */
export const SVD_BLOCK_MIN = 64;

/** Writes reflector i's entries below its unit one (rows s+1 .. of the product, s = i + shift) to dst[at ..]. */
export type ReflectorTail = (i: number, dst: Float64Array, at: number) => void;

/**
 * Forms Q = R_0 R_1 ... R_{count-1} (rows x cols, row-major, the first `cols` columns of the product) into
 * `q`, for reflectors R_i = I - tau[i] v_i v_iᵀ with v_i zero above row i + shift, one there and `tail`
 * below. Built for one shape: its GEMM kernels and scratch are made (and reserved in the plan memory of
 * `context`) once, here.
 */
export function blockedReflectorProduct(
  context: KernelContext,
  rows: number,
  cols: number,
  count: number,
  shift: number,
): (q: Float64Array, tau: Float64Array, tail: ReflectorTail) => void {
  const nb = SVD_BLOCK;
  const resident = withResidency(context, [true, true], [true]);
  type Gemm = ReturnType<typeof gemmKernel>;
  const blocks: { i0: number; b: number; vtc: Gemm; vw: Gemm }[] = [];
  // Backwards, so that block [i0, i0 + b) meets a product that is the identity outside rows and columns >= i0 + shift.
  for (let i0 = Math.floor((count - 1) / nb) * nb; i0 >= 0; i0 -= nb) {
    const b = Math.min(nb, count - i0);
    const nr = rows - i0 - shift;
    const nc = cols - i0 - shift;
    blocks.push({
      i0,
      b,
      vtc: gemmKernel("float64", 1, b, nr, nc, resident),
      vw: gemmKernel("float64", 1, nr, b, nc, resident, { transposeA: true }),
    });
  }
  const vtScratch = planArray(context, "float64", nb * rows);
  const cScratch = planArray(context, "float64", rows * cols);
  const wScratch = planArray(context, "float64", nb * cols);
  const pScratch = planArray(context, "float64", rows * cols);
  const t = new Float64Array(nb * nb);
  const dots = new Float64Array(nb);

  return (q, tau, tail) => {
    q.fill(0, 0, rows * cols);
    for (let i = 0; i < Math.min(rows, cols); i++) q[i * cols + i] = 1;
    for (const { i0, b, vtc, vw } of blocks) {
      const r0 = i0 + shift;
      const nr = rows - r0;
      const nc = cols - r0;
      // Vᵀ (b x nr): row j is v_{i0+j} from row r0 on.
      const vt = (vtScratch() as Float64Array).subarray(0, b * nr);
      vt.fill(0);
      for (let j = 0; j < b; j++) {
        vt[j * nr + j] = 1;
        tail(i0 + j, vt, j * nr + j + 1);
      }
      // T (dlarft, forward, columnwise): T[0..j, j] = -tau_j T[0..j, 0..j] (Vᵀ v_j), T[j, j] = tau_j.
      for (let j = 0; j < b; j++) {
        const tj = tau[i0 + j]!;
        for (let i = 0; i < j; i++) {
          let s = 0;
          for (let r = j; r < nr; r++) s += vt[i * nr + r]! * vt[j * nr + r]!;
          dots[i] = -tj * s;
        }
        for (let i = 0; i < j; i++) {
          let s = 0;
          for (let l = i; l < j; l++) s += t[i * nb + l]! * dots[l]!;
          t[i * nb + j] = s;
        }
        t[j * nb + j] = tj;
      }
      // C = Q[r0.., r0..]; W = T (Vᵀ C); Q[r0.., r0..] = C - V W.
      const c = (cScratch() as Float64Array).subarray(0, nr * nc);
      for (let r = 0; r < nr; r++) c.set(q.subarray((r0 + r) * cols + r0, (r0 + r + 1) * cols), r * nc);
      const w = (wScratch() as Float64Array).subarray(0, b * nc);
      vtc(vt, c, w);
      for (let i = 0; i < b; i++) {
        const wi = i * nc;
        const tii = t[i * nb + i]!;
        for (let x = 0; x < nc; x++) w[wi + x]! *= tii;
        for (let j = i + 1; j < b; j++) {
          const tij = t[i * nb + j]!;
          if (tij === 0) continue;
          const wj = j * nc;
          for (let x = 0; x < nc; x++) w[wi + x]! += tij * w[wj + x]!;
        }
      }
      const p = (pScratch() as Float64Array).subarray(0, nr * nc);
      vw(vt, w, p);
      for (let r = 0; r < nr; r++) {
        const qo = (r0 + r) * cols + r0;
        const co = r * nc;
        for (let x = 0; x < nc; x++) q[qo + x] = c[co + x]! - p[co + x]!;
      }
    }
  };
}

/**
 * Reduces the m x n (m >= n) row-major `a` to upper bidiagonal form as `bidiagonalize` does (same
 * outputs and reflector storage), blocked as LAPACK's dgebrd: dlabrd reduces nb columns and rows while
 * building X (m x nb) and Y (n x nb) such that the trailing matrix's update is A -= V Yᵀ + X Uᵀ, which one
 * GEMM applies; the matrix-vector products of each step stay in JS, contiguous and fused by row. The last
 * columns are reduced unblocked. Built for one shape, its GEMMs and scratch made here.
 */
export function blockedBidiagonalize(
  context: KernelContext,
  m: number,
  n: number,
): (
  a: Float64Array,
  d: Float64Array,
  e: Float64Array,
  tauq: Float64Array,
  taup: Float64Array,
  w: Float64Array,
  u: Float64Array,
  v: Float64Array,
) => void {
  const nb = SVD_BLOCK;
  const resident = withResidency(context, [true, true], [true]);
  type Gemm = ReturnType<typeof gemmKernel>;
  const blocks: { i0: number; gemm: Gemm }[] = [];
  // Blocked while more than two blocks remain (dgebrd's crossover), so every trailing update is a real GEMM.
  let i0 = 0;
  for (; n - i0 > 2 * nb; i0 += nb) {
    blocks.push({ i0, gemm: gemmKernel("float64", 1, m - i0 - nb, 2 * nb, n - i0 - nb, resident) });
  }
  const unblockedFrom = i0;
  const rows0 = m - nb;
  const cols0 = n - nb;
  const leftScratch = planArray(context, "float64", Math.max(rows0, 0) * 2 * nb);
  const rightScratch = planArray(context, "float64", 2 * nb * Math.max(cols0, 0));
  const productScratch = planArray(context, "float64", Math.max(rows0, 0) * Math.max(cols0, 0));
  const x = new Float64Array(m * nb); // X, row r at r * nb
  const yt = new Float64Array(nb * n); // Yᵀ, column j of Y at j * n
  const acc = new Float64Array(n);
  const t = new Float64Array(2 * nb);
  const t2 = new Float64Array(nb);

  return (a, d, e, tauq, taup, w, u, v) => {
    for (const { i0, gemm } of blocks) {
      panel(a, m, n, i0, nb, d, e, tauq, taup, x, yt, acc, t, t2, u, v);
      // A[i0+nb.., i0+nb..] -= [V | X] [Yᵀ; Uᵀ], U's unit at a[i0+nb-1, i0+nb] still in place.
      const r0 = i0 + nb;
      const rows = m - r0;
      const cols = n - r0;
      const left = (leftScratch() as Float64Array).subarray(0, rows * 2 * nb);
      const right = (rightScratch() as Float64Array).subarray(0, 2 * nb * cols);
      const product = (productScratch() as Float64Array).subarray(0, rows * cols);
      for (let r = 0; r < rows; r++) {
        const lo = r * 2 * nb;
        const ao = (r0 + r) * n + i0;
        for (let j = 0; j < nb; j++) left[lo + j] = a[ao + j]!;
        const xo = (r0 + r) * nb;
        for (let j = 0; j < nb; j++) left[lo + nb + j] = x[xo + j]!;
      }
      for (let j = 0; j < nb; j++) {
        right.set(yt.subarray(j * n + r0, (j + 1) * n), j * cols);
        right.set(a.subarray((i0 + j) * n + r0, (i0 + j + 1) * n), (nb + j) * cols);
      }
      gemm(left, right, product);
      for (let r = 0; r < rows; r++) {
        const ao = (r0 + r) * n + r0;
        const po = r * cols;
        for (let c = 0; c < cols; c++) a[ao + c] = a[ao + c]! - product[po + c]!;
      }
      for (let j = i0; j < r0; j++) a[j * n + j + 1] = e[j]!;
    }
    bidiagonalize(a, m, n, d, e, tauq, taup, w, u, v, unblockedFrom);
  };
}

/**
 * dlabrd on columns and rows i0 .. i0+nb of the m x n `a` (nb < n - i0): the reflectors as `bidiagonalize`
 * makes them, the trailing matrix left un-updated, X (rows at x[r * nb]) and Yᵀ (yt[j * n + c]) for its
 * update; row reflector i's unit entry is left in a[i, i+1] (the caller restores e).
 */
function panel(
  a: Float64Array,
  m: number,
  n: number,
  i0: number,
  nb: number,
  d: Float64Array,
  e: Float64Array,
  tauq: Float64Array,
  taup: Float64Array,
  x: Float64Array,
  yt: Float64Array,
  acc: Float64Array,
  t: Float64Array,
  t2: Float64Array,
  u: Float64Array,
  v: Float64Array,
): void {
  for (let i = 0; i < nb; i++) {
    const g = i0 + i;
    // Column g, rows g..: A -= V Y[g, :i]ᵀ + X U[:i, g] (the updates so far of this panel).
    for (let j = 0; j < i; j++) {
      t[j] = yt[j * n + g]!;
      t2[j] = a[(i0 + j) * n + g]!;
    }
    for (let r = g; r < m; r++) {
      let s = 0;
      const ao = r * n + i0;
      const xo = r * nb;
      for (let j = 0; j < i; j++) s += a[ao + j]! * t[j]! + x[xo + j]! * t2[j]!;
      v[r] = a[r * n + g]! - s;
    }
    const tq = reflector(v, g, m - g);
    tauq[g] = tq;
    d[g] = v[g]!;
    for (let r = g; r < m; r++) a[r * n + g] = v[r]!;
    v[g] = 1;
    const c0 = g + 1;
    // Y[c0.., i] = tq (Aᵀ v - Y (Vᵀ v) - U (Xᵀ v)), with A the panel-start trailing matrix. One pass over
    // rows g..: acc = [A[r, i0..g) | A[r, c0..)] accumulated times v_r, and Xᵀ v.
    acc.fill(0, i0, n);
    t2.fill(0, 0, i);
    let r = g;
    for (; r + 3 < m; r += 4) {
      // Four rows a pass: a quarter of the loads and stores of acc.
      const v0 = v[r]!;
      const v1 = v[r + 1]!;
      const v2 = v[r + 2]!;
      const v3 = v[r + 3]!;
      const r0 = r * n;
      const r1 = r0 + n;
      const r2 = r1 + n;
      const r3 = r2 + n;
      for (let c = i0; c < g; c++)
        acc[c]! += v0 * a[r0 + c]! + v1 * a[r1 + c]! + (v2 * a[r2 + c]! + v3 * a[r3 + c]!);
      for (let c = c0; c < n; c++)
        acc[c]! += v0 * a[r0 + c]! + v1 * a[r1 + c]! + (v2 * a[r2 + c]! + v3 * a[r3 + c]!);
      const x0 = r * nb;
      for (let j = 0; j < i; j++)
        t2[j]! +=
          v0 * x[x0 + j]! + v1 * x[x0 + nb + j]! + (v2 * x[x0 + 2 * nb + j]! + v3 * x[x0 + 3 * nb + j]!);
    }
    for (; r < m; r++) {
      const vr = v[r]!;
      const ro = r * n;
      for (let c = i0; c < g; c++) acc[c]! += vr * a[ro + c]!;
      for (let c = c0; c < n; c++) acc[c]! += vr * a[ro + c]!;
      const xo = r * nb;
      for (let j = 0; j < i; j++) t2[j]! += vr * x[xo + j]!;
    }
    const yo = i * n;
    for (let c = c0; c < n; c++) yt[yo + c] = acc[c]!;
    for (let j = 0; j < i; j++) {
      const vtv = acc[i0 + j]!;
      const xtv = t2[j]!;
      const yj = j * n;
      const uj = (i0 + j) * n;
      for (let c = c0; c < n; c++) yt[yo + c]! -= yt[yj + c]! * vtv + a[uj + c]! * xtv;
    }
    for (let c = c0; c < n; c++) yt[yo + c]! *= tq;
    // Row g, columns c0..: A -= Y[c0.., :i+1] A[g, i0..g]ᵀ (V's row g, unit at g) + U[:i, c0..]ᵀ X[g, :i].
    const go = g * n;
    for (let j = 0; j <= i; j++) {
      const coef = j === i ? 1 : a[go + i0 + j]!;
      const yj = j * n;
      for (let c = c0; c < n; c++) a[go + c]! -= coef * yt[yj + c]!;
    }
    for (let j = 0; j < i; j++) {
      const coef = x[g * nb + j]!;
      const uj = (i0 + j) * n;
      for (let c = c0; c < n; c++) a[go + c]! -= coef * a[uj + c]!;
    }
    // The row reflector of row g, its unit left in place.
    const tp = reflector(a, go + c0, n - c0);
    taup[g] = tp;
    e[g] = a[go + c0]!;
    a[go + c0] = 1;
    for (let c = c0; c < n; c++) u[c] = a[go + c]!;
    // X[g+1.., i] = tp (A u - V (Yᵀ u) - X (Uᵀ u)), over j <= i for V and j < i for X.
    for (let j = 0; j <= i; j++) {
      let s = 0;
      const yj = j * n;
      for (let c = c0; c < n; c++) s += yt[yj + c]! * u[c]!;
      t[j] = s;
    }
    for (let j = 0; j < i; j++) {
      let s = 0;
      const uj = (i0 + j) * n;
      for (let c = c0; c < n; c++) s += a[uj + c]! * u[c]!;
      t2[j] = s;
    }
    for (let r = g + 1; r < m; r += 2) {
      // Two rows at once, two partial sums each: four independent chains of adds.
      const two = r + 1 < m;
      const r0 = r * n;
      const r1 = two ? r0 + n : r0;
      let s0 = 0;
      let s1 = 0;
      let q0 = 0;
      let q1 = 0;
      let c = c0;
      for (; c + 1 < n; c += 2) {
        const u0 = u[c]!;
        const u1 = u[c + 1]!;
        s0 += a[r0 + c]! * u0;
        q0 += a[r0 + c + 1]! * u1;
        s1 += a[r1 + c]! * u0;
        q1 += a[r1 + c + 1]! * u1;
      }
      if (c < n) {
        s0 += a[r0 + c]! * u[c]!;
        s1 += a[r1 + c]! * u[c]!;
      }
      s0 += q0;
      s1 += q1;
      const x0 = r * nb;
      const x1 = two ? x0 + nb : x0;
      for (let j = 0; j <= i; j++) {
        s0 -= a[r0 + i0 + j]! * t[j]!;
        s1 -= a[r1 + i0 + j]! * t[j]!;
      }
      for (let j = 0; j < i; j++) {
        s0 -= x[x0 + j]! * t2[j]!;
        s1 -= x[x1 + j]! * t2[j]!;
      }
      x[x0 + i] = tp * s0;
      if (two) x[x1 + i] = tp * s1;
    }
  }
}
