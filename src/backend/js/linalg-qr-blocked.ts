/**
 * Blocked Householder QR (LAPACK's dgeqrf and dorgqr) of `batch` row-major m x n matrices, in float64.
 *
 * The reflectors are the unblocked ones (linalg-qr.ts, dgeqr2/dlarfg), computed panel by panel, so the
 * factors are LAPACK's to rounding. A panel of QR_BLOCK columns (rows k0..m) is copied out and factored
 * unblocked; its reflectors H = H_k0 ... H_k1-1 = I - V T Vᵀ get their compact-WY factor T (dlarft,
 * forward and columnwise), and the trailing columns are updated as Hᵀ C = C - V Tᵀ (Vᵀ C) (dlarfb): two
 * GEMMs (the backend's `gemmKernel`, WebAssembly SIMD where the plan memory is wasm) that do most of the
 * multiply-adds, and a small triangular product between them. Q is formed backwards from the identity,
 * one block reflector per panel: Q[k0.., k0..] = H Q[k0.., k0..] = C - V T (Vᵀ C).
 *
 * Below QR_BLOCK_MIN reflectors (min(m, n)) the unblocked loops are faster and run instead.
 */
import type { TypedArray } from "../../core/dtype.js";
import type { KernelContext } from "../../core/primitive.js";
import { gemmKernel } from "../index.js";
import { planArray, withResidency } from "../plan-memory.js";
import { formQ, householderQr, householderQrColumns } from "./linalg-qr.js";

/** Reflectors per panel (LAPACK's default block size for dgeqrf). */
export const QR_BLOCK = 32;
/** From this many reflectors (min(m, n)) on the factorization and Q's formation are blocked. */
export const QR_BLOCK_MIN = 64;

/** A kernel on row-major operands: x [batch, m, n] in; q [batch, m, qCols] and r [batch, qCols, n] out. */
export type QrKernel = (x: TypedArray, q: TypedArray, r: TypedArray) => void;

type Gemm = (a: TypedArray, b: TypedArray, out: TypedArray) => void;

/** The panel width and the crossover to the blocked loops (tests make them small). */
export interface QrBlocking {
  /** Reflectors per panel. */
  readonly block: number;
  /** Blocked from this many reflectors (min(m, n)) on. */
  readonly blockMin: number;
}

/** The operands of the block reflectors' GEMMs (in the plan memory) and the T factors kept between uses. */
interface BlockScratch {
  /** Reflectors per panel. */
  readonly nb: number;
  /** V, [rows, kb] unit lower trapezoidal. */
  readonly v: () => TypedArray;
  /** T (or the T of the panel at hand), [kb, kb] upper triangular. */
  readonly t: () => TypedArray;
  /** Y = V op(T), [rows, kb]. */
  readonly y: () => TypedArray;
  /** C, [rows, cols]: the columns a block reflector is applied to. */
  readonly c: () => TypedArray;
  /** W = Vᵀ C, [kb, cols]. */
  readonly w: () => TypedArray;
  /** Y W, [rows, cols]. */
  readonly product: () => TypedArray;
  /** Every panel's T (nb x nb each), made while factoring and reused to form Q. */
  readonly ts: Float64Array;
  /** Scratch for VᵀV, [nb, nb]. */
  readonly gram: Float64Array;
  /** The panel being factored, column by column ([kb, rows]). */
  readonly panel: Float64Array;
  /** The GEMMs by shape (see gemmKey). */
  readonly gemms: ReadonlyMap<string, Gemm>;
}

/** The key of the GEMM out[m, n] = A[m, k] B[k, n], A stored transposed ("t") or B ("u") or neither. */
function gemmKey(m: number, k: number, n: number, layout: "" | "t" | "u"): string {
  return `${m},${k},${n},${layout}`;
}

/**
 * The QR kernel for `batch` m x n matrices: Q's first `qCols` columns (min(m, n) reduced, m complete) and
 * R's first qCols rows. Blocked from `blocking.blockMin` reflectors on (QR_BLOCK_MIN), with its scratch
 * in `context`'s plan memory; else the unblocked loops of linalg-qr.ts.
 */
