/**
 * The singular value decomposition kernel: Golub-Kahan-Reinsch, as LAPACK's dgesvd computes it, in
 * float64 for float32 and float64 matrices alike, batched over leading dims, for tall, square and wide
 * matrices. The matrix is taken in its tall orientation (a wide one transposed), scaled by a power of two
 * near its largest |element| (no overflow or underflow, no rounding), reduced to upper bidiagonal form by
 * Householder reflectors (linalg-svd-bidiagonal.ts; blocked, with the GEMM, from min(m, n) = SVD_BLOCK_MIN
 * on: linalg-svd-blocked.ts), and the bidiagonal matrix diagonalised by
 * implicit-shift QR with Demmel-Kahan zero shifts (linalg-svd-bdsqr.ts), whose rotations are accumulated
 * into the explicitly formed reflector products when vectors are asked for. The values-only path forms no
 * factor and accumulates no rotation: it costs the bidiagonalisation and O(k²) more.
 *
 * Output conventions: singular values descending (ties in the order the iteration leaves them); each
 * column of U has its largest-magnitude component (the first such on a tie) positive, the matching row of
 * Vh flipped with it; the extra rows of a full Vh with no column of U, and the extra columns of a full U,
 * get the same rule on themselves. A matrix with a NaN or an infinity gives NaN everywhere (LAPACK-backed
 * numpy raises "SVD did not converge"; JAX gives NaN), and so would a QR iteration that does not
 * converge (LAPACK's info > 0; not seen on finite input).
 */
import type { KernelContext } from "../../core/primitive.js";
import { planVectorRotations } from "../wasm/plane-rotations.js";
import { bidiagonalSvd, bidiagonalSvdScratch, rowMajorRotations } from "./linalg-svd-bdsqr.js";
import { bidiagonalize, formLeft, formRight } from "./linalg-svd-bidiagonal.js";
import { blockedBidiagonalize, blockedReflectorProduct, SVD_BLOCK_MIN } from "./linalg-svd-blocked.js";

/** The sizes and flags of one svd kernel. */
export interface SvdDims {
  /** How many matrices (the product of the leading dims). */
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  /** U is m x m and Vh n x n (else m x k and k x n, k = min(m, n)). */
  readonly fullMatrices: boolean;
  /** Write U and Vh (else the singular values only, and no rotation is accumulated). */
  readonly computeUv: boolean;
}

type Floats = Float32Array | Float64Array;

/**
 * The kernel for `dims`: reads a [batch, m, n] row-major matrix stack, writes s [batch, k] and, with
 * `computeUv`, U [batch, m, ucols] and Vh [batch, vrows, n]. Scratch is allocated once per kernel; the
 * blocked kernels' GEMM operands live in `context`'s plan memory.
 */
