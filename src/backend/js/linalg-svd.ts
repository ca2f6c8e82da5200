/**
 * The singular value decomposition kernel: one-sided Jacobi (Hestenes; Demmel and Veselić, "Jacobi's
 * method is more accurate than QR", 1992) in float64 for float32 and float64 matrices alike, batched over
 * leading dims, for tall, square and wide matrices.
 *
 * The matrix is taken in its tall orientation (a wide one transposed), so the work array holds its k =
 * min(m, n) columns of length p = max(m, n), each contiguous. Plane rotations of pairs of columns (and of
 * the accumulated k x k orthogonal factor, when vectors are asked for) run in sweeps until every pair is
 * orthogonal to working precision; the column norms are then the singular values and the normalised
 * columns the long-side singular vectors. Columns of the long side that the data does not define (a zero
 * singular value, or the extra columns of `fullMatrices`) are completed to an orthonormal basis by
 * Gram-Schmidt from the unit vector least covered by the columns so far.
 *
 * Output conventions: singular values descending; each column of U has its largest-magnitude component
 * (the first such on a tie) positive, the matching row of Vh flipped with it; the extra rows of a full Vh
 * with no column of U get the same rule on themselves. A matrix with a NaN or an infinity gives NaN
 * everywhere (LAPACK-backed numpy raises "SVD did not converge"; JAX gives NaN).
 */

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

const EPS = 2 ** -52;
const MAX_SWEEPS = 80;
/** A column whose norm is below this (relative to the largest element) is treated as zero: its vector is completed. */
const NEGLIGIBLE = 1e-150;

/**
 * The kernel for `dims`: reads a [batch, m, n] row-major matrix stack, writes s [batch, k] and, with
 * `computeUv`, U [batch, m, ucols] and Vh [batch, vrows, n]. Scratch is allocated once per kernel.
 */
export function svdKernel(
  dims: SvdDims,
): (a: Floats, s: Floats, u: Floats | null, vh: Floats | null) => void {
  const { batch, m, n, fullMatrices, computeUv } = dims;
  const tall = m >= n;
  const k = Math.min(m, n);
  const p = Math.max(m, n);
  const longCols = fullMatrices ? p : k;
  const work = new Float64Array(k * p); // column j of the tall matrix at [j*p, (j+1)*p)
  const short = new Float64Array(computeUv ? k * k : 0); // column j of the short-side factor at [j*k, ...)
  const long = new Float64Array(computeUv ? longCols * p : 0); // long-side vectors, one per row
  const norms = new Float64Array(k);
  const order = new Int32Array(k);
  const covered = new Float64Array(p);
  const residual = new Float64Array(p);
  const tol = Math.sqrt(p) * EPS;
  const [ucols, vrows] = tall ? [longCols, k] : [k, longCols];

  return (a, s, u, vh) => {
    for (let b = 0; b < batch; b++) {
      const scale = loadTall(a, b * m * n, m, n, tall, work);
      if (!Number.isFinite(scale)) {
        s.fill(Number.NaN, b * k, (b + 1) * k);
        if (computeUv) {
          u!.fill(Number.NaN, b * m * ucols, (b + 1) * m * ucols);
          vh!.fill(Number.NaN, b * vrows * n, (b + 1) * vrows * n);
        }
        continue;
      }
      if (computeUv) identity(short, k);
      jacobiSweeps(work, short, k, p, tol, computeUv);
      for (let j = 0; j < k; j++) norms[j] = Math.sqrt(dot(work, j * p, work, j * p, p));
      // Descending, ties in column order.
      for (let j = 0; j < k; j++) order[j] = j;
      order.sort((x, y) => norms[y]! - norms[x]! || x - y);
      for (let j = 0; j < k; j++) s[b * k + j] = norms[order[j]!]! * scale;
      if (!computeUv) continue;
      buildLong(work, norms, order, k, p, longCols, long, covered, residual);
      // Sign: the largest component of each column of U positive, the same flip on the matching V column.
      for (let j = 0; j < longCols; j++) {
        const inU = tall || j < k;
        const flip = inU
          ? largestIsNegative(tall ? long : short, (tall ? j : order[j]!) * (tall ? p : k), tall ? p : k)
          : largestIsNegative(long, j * p, p);
        if (!flip) continue;
        negate(long, j * p, p);
        if (j < k) negate(short, order[j]! * k, k);
      }
      writeFactors(b, m, n, k, p, tall, ucols, vrows, long, short, order, u!, vh!);
    }
  };
}

/** Copies matrix b into `work` in its tall orientation, scaled by its largest |element|; returns that scale (NaN or ∞ if any element is). */
function loadTall(
  a: Floats,
  offset: number,
  m: number,
  n: number,
  tall: boolean,
  work: Float64Array,
): number {
  let scale = 0;
  let finite = true;
  for (let i = 0; i < m * n; i++) {
    const v = Math.abs(a[offset + i]!);
    if (v > scale) scale = v;
    else if (!(v <= scale)) finite = false; // NaN
  }
  if (!finite || scale === Number.POSITIVE_INFINITY) return Number.NaN;
  const inv = scale === 0 ? 1 : 1 / scale;
  const p = Math.max(m, n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const v = a[offset + i * n + j]! * inv;
      // tall: column j of A is column j; wide: row i of A is column i of Aᵀ.
      if (tall) work[j * p + i] = v;
      else work[i * p + j] = v;
    }
  }
  return scale === 0 ? 1 : scale;
}

function identity(q: Float64Array, k: number): void {
  q.fill(0);
  for (let j = 0; j < k; j++) q[j * k + j] = 1;
}

function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  let acc = 0;
  for (let i = 0; i < len; i++) acc += x[xo + i]! * y[yo + i]!;
  return acc;
}

