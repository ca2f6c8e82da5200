/**
 * LU factorization with partial pivoting (LAPACK's getrf) of `batch` row-major m x n matrices: the
 * factors written over a copy of each matrix (L strictly below the diagonal, its unit diagonal implied,
 * U on and above it), the zero-based pivot rows (`pivots[j]`: the row swapped with row j at step j, as
 * LAPACK's ipiv - 1) and the permutation they make (`A[perm] = L U`).
 *
 * Small matrices are factored column by column (right-looking, getf2). From BLOCK_MIN columns on the
 * factorization is blocked (getrf): a panel of BLOCK columns is factored column by column, the block row
 * of U beside it solved, and the trailing matrix updated with one GEMM (`gemm` of backend/index.ts, the
 * WebAssembly kernel where the plan memory allows), which does most of the multiply-adds.
 *
 * A zero pivot (an exactly singular column) is left in U and the factorization continues, as LAPACK does
 * (its info > 0): solving with such factors divides by zero downstream. The pivot is the first entry of
 * largest magnitude (idamax), so NaN is never chosen over a number.
 */
import type { TypedArray } from "../../core/dtype.js";

/** Columns per panel of the blocked factorization. */
export const LU_BLOCK = 64;
/** From this many columns (min(m, n)) on the factorization is blocked. */
export const LU_BLOCK_MIN = 128;

/** C = A @ B for row-major A (rows x inner), B (inner x cols) given as views on the kernel's scratch. */
export type LuGemm = (rows: number, inner: number, cols: number) => void;

/** Scratch of the blocked factorization: the operands of the trailing update, and its GEMM. */
export interface LuBlockedScratch {
  /** A21 (rows x BLOCK), A12 (BLOCK x cols) and their product, each at least the first update's size. */
  readonly left: () => TypedArray;
  readonly right: () => TypedArray;
  readonly product: () => TypedArray;
  /** product[0 : rows*cols] = left[0 : rows*inner] @ right[0 : inner*cols]. */
  readonly gemm: LuGemm;
}

/**
 * The GEMM shapes (rows, inner, cols) of the blocked trailing updates of an m x n factorization, in
 * order; empty when the factorization is not blocked.
 */
export function luUpdateShapes(m: number, n: number): [number, number, number][] {
  const r = Math.min(m, n);
  if (r < LU_BLOCK_MIN) return [];
  const shapes: [number, number, number][] = [];
  for (let k0 = 0; k0 < r; k0 += LU_BLOCK) {
    const kb = Math.min(LU_BLOCK, r - k0);
    const next = k0 + kb;
    if (next < m && next < n) shapes.push([m - next, kb, n - next]);
  }
  return shapes;
}

/**
 * Factors `batch` m x n matrices of `a` into `lu`, writing `pivots` (batch x min(m, n)) and `perm`
 * (batch x m). `scratch` is required when luUpdateShapes(m, n) is not empty.
 */
export function luFactorKernel(
  a: TypedArray,
  lu: TypedArray,
  pivots: Int32Array,
  perm: Int32Array,
  batch: number,
  m: number,
  n: number,
  scratch: LuBlockedScratch | null,
): void {
  const r = Math.min(m, n);
  const blocked = r >= LU_BLOCK_MIN;
  if (blocked && scratch === null) throw new Error("lu: the blocked factorization needs its scratch");
  lu.set(a.subarray(0, batch * m * n));
  for (let t = 0; t < batch; t++) {
    const off = t * m * n;
    const piv = pivots.subarray(t * r, (t + 1) * r);
    const p = perm.subarray(t * m, (t + 1) * m);
    for (let i = 0; i < m; i++) p[i] = i;
    if (!blocked) {
      factorPanel(lu, off, m, n, 0, r, n, piv, p);
      continue;
    }
    for (let k0 = 0; k0 < r; k0 += LU_BLOCK) {
      const kb = Math.min(LU_BLOCK, r - k0);
      const next = k0 + kb;
      factorPanel(lu, off, m, n, k0, next, next, piv, p);
      if (next >= n) continue;
      solveBlockRow(lu, off, n, k0, next);
      if (next < m) updateTrailing(lu, off, m, n, k0, next, scratch!);
    }
  }
}

