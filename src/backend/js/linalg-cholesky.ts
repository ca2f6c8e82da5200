/**
 * Cholesky factorization (LAPACK's potrf, lower): A = L Lᵀ from A's lower triangle, batched. Small
 * matrices are factored in place by the unblocked (Cholesky–Crout) loop; from two 64-tiles on, A is
 * copied into square tiles (padded with the identity) and factored right-looking: the diagonal tile by
 * the unblocked loop, the tiles below it by a triangular solve, and the trailing lower triangle of
 * tiles updated with one GEMM per tile (the backend's `gemmKernel`, WebAssembly SIMD where the plan
 * memory is wasm), where the O(n³) work goes. A matrix that is not positive definite (a pivot that is not
 * > 0, or NaN) gives a factor of NaNs, as JAX's cholesky.
 */
import type { DType, TypedArray } from "../../core/dtype.js";
import type { KernelContext } from "../../core/primitive.js";
import { gemmKernel } from "../index.js";
import { planArray, withResidency } from "../plan-memory.js";
import { LINALG_BLOCK } from "./linalg-triangular.js";

/** A kernel on batched row-major [batch, n, n] operands: out = the lower Cholesky factor of a. */
export type CholeskyKernel = (a: TypedArray, out: TypedArray) => void;

/**
 * Factors the n x n matrix at `off` (row stride `stride`) in place from its lower triangle; the strict
 * upper triangle is neither read nor written. False when a pivot is not positive (or NaN).
 */
export function factorUnblocked(w: TypedArray, off: number, stride: number, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = off + j * stride;
    let d = w[rj + j]!;
    for (let p = 0; p < j; p++) d -= w[rj + p]! * w[rj + p]!;
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    w[rj + j] = l;
    for (let i = j + 1; i < n; i++) {
      const ri = off + i * stride;
      let s = w[ri + j]!;
      for (let p = 0; p < j; p++) s -= w[ri + p]! * w[rj + p]!;
      w[ri + j] = s / l;
    }
  }
  return true;
}

/** A kernel for `batch` matrices of order n, with its scratch in the plan memory of `context`. */
export function choleskyKernel(
  dtype: DType,
  batch: number,
  n: number,
  context: KernelContext,
): CholeskyKernel {
  if (batch * n === 0) return () => {};
  if (n <= LINALG_BLOCK) {
    return (a, out) => {
      for (let s = 0; s < batch; s++) {
        const off = s * n * n;
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) out[off + i * n + j] = j <= i ? a[off + i * n + j]! : 0;
        if (!factorUnblocked(out, off, n, n)) out.fill(Number.NaN, off, off + n * n);
      }
    };
  }
  const nb = LINALG_BLOCK;
  const tiles = Math.ceil(n / nb);
  const tileSize = nb * nb;
  const work = planArray(context, dtype, tiles * tiles * tileSize);
  const productScratch = planArray(context, dtype, tileSize);
  // L_rc -= L_rj L_cjᵀ: B is stored transposed ([n, k] = L_cj itself).
  const gemm = gemmKernel(dtype, 1, nb, nb, nb, withResidency(context, [true, true], [true]), {
    transposeB: true,
  });
  const at = (i: number, j: number): number =>
    (Math.floor(i / nb) * tiles + Math.floor(j / nb)) * tileSize + (i % nb) * nb + (j % nb);
  return (a, out) => {
    const W = work();
    const product = productScratch();
    const tile = (r: number, c: number): TypedArray =>
      W.subarray((r * tiles + c) * tileSize, (r * tiles + c + 1) * tileSize);
    for (let s = 0; s < batch; s++) {
      const off = s * n * n;
      W.fill(0);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) W[at(i, j)] = a[off + i * n + j]!;
      for (let i = n; i < tiles * nb; i++) W[at(i, i)] = 1;
      if (!factorTiles(W, tiles, nb, gemm, tile, product)) {
        out.fill(Number.NaN, off, off + n * n);
        continue;
      }
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) out[off + i * n + j] = j <= i ? W[at(i, j)]! : 0;
    }
  };
}

/** Right-looking blocked Cholesky over tile-major W; false when a pivot is not positive. */
function factorTiles(
  W: TypedArray,
  tiles: number,
  nb: number,
  gemm: (a: TypedArray, b: TypedArray, out: TypedArray) => void,
  tile: (r: number, c: number) => TypedArray,
  product: TypedArray,
): boolean {
  const tileSize = nb * nb;
  for (let j = 0; j < tiles; j++) {
    const diag = (j * tiles + j) * tileSize;
    if (!factorUnblocked(W, diag, nb, nb)) return false;
    // The tiles below: L_rj = A_rj L_jj⁻ᵀ, row by row (each row x solves L_jj yᵀ = xᵀ).
    for (let r = j + 1; r < tiles; r++) {
      const base = (r * tiles + j) * tileSize;
      for (let i = 0; i < nb; i++) {
        const row = base + i * nb;
        for (let c = 0; c < nb; c++) {
          const lc = diag + c * nb;
          let v = W[row + c]!;
          for (let p = 0; p < c; p++) v -= W[lc + p]! * W[row + p]!;
          W[row + c] = v / W[lc + c]!;
        }
      }
    }
    // The trailing lower triangle of tiles.
    for (let c = j + 1; c < tiles; c++) {
      for (let r = c; r < tiles; r++) {
        gemm(tile(r, j), tile(c, j), product);
        const t = (r * tiles + c) * tileSize;
        for (let e = 0; e < tileSize; e++) W[t + e] = W[t + e]! - product[e]!;
      }
    }
  }
  return true;
}