export function qrKernel(
  batch: number,
  m: number,
  n: number,
  qCols: number,
  context: KernelContext,
  blocking: QrBlocking = { block: QR_BLOCK, blockMin: QR_BLOCK_MIN },
): QrKernel {
  const reflectors = Math.min(m, n);
  const work = new Float64Array(m * n);
  const tau = new Float64Array(reflectors);
  const w = new Float64Array(Math.max(m, n, 1));
  const qWork = new Float64Array(m * qCols);
  const scratch =
    batch > 0 && reflectors >= blocking.blockMin ? blockScratch(m, n, qCols, blocking.block, context) : null;
  return (x, q, r) => {
    for (let b = 0; b < batch; b++) {
      const off = b * m * n;
      for (let i = 0; i < m * n; i++) work[i] = x[off + i]!;
      if (scratch) factorBlocked(work, m, n, tau, scratch);
      else householderQr(work, m, n, tau, w);
      // R: the upper trapezoid of the first qCols rows (zeros below the diagonal).
      const rOff = b * qCols * n;
      for (let i = 0; i < qCols; i++)
        for (let j = 0; j < n; j++) r[rOff + i * n + j] = j >= i ? work[i * n + j]! : 0;
      const qOff = b * m * qCols;
      const target = q instanceof Float64Array ? q.subarray(qOff, qOff + m * qCols) : qWork;
      if (scratch) formQBlocked(work, m, n, target, qCols, scratch);
      else formQ(work, m, n, tau, target, qCols, w);
      if (target === qWork) for (let i = 0; i < m * qCols; i++) q[qOff + i] = qWork[i]!;
    }
  };
}

/**
 * dorgqr alone: a former of Q's first `qCols` columns (m x qCols, row-major) from reflectors made
 * elsewhere, stored as householderQr leaves them in an m x n matrix (tails below the diagonal, scales in
 * tau; what is on and above the diagonal is not read). Blocked (compact-WY, GEMMs) from
 * `blocking.blockMin` reflectors on, else the unblocked dorg2r.
 */
export function qFormer(
  m: number,
  n: number,
  qCols: number,
  context: KernelContext,
  blocking: QrBlocking = { block: QR_BLOCK, blockMin: QR_BLOCK_MIN },
): (a: Float64Array, tau: Float64Array, q: Float64Array) => void {
  const reflectors = Math.min(m, n);
  if (reflectors < blocking.blockMin) {
    const w = new Float64Array(Math.max(qCols, 1));
    return (a, tau, q) => formQ(a, m, n, tau, q, qCols, w);
  }
  const s = blockScratch(m, n, qCols, blocking.block, context, false);
  return (a, tau, q) => {
    // Each panel's T from the reflectors' Gram matrix (dlarft), as the factorization would have kept it.
    for (const [p, [k0, kb]] of panels(reflectors, s.nb).entries()) {
      const t = s.ts.subarray(p * s.nb * s.nb, p * s.nb * s.nb + kb * kb);
      formT(rowMajorGram(a, m, n, k0, kb, s.gram), kb, tau.subarray(k0, k0 + kb), t);
    }
    formQBlocked(a, m, n, q, qCols, s);
  };
}

/** panelGram of the reflectors k0..k0+kb stored in the row-major m x n matrix `a`. */
function rowMajorGram(
  a: Float64Array,
  m: number,
  n: number,
  k0: number,
  kb: number,
  gram: Float64Array,
): Float64Array {
  // v_i is 0 above row k0 + i and 1 at it; v_j (j < i) is a[k0 + i, k0 + j] there.
  for (let i = 1; i < kb; i++) for (let j = 0; j < i; j++) gram[i * kb + j] = a[(k0 + i) * n + k0 + j]!;
  for (let r = k0 + 1; r < m; r++) {
    const row = r * n + k0;
    const below = Math.min(kb, r - k0);
    for (let i = 1; i < below; i++) {
      const vi = a[row + i]!;
      if (vi === 0) continue;
      for (let j = 0; j < i; j++) gram[i * kb + j]! += vi * a[row + j]!;
    }
  }
  return gram;
}

/** The panels (first column, width) of the blocked factorization of min(m, n) = `reflectors`. */
function panels(reflectors: number, nb: number): [k0: number, kb: number][] {
  const out: [number, number][] = [];
  for (let k0 = 0; k0 < reflectors; k0 += nb) out.push([k0, Math.min(nb, reflectors - k0)]);
  return out;
}

