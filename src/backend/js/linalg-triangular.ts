/**
 * Triangular solves (LAPACK's trsm): op(A) X = B or X op(A) = B for triangular A, batched. Every variant
 * is first brought to one canonical problem, a lower-triangular T and a right-hand side R of n rows, with
 * O(n² + nk) copies (transposes and a reversal of rows and columns turn an upper triangle into a lower
 * one), so one forward substitution serves all sixteen. Small problems run it directly; from two blocks
 * on, T is stored in square tiles and the substitution is blocked: each block of rows is solved against
 * its diagonal tile, then the rows below are updated with one GEMM per tile (the backend's `gemmKernel`,
 * WebAssembly SIMD where the plan memory is wasm), which is where the O(n²k) work goes.
 */
import type { DType, TypedArray } from "../../core/dtype.js";
import type { KernelContext } from "../../core/primitive.js";
import { gemmKernel } from "../index.js";
import { planArray, withResidency } from "../plan-memory.js";

/** The side of the blocked factorizations' and solves' square tiles. */
export const LINALG_BLOCK = 64;

/** The shape and flags of one batched triangular solve (JAX's `triangular_solve` parameters, real). */
export interface TriangularSolveSpec {
  readonly dtype: DType;
  readonly batch: number;
  /** The order of A. */
  readonly n: number;
  /** The number of right-hand sides: B is [n, k] on the left side, [k, n] on the right. */
  readonly k: number;
  readonly leftSide: boolean;
  readonly lower: boolean;
  readonly transposeA: boolean;
  readonly unitDiagonal: boolean;
}

/** A kernel on batched row-major operands: a [batch, n, n], b and out as the spec says. */
export type TriangularSolveKernel = (a: TypedArray, b: TypedArray, out: TypedArray) => void;

/** Solves T Y = R in place (T lower, n x n at `tOff` with row stride `tStride`; R n x k, row-major at `rOff`). */
export function forwardSubstitute(
  t: TypedArray,
  tOff: number,
  tStride: number,
  r: TypedArray,
  rOff: number,
  n: number,
  k: number,
  unitDiagonal: boolean,
): void {
  for (let i = 0; i < n; i++) {
    const ri = rOff + i * k;
    const ti = tOff + i * tStride;
    for (let j = 0; j < i; j++) {
      const f = t[ti + j]!;
      if (f === 0) continue;
      const rj = rOff + j * k;
      for (let c = 0; c < k; c++) r[ri + c]! -= f * r[rj + c]!;
    }
    if (!unitDiagonal) {
      const d = t[ti + i]!;
      for (let c = 0; c < k; c++) r[ri + c]! /= d;
    }
  }
}

/**
 * A kernel for `spec`, with its scratch in the plan memory of `context` (the blocked path's GEMM reads
 * its tiles there in place).
 */
export function triangularSolveKernel(
  spec: TriangularSolveSpec,
  context: KernelContext,
): TriangularSolveKernel {
  const { dtype, batch, n, k, leftSide, lower, transposeA, unitDiagonal } = spec;
  if (batch * n * k === 0) return () => {};
  // Canonical form: E Y = R with E = op(A) on the left side, op(A)ᵀ on the right (Xᵀ solves it), read
  // from A transposed or not; an upper E is reversed (rows and columns) into a lower T.
  const readTransposed = leftSide ? transposeA : !transposeA;
  const reversed = lower === readTransposed;
  const blocked = n > LINALG_BLOCK;
  const nb = LINALG_BLOCK;
  const tiles = blocked ? Math.ceil(n / nb) : 1;
  const N = blocked ? tiles * nb : n;
  const tScratch = planArray(context, dtype, N * N);
  const rScratch = planArray(context, dtype, N * k);
  const product = blocked ? planArray(context, dtype, nb * k) : null;
  const gemm = blocked ? gemmKernel(dtype, 1, nb, nb, k, withResidency(context, [true, true], [true])) : null;
  const tileSize = nb * nb;

  return (a, b, out) => {
    const T = tScratch();
    const R = rScratch();
    for (let s = 0; s < batch; s++) {
      const aOff = s * n * n;
      const bOff = s * n * k;
      // T[i][j] = E[p(i)][p(j)], p the reversal or the identity; tiled (tile-major) when blocked.
      if (blocked) T.fill(0);
      for (let i = 0; i < n; i++) {
        const pi = reversed ? n - 1 - i : i;
        for (let j = 0; j <= i; j++) {
          const pj = reversed ? n - 1 - j : j;
          const v = readTransposed ? a[aOff + pj * n + pi]! : a[aOff + pi * n + pj]!;
          const at = blocked
            ? (Math.floor(i / nb) * tiles + Math.floor(j / nb)) * tileSize + (i % nb) * nb + (j % nb)
            : i * n + j;
          T[at] = i === j && unitDiagonal ? 1 : v;
        }
      }
      // R[i][c] = B'[p(i)][c], B' = B on the left side, Bᵀ on the right.
      for (let i = 0; i < n; i++) {
        const pi = reversed ? n - 1 - i : i;
        if (leftSide) for (let c = 0; c < k; c++) R[i * k + c] = b[bOff + pi * k + c]!;
        else for (let c = 0; c < k; c++) R[i * k + c] = b[bOff + c * n + pi]!;
      }
      if (blocked) {
        // The padding: T = blockdiag(T, I), zero rows of R.
        for (let i = n; i < N; i++) {
          T[(Math.floor(i / nb) * tiles + Math.floor(i / nb)) * tileSize + (i % nb) * (nb + 1)] = 1;
        }
        R.fill(0, n * k);
        solveBlocked(T, R, tiles, nb, k, unitDiagonal, gemm!, product!());
      } else {
        forwardSubstitute(T, 0, n, R, 0, n, k, unitDiagonal);
      }
      for (let i = 0; i < n; i++) {
        const pi = reversed ? n - 1 - i : i;
        if (leftSide) for (let c = 0; c < k; c++) out[bOff + pi * k + c] = R[i * k + c]!;
        else for (let c = 0; c < k; c++) out[bOff + c * n + pi] = R[i * k + c]!;
      }
    }
  };
}

/** Blocked forward substitution over tile-major T (tiles x tiles tiles of nb x nb) and row-major R. */
function solveBlocked(
  T: TypedArray,
  R: TypedArray,
  tiles: number,
  nb: number,
  k: number,
  unitDiagonal: boolean,
  gemm: (a: TypedArray, b: TypedArray, out: TypedArray) => void,
  product: TypedArray,
): void {
  const tileSize = nb * nb;
  const rows = nb * k;
  const tile = (r: number, c: number): TypedArray =>
    T.subarray((r * tiles + c) * tileSize, (r * tiles + c + 1) * tileSize);
  for (let i = 0; i < tiles; i++) {
    forwardSubstitute(T, (i * tiles + i) * tileSize, nb, R, i * rows, nb, k, unitDiagonal);
    const solved = R.subarray(i * rows, (i + 1) * rows);
    for (let r = i + 1; r < tiles; r++) {
      gemm(tile(r, i), solved, product);
      const off = r * rows;
      for (let e = 0; e < rows; e++) R[off + e] = R[off + e]! - product[e]!;
    }
  }
}