export function svdKernel(
  dims: SvdDims,
  context: KernelContext,
): (a: Floats, s: Floats, u: Floats | null, vh: Floats | null) => void {
  const { batch, m, n, fullMatrices, computeUv } = dims;
  const tall = m >= n;
  const k = Math.min(m, n);
  const p = Math.max(m, n);
  const longCols = fullMatrices ? p : k;
  const work = new Float64Array(p * k); // the tall matrix, p x k row-major
  const d = new Float64Array(k);
  const e = new Float64Array(Math.max(k - 1, 0));
  const tauq = new Float64Array(k);
  const taup = new Float64Array(k);
  const w = new Float64Array(p);
  const v = new Float64Array(p);
  const x = new Float64Array(k);
  const order = new Int32Array(k);
  // Long-side vectors (p x longCols) and short-side ones (k x k), one vector per column.
  const long = new Float64Array(computeUv ? p * longCols : 0);
  const short = new Float64Array(computeUv ? k * k : 0);
  const [ucols, vrows] = tall ? [longCols, k] : [k, longCols];
  const blocked = k >= SVD_BLOCK_MIN;
  const reduce = blocked ? blockedBidiagonalize(context, p, k) : null;
  const formLong = blocked && computeUv ? blockedReflectorProduct(context, p, longCols, k, 0) : null;
  const formShort = blocked && computeUv ? blockedReflectorProduct(context, k, k, k - 1, 1) : null;
  // Reflector i's entries below its unit one: column reflectors down column i, row reflectors along row i.
  const columnTail = (i: number, dst: Float64Array, at: number): void => {
    for (let r = i + 1; r < p; r++) dst[at + r - i - 1] = work[r * k + i]!;
  };
  const rowTail = (i: number, dst: Float64Array, at: number): void => {
    dst.set(work.subarray(i * k + i + 2, (i + 1) * k), at);
  };
  // The rotations go into the vectors in wasm where the plan memory allows (the vectors copied there, one
  // per row, and back), else into long and short in place, in JS; both round alike.
  const wasmRotations = computeUv && k >= WASM_ROTATIONS_MIN;
  const longRows = wasmRotations ? planVectorRotations(context, k, p, k) : null;
  const shortRows = wasmRotations ? planVectorRotations(context, k, k, k) : null;
  const scratch = bidiagonalSvdScratch(
    computeUv
      ? (longRows?.target ?? rowMajorRotations({ data: long, offset: 0, rows: p, stride: longCols }, k))
      : null,
    computeUv
      ? (shortRows?.target ?? rowMajorRotations({ data: short, offset: 0, rows: k, stride: k }, k))
      : null,
  );
  const factors: Factors | null = computeUv
    ? {
        form() {
          if (formLong) formLong(long, tauq, columnTail);
          else formLeft(work, p, k, tauq, long, longCols, v, w);
          if (formShort) formShort(short, taup, rowTail);
          else formRight(work, k, taup, short, v, w);
          if (longRows) columnsToRows(long, p, longCols, k, longRows.data(), longRows.stride);
          if (shortRows) columnsToRows(short, k, k, k, shortRows.data(), shortRows.stride);
        },
        rotated() {
          if (longRows) rowsToColumns(longRows.data(), longRows.stride, p, longCols, k, long);
          if (shortRows) rowsToColumns(shortRows.data(), shortRows.stride, k, k, k, short);
        },
      }
    : null;

  return (a, s, u, vh) => {
    for (let b = 0; b < batch; b++) {
      const scale = loadTall(a, b * m * n, m, n, tall, work);
      const ok =
        Number.isFinite(scale) && factor(work, p, k, d, e, tauq, taup, w, x, v, reduce, factors, scratch);
      if (!ok) {
        s.fill(Number.NaN, b * k, (b + 1) * k);
        if (computeUv) {
          u!.fill(Number.NaN, b * m * ucols, (b + 1) * m * ucols);
          vh!.fill(Number.NaN, b * vrows * n, (b + 1) * vrows * n);
        }
        continue;
      }
      // Positive values (the sign goes to the short-side vector), then descending, ties in index order.
      for (let j = 0; j < k; j++) {
        if (!(d[j]! < 0)) continue;
        d[j] = -d[j]!;
        if (computeUv) for (let i = 0; i < k; i++) short[i * k + j] = -short[i * k + j]!;
      }
      for (let j = 0; j < k; j++) order[j] = j;
      order.sort((x, y) => d[y]! - d[x]! || x - y);
      for (let j = 0; j < k; j++) s[b * k + j] = d[order[j]!]! * scale;
      if (computeUv) writeFactors(b, m, n, k, p, tall, ucols, vrows, long, longCols, short, order, u!, vh!);
    }
  };
}

/**
 * The long-side (p x longCols) and short-side (k x k) vectors: `form` makes the reflector products after
 * the bidiagonalisation, `rotated` takes them back after the bidiagonal QR has rotated them.
 */
type Factors = { form: () => void; rotated: () => void };

/** From this order on the bidiagonal QR's rotations run in wasm (where the plan memory is wasm's). */
const WASM_ROTATIONS_MIN = 32;

/** Columns 0 .. count of the row-major rows x cols `src` into `dst` as rows of `stride` elements. */
function columnsToRows(
  src: Float64Array,
  rows: number,
  cols: number,
  count: number,
  dst: Float64Array,
  stride: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < count; j++) dst[j * stride + r] = src[o + j]!;
  }
}

/** The inverse of columnsToRows. */
function rowsToColumns(
  src: Float64Array,
  stride: number,
  rows: number,
  cols: number,
  count: number,
  dst: Float64Array,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < count; j++) dst[o + j] = src[j * stride + r]!;
  }
}