/** The plan-memory operands and the GEMM of every shape the factorization and Q's formation use. */
function blockScratch(
  m: number,
  n: number,
  qCols: number,
  nb: number,
  context: KernelContext,
  factor = true,
): BlockScratch {
  const shapes = new Map<string, [number, number, number, "" | "t" | "u"]>();
  const need = (mm: number, k: number, nn: number, layout: "" | "t" | "u") =>
    shapes.set(gemmKey(mm, k, nn, layout), [mm, k, nn, layout]);
  const all = panels(Math.min(m, n), nb);
  for (const [k0, kb] of all) {
    const rows = m - k0;
    // Factor: Y = V Tᵀ, W = Vᵀ C, Y W. Q: Y = V T, the same on the columns right of the panel, and
    // the panel's own columns as Y V₁ᵀ.
    for (const cols of factor ? [n - k0 - kb, qCols - k0 - kb] : [qCols - k0 - kb]) {
      if (cols <= 0) continue;
      need(kb, rows, cols, "t");
      need(rows, kb, cols, "");
    }
    need(rows, kb, kb, "u");
    need(rows, kb, kb, "");
  }
  const resident = withResidency(context, [true, true], [true]);
  const gemms = new Map<string, Gemm>();
  for (const [key, [mm, k, nn, layout]] of shapes)
    gemms.set(
      key,
      gemmKernel("float64", 1, mm, k, nn, resident, {
        transposeA: layout === "t",
        transposeB: layout === "u",
      }),
    );
  const widest = Math.max(n, qCols);
  return {
    nb,
    v: planArray(context, "float64", m * nb),
    t: planArray(context, "float64", nb * nb),
    y: planArray(context, "float64", m * nb),
    c: planArray(context, "float64", m * widest),
    w: planArray(context, "float64", nb * widest),
    product: planArray(context, "float64", m * widest),
    ts: new Float64Array(all.length * nb * nb),
    gram: new Float64Array(nb * nb),
    panel: new Float64Array(m * nb),
    gemms,
  };
}

/** dgeqrf: `a` (m x n) factored in place as householderQr leaves it, panel by panel; each T kept. */
function factorBlocked(a: Float64Array, m: number, n: number, tau: Float64Array, s: BlockScratch): void {
  const nb = s.nb;
  for (const [p, [k0, kb]] of panels(Math.min(m, n), nb).entries()) {
    const k1 = k0 + kb;
    const rows = m - k0;
    // The panel, copied out column by column, factored unblocked, copied back, and V from it.
    const panel = s.panel;
    for (let i = 0; i < rows; i++) {
      const src = (k0 + i) * n + k0;
      for (let l = 0; l < kb; l++) panel[l * rows + i] = a[src + l]!;
    }
    householderQrColumns(panel, rows, kb, tau.subarray(k0, k1));
    const v = s.v().subarray(0, rows * kb) as Float64Array;
    for (let i = 0; i < rows; i++) {
      const dst = (k0 + i) * n + k0;
      for (let l = 0; l < kb; l++) {
        const value = panel[l * rows + i]!;
        a[dst + l] = value;
        v[i * kb + l] = l < i ? value : l === i ? 1 : 0;
      }
    }
    const t = s.ts.subarray(p * nb * nb, p * nb * nb + kb * kb);
    formT(panelGram(panel, rows, kb, s.gram), kb, tau.subarray(k0, k1), t);
    if (k1 >= n) continue;
    // Qᵀ on the trailing columns: C - V Tᵀ Vᵀ C.
    s.t().set(t);
    const y = s.y().subarray(0, rows * kb);
    s.gemms.get(gemmKey(rows, kb, kb, "u"))!(v, s.t().subarray(0, kb * kb), y);
    applyBlockReflector(s, rows, kb, a, n, k0, k1, n - k1);
  }
}

/** dorgqr: Q's first qCols columns (m x qCols, row-major) from the reflectors in `a` and the kept T's. */
function formQBlocked(
  a: Float64Array,
  m: number,
  n: number,
  q: Float64Array,
  qCols: number,
  s: BlockScratch,
): void {
  const nb = s.nb;
  q.fill(0, 0, m * qCols);
  for (let i = Math.min(m, n); i < Math.min(m, qCols); i++) q[i * qCols + i] = 1;
  // Backwards: the panel at k0 touches rows k0.. only. Before it, its own columns k0..k1 of Q are still
  // the identity's and rows k0..k1 of the columns right of it are still zero.
  const all = panels(Math.min(m, n), nb);
  for (let p = all.length - 1; p >= 0; p--) {
    const [k0, kb] = all[p]!;
    const k1 = k0 + kb;
    const rows = m - k0;
    const v = s.v().subarray(0, rows * kb) as Float64Array;
    for (let i = 0; i < rows; i++) {
      const src = (k0 + i) * n + k0;
      v.set(a.subarray(src, src + kb), i * kb);
    }
    unitLowerTrapezoid(v, rows, kb);
    s.t().set(s.ts.subarray(p * nb * nb, p * nb * nb + kb * kb));
    const y = s.y().subarray(0, rows * kb);
    s.gemms.get(gemmKey(rows, kb, kb, ""))!(v, s.t().subarray(0, kb * kb), y);
    if (k1 < qCols) applyBlockReflector(s, rows, kb, q, qCols, k0, k1, qCols - k1);
    // The panel's own columns: H [I; 0] = [I; 0] - Y V₁ᵀ, V₁ the leading kb x kb block of V.
    const product = s.product().subarray(0, rows * kb);
    s.gemms.get(gemmKey(rows, kb, kb, "u"))!(y, v.subarray(0, kb * kb), product);
    for (let i = 0; i < rows; i++) {
      const dst = (k0 + i) * qCols + k0;
      for (let j = 0; j < kb; j++) q[dst + j] = (i === j ? 1 : 0) - product[i * kb + j]!;
    }
  }
}