/**
 * Columns k0..k1 of the matrix at `off`, rows k0..m, factored column by column; each pivot's row swap
 * runs across the whole row (so the columns left and right of the panel follow it), and the rank-1
 * updates reach columns up to `colEnd` (n unblocked, the panel's end blocked).
 */
function factorPanel(
  x: TypedArray,
  off: number,
  m: number,
  n: number,
  k0: number,
  k1: number,
  colEnd: number,
  piv: Int32Array,
  perm: Int32Array,
): void {
  for (let j = k0; j < k1; j++) {
    // idamax: the first entry of largest magnitude at or below the diagonal.
    let best = j;
    let bestAbs = Math.abs(x[off + j * n + j]!);
    for (let i = j + 1; i < m; i++) {
      const v = Math.abs(x[off + i * n + j]!);
      if (v > bestAbs) {
        bestAbs = v;
        best = i;
      }
    }
    piv[j] = best;
    if (best !== j) {
      const rj = off + j * n;
      const rb = off + best * n;
      for (let c = 0; c < n; c++) {
        const tmp = x[rj + c]!;
        x[rj + c] = x[rb + c]!;
        x[rb + c] = tmp;
      }
      const tp = perm[j]!;
      perm[j] = perm[best]!;
      perm[best] = tp;
    }
    const pivot = x[off + j * n + j]!;
    // A zero pivot leaves its (all zero) column as it is, as LAPACK does; the factorization goes on.
    if (pivot === 0) continue;
    const rj = off + j * n;
    for (let i = j + 1; i < m; i++) {
      const ri = off + i * n;
      const l = x[ri + j]! / pivot;
      x[ri + j] = l;
      if (l === 0) continue;
      for (let c = j + 1; c < colEnd; c++) x[ri + c]! -= l * x[rj + c]!;
    }
  }
}

/** U12 = L11⁻¹ A12: rows k0..k1 of the columns right of the panel, by forward substitution (unit L11). */
function solveBlockRow(x: TypedArray, off: number, n: number, k0: number, k1: number): void {
  for (let i = k0 + 1; i < k1; i++) {
    const ri = off + i * n;
    for (let p = k0; p < i; p++) {
      const l = x[ri + p]!;
      if (l === 0) continue;
      const rp = off + p * n;
      for (let c = k1; c < n; c++) x[ri + c]! -= l * x[rp + c]!;
    }
  }
}

/** A22 -= A21 @ U12 with one GEMM: the operands copied into the scratch, the product subtracted. */
function updateTrailing(
  x: TypedArray,
  off: number,
  m: number,
  n: number,
  k0: number,
  k1: number,
  scratch: LuBlockedScratch,
): void {
  const rows = m - k1;
  const inner = k1 - k0;
  const cols = n - k1;
  const left = scratch.left();
  const right = scratch.right();
  for (let i = 0; i < rows; i++) {
    const src = off + (k1 + i) * n + k0;
    left.set(x.subarray(src, src + inner), i * inner);
  }
  for (let p = 0; p < inner; p++) {
    const src = off + (k0 + p) * n + k1;
    right.set(x.subarray(src, src + cols), p * cols);
  }
  scratch.gemm(rows, inner, cols);
  const product = scratch.product();
  for (let i = 0; i < rows; i++) {
    const dst = off + (k1 + i) * n + k1;
    const src = i * cols;
    for (let c = 0; c < cols; c++) x[dst + c] = x[dst + c]! - product[src + c]!;
  }
}

/**
 * The permutation that `batch` sequences of k row swaps make of m rows (JAX's
 * lu_pivots_to_permutation): start from 0..m-1 and swap entries j and pivots[j] for j = 0..k-1.
 * Throws a RangeError for a pivot outside [0, m).
 */
export function pivotsToPermutation(
  pivots: Int32Array,
  perm: Int32Array,
  batch: number,
  k: number,
  m: number,
): void {
  for (let t = 0; t < batch; t++) {
    const p = t * m;
    for (let i = 0; i < m; i++) perm[p + i] = i;
    for (let j = 0; j < k; j++) {
      const s = pivots[t * k + j]!;
      if (!(s >= 0 && s < m))
        throw new RangeError(
          `luPivotsToPermutation: pivot ${s} at position ${j} is outside [0, ${m}) (the permutation's size)`,
        );
      const tmp = perm[p + j]!;
      perm[p + j] = perm[p + s]!;
      perm[p + s] = tmp;
    }
  }
}