/** Rotates columns at `io` and `jo`: x <- c x - s y, y <- s x + c y. */
function rotate(x: Float64Array, io: number, jo: number, len: number, c: number, s: number): void {
  for (let i = 0; i < len; i++) {
    const xi = x[io + i]!;
    const yi = x[jo + i]!;
    x[io + i] = c * xi - s * yi;
    x[jo + i] = s * xi + c * yi;
  }
}

/**
 * Cyclic sweeps over all column pairs until none needs a rotation (|x·y| <= tol |x| |y| for every pair).
 * The squared norms are recomputed at the start of each sweep and updated by the exact rotation formulas
 * within it, recomputed when a norm shrinks a lot (the update would lose digits).
 */
function jacobiSweeps(
  work: Float64Array,
  short: Float64Array,
  k: number,
  p: number,
  tol: number,
  accumulate: boolean,
): void {
  const sq = new Float64Array(k);
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    for (let j = 0; j < k; j++) sq[j] = dot(work, j * p, work, j * p, p);
    let rotated = false;
    for (let i = 0; i < k - 1; i++) {
      for (let j = i + 1; j < k; j++) {
        const alpha = sq[i]!;
        const beta = sq[j]!;
        if (alpha === 0 || beta === 0) continue;
        const gamma = dot(work, i * p, work, j * p, p);
        if (!(Math.abs(gamma) > tol * Math.sqrt(alpha) * Math.sqrt(beta))) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const az = Math.abs(zeta);
        const t = az > 1e150 ? 0.5 / zeta : Math.sign(zeta || 1) / (az + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const sn = c * t;
        rotate(work, i * p, j * p, p, c, sn);
        if (accumulate) rotate(short, i * k, j * k, k, c, sn);
        const ai = alpha - t * gamma;
        const bj = beta + t * gamma;
        sq[i] = ai < 1e-3 * alpha ? dot(work, i * p, work, i * p, p) : ai;
        sq[j] = bj < 1e-3 * beta ? dot(work, j * p, work, j * p, p) : bj;
      }
    }
    if (!rotated) return;
  }
}

/**
 * The long-side vectors in output order: row j of `long` is column order[j] of `work` normalised, for the
 * columns with a non-negligible norm; the others (and rows k.. of a full factor) are completed to an
 * orthonormal basis, each from the unit vector e_c least covered by the rows so far (the smallest
 * Σ_i long[i][c]², so e_c has the largest residual), orthogonalised twice.
 */
function buildLong(
  work: Float64Array,
  norms: Float64Array,
  order: Int32Array,
  k: number,
  p: number,
  longCols: number,
  long: Float64Array,
  covered: Float64Array,
  residual: Float64Array,
): void {
  covered.fill(0);
  const defined: boolean[] = [];
  for (let j = 0; j < longCols; j++) {
    const src = j < k ? order[j]! : -1;
    const ok = src >= 0 && norms[src]! > NEGLIGIBLE;
    defined.push(ok);
    if (!ok) continue;
    const inv = 1 / norms[src]!;
    for (let i = 0; i < p; i++) {
      const v = work[src * p + i]! * inv;
      long[j * p + i] = v;
      covered[i] = covered[i]! + v * v;
    }
  }
  for (let j = 0; j < longCols; j++) {
    if (defined[j]) continue;
    let c = 0;
    for (let i = 1; i < p; i++) if (covered[i]! < covered[c]!) c = i;
    residual.fill(0);
    residual[c] = 1;
    for (let pass = 0; pass < 2; pass++) {
      for (let r = 0; r < longCols; r++) {
        if (!defined[r]) continue;
        const proj = dot(long, r * p, residual, 0, p);
        for (let i = 0; i < p; i++) residual[i] = residual[i]! - proj * long[r * p + i]!;
      }
    }
    const inv = 1 / Math.sqrt(dot(residual, 0, residual, 0, p));
    for (let i = 0; i < p; i++) {
      const v = residual[i]! * inv;
      long[j * p + i] = v;
      covered[i] = covered[i]! + v * v;
    }
    defined[j] = true;
  }
}

/** Whether the first component of largest magnitude of x[o .. o+len) is negative. */
function largestIsNegative(x: Float64Array, o: number, len: number): boolean {
  let best = 0;
  for (let i = 1; i < len; i++) if (Math.abs(x[o + i]!) > Math.abs(x[o + best]!)) best = i;
  return x[o + best]! < 0;
}

function negate(x: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) x[o + i] = -x[o + i]!;
}

/**
 * Writes U [m, ucols] and Vh [vrows, n] of matrix b. Tall: U's columns are the long vectors, V's the
 * short-side columns (in `order`). Wide (A = (Aᵀ)ᵀ): U's columns are the short-side columns and Vh's
 * rows the long vectors.
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
  short: Float64Array,
  order: Int32Array,
  u: Floats,
  vh: Floats,
): void {
  const uo = b * m * ucols;
  const vo = b * vrows * n;
  if (tall) {
    for (let i = 0; i < m; i++) for (let j = 0; j < ucols; j++) u[uo + i * ucols + j] = long[j * p + i]!;
    for (let j = 0; j < k; j++) {
      const src = order[j]! * k;
      for (let l = 0; l < n; l++) vh[vo + j * n + l] = short[src + l]!;
    }
  } else {
    for (let j = 0; j < k; j++) {
      const src = order[j]! * k;
      for (let i = 0; i < m; i++) u[uo + i * ucols + j] = short[src + i]!;
    }
    for (let j = 0; j < vrows; j++) for (let l = 0; l < n; l++) vh[vo + j * n + l] = long[j * p + l]!;
  }
}