/** Bidiagonalises the tall p x k `work`, forms the factors if asked, and runs the bidiagonal QR. */
function factor(
  work: Float64Array,
  p: number,
  k: number,
  d: Float64Array,
  e: Float64Array,
  tauq: Float64Array,
  taup: Float64Array,
  w: Float64Array,
  x: Float64Array,
  v: Float64Array,
  reduce: ReturnType<typeof blockedBidiagonalize> | null,
  factors: Factors | null,
  scratch: ReturnType<typeof bidiagonalSvdScratch>,
): boolean {
  if (reduce) reduce(work, d, e, tauq, taup, w, x, v);
  else if (k > 0) bidiagonalize(work, p, k, d, e, tauq, taup, w, x, v);
  factors?.form();
  const ok = bidiagonalSvd(d, e, k, scratch);
  factors?.rotated();
  return ok;
}

/**
 * Copies matrix b into `work` (p x k row-major, a wide matrix transposed) divided by a power of two near
 * its largest |element| (exact); returns that power (NaN if any element is NaN or infinite).
 */
function loadTall(
  a: Floats,
  offset: number,
  m: number,
  n: number,
  tall: boolean,
  work: Float64Array,
): number {
  let largest = 0;
  for (let i = 0; i < m * n; i++) {
    const x = Math.abs(a[offset + i]!);
    if (x > largest) largest = x;
    else if (!(x <= largest)) return Number.NaN;
  }
  if (largest === Number.POSITIVE_INFINITY) return Number.NaN;
  const scale = largest === 0 ? 1 : 2 ** Math.max(-1074, Math.min(1023, Math.round(Math.log2(largest))));
  if (tall) {
    for (let i = 0; i < m * n; i++) work[i] = a[offset + i]! / scale;
  } else {
    // Row i of A is column i of Aᵀ (n x m).
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) work[j * m + i] = a[offset + i * n + j]! / scale;
  }
  return scale;
}

/** Whether the first component of largest magnitude of x[o], x[o + stride], ... (len of them) is negative. */
function largestIsNegative(x: Float64Array, o: number, stride: number, len: number): boolean {
  let best = o;
  let bestAbs = len > 0 ? Math.abs(x[o]!) : 0;
  for (let i = 1; i < len; i++) {
    const at = o + i * stride;
    const v = Math.abs(x[at]!);
    if (v > bestAbs) {
      best = at;
      bestAbs = v;
    }
  }
  return x[best]! < 0;
}

/**
 * Writes U [m, ucols] and Vh [vrows, n] of matrix b, sign-normalised. Tall (A = L S Shᵀ, L the long
 * side): U's columns are the long vectors and Vh's rows the short ones. Wide (Aᵀ = L S Shᵀ, so A = Sh S Lᵀ):
 * U's columns are the short vectors and Vh's rows the long ones. Vector j < k is column order[j].
 */
function writeFactors(
  b: number,
  m: number,
  n: number,
  k: number,
  p: number,
  tall: boolean,
  ucols: number,
  vrows: number,
  long: Float64Array,
  longCols: number,
  short: Float64Array,
  order: Int32Array,
  u: Floats,
  vh: Floats,
): void {
  const uo = b * m * ucols;
  const vo = b * vrows * n;
  for (let j = 0; j < longCols; j++) {
    const lc = j < k ? order[j]! : j;
    if (j >= k) {
      // An extra long-side vector (of a full factor): its own largest component positive.
      const f = largestIsNegative(long, lc, longCols, p) ? -1 : 1;
      if (tall) for (let i = 0; i < m; i++) u[uo + i * ucols + j] = f * long[i * longCols + lc]!;
      else for (let l = 0; l < n; l++) vh[vo + j * n + l] = f * long[l * longCols + lc]!;
      continue;
    }
    // The pair: U's column decides the sign of both.
    const f = (tall ? largestIsNegative(long, lc, longCols, p) : largestIsNegative(short, lc, k, k)) ? -1 : 1;
    if (tall) {
      for (let i = 0; i < m; i++) u[uo + i * ucols + j] = f * long[i * longCols + lc]!;
      for (let l = 0; l < n; l++) vh[vo + j * n + l] = f * short[l * k + lc]!;
    } else {
      for (let i = 0; i < m; i++) u[uo + i * ucols + j] = f * short[i * k + lc]!;
      for (let l = 0; l < n; l++) vh[vo + j * n + l] = f * long[l * longCols + lc]!;
    }
  }
}