/** V (rows x kb) as the reflectors have it: ones on the diagonal, zeros above, the tails below. */
function unitLowerTrapezoid(v: Float64Array, rows: number, kb: number): void {
  for (let i = 0; i < Math.min(rows, kb); i++) {
    const row = i * kb;
    v[row + i] = 1;
    for (let j = i + 1; j < kb; j++) v[row + j] = 0;
  }
}

/** gram[i, j] = v_iᵀ v_j (j < i) of the reflectors of a factored column-major panel (rows x kb). */
function panelGram(panel: Float64Array, rows: number, kb: number, gram: Float64Array): Float64Array {
  for (let i = 1; i < kb; i++) {
    const vi = i * rows;
    for (let j = 0; j < i; j++) {
      // v_i is 0 above row i and 1 at it; v_j is 1 at row j < i.
      const vj = j * rows;
      let sum = panel[vj + i]!;
      for (let r = i + 1; r < rows; r++) sum += panel[vi + r]! * panel[vj + r]!;
      gram[i * kb + j] = sum;
    }
  }
  return gram;
}

/**
 * dlarft (forward, columnwise): the upper triangular T (kb x kb) with H_0 ... H_{kb-1} = I - V T Vᵀ, from
 * T[i, i] = tau_i and T[0..i, i] = -tau_i T[0..i, 0..i] (V[:, 0..i]ᵀ v_i), the products from `gram`.
 */
function formT(gram: Float64Array, kb: number, tau: Float64Array, t: Float64Array): void {
  t.fill(0, 0, kb * kb);
  for (let i = 0; i < kb; i++) {
    const ti = tau[i]!;
    t[i * kb + i] = ti;
    if (ti === 0) continue;
    // T[j, i] = -tau_i sum_{l = j..i-1} T[j, l] gram[i, l].
    const gi = i * kb;
    for (let j = 0; j < i; j++) {
      const tj = j * kb;
      let sum = 0;
      for (let l = j; l < i; l++) sum += t[tj + l]! * gram[gi + l]!;
      t[tj + i] = -ti * sum;
    }
  }
}

/**
 * dlarfb (left, forward, columnwise): X[r0.., c0..c0+cols) -= Y (Vᵀ X[...]) with V in s.v() and
 * Y = V op(T) in s.y() (rows x kb each): op(H) X with H = I - V T Vᵀ, op(T) = Tᵀ for Qᵀ and T for Q.
 * X is row-major with `stride` columns.
 */
function applyBlockReflector(
  s: BlockScratch,
  rows: number,
  kb: number,
  x: Float64Array,
  stride: number,
  r0: number,
  c0: number,
  cols: number,
): void {
  const c = s.c().subarray(0, rows * cols);
  for (let i = 0; i < rows; i++) {
    const src = (r0 + i) * stride + c0;
    c.set(x.subarray(src, src + cols), i * cols);
  }
  const w = s.w().subarray(0, kb * cols);
  s.gemms.get(gemmKey(kb, rows, cols, "t"))!(s.v().subarray(0, rows * kb), c, w);
  const product = s.product().subarray(0, rows * cols);
  s.gemms.get(gemmKey(rows, kb, cols, ""))!(s.y().subarray(0, rows * kb), w, product);
  for (let i = 0; i < rows; i++) {
    const dst = (r0 + i) * stride + c0;
    const src = i * cols;
    for (let e = 0; e < cols; e++) x[dst + e] = x[dst + e]! - product[src + e]!;
  }
}
