/**
 * Householder QR on row-major float64 storage, as LAPACK's dgeqr2/dorg2r compute it: reflector k is
 * H_k = I - tau_k v_k v_kᵀ with v_k[k] = 1, chosen by dlarfg (R's diagonal entry is -sign(alpha)·‖x‖, so
 * it may be negative; a column already zero below the diagonal gets tau = 0 and keeps its entry), and
 * Q = H_0 H_1 ... H_{K-1} formed backwards from the identity. Same reflectors and signs as numpy's and
 * torch's (LAPACK geqrf + orgqr), so the factors agree with theirs to rounding.
 *
 * The row-major loops walk rows of the trailing matrix (w = vᵀ A accumulated row by row, then the rank-1
 * update), so every inner loop is contiguous. Exported for the other factorizations (svd).
 */

/**
 * Factors the m x n matrix `a` (row-major, overwritten) in place: R in the upper triangle (trapezoid),
 * reflector k's tail v_k[k+1..m) below the diagonal of column k, its scale in `tau[k]`
 * (k < min(m, n)). `w` is scratch of length >= n.
 */
export function householderQr(
  a: Float64Array,
  m: number,
  n: number,
  tau: Float64Array,
  w: Float64Array,
): void {
  const kMax = Math.min(m, n);
  for (let k = 0; k < kMax; k++) {
    const t = reflector(a, m, n, k);
    tau[k] = t;
    if (t !== 0 && k + 1 < n) applyReflectorLeft(a, n, k, k + 1, m, n, t, a, n, k, w);
  }
}

/**
 * dlarfg on column k of `a` from row k down: makes the reflector that maps (alpha, x) to (beta, 0), stores
 * beta at a[k, k] and v's tail (x / (alpha - beta)) in place of x; returns tau.
 */
function reflector(a: Float64Array, m: number, n: number, k: number): number {
  return makeReflector(a, k * n + k, (k + 1) * n + k, m - k - 1, n);
}

/**
 * dlarfg on alpha = a[at] and x = the `count` entries a[x0 + i * stride]: beta into a[at], v's tail
 * (x / (alpha - beta)) in place of x; returns tau (0, with nothing changed, when x is zero).
 */
function makeReflector(a: Float64Array, at: number, x0: number, count: number, stride: number): number {
  const alpha = a[at]!;
  const xnorm = stridedNorm(a, x0, count, stride);
  if (xnorm === 0) return 0;
  // Fortran's SIGN(x, alpha) is +|x| for alpha = +0 and -|x| for alpha = -0 (IEEE sign bit).
  const norm = hypot2(alpha, xnorm);
  const beta = alpha < 0 || Object.is(alpha, -0) ? norm : -norm;
  const tau = (beta - alpha) / beta;
  const scale = 1 / (alpha - beta);
  for (let i = 0; i < count; i++) a[x0 + i * stride]! *= scale;
  a[at] = beta;
  return tau;
}

/** ‖x‖₂ of the `count` entries a[x0 + i * stride], without overflow or underflow in the squares (dnrm2). */
function stridedNorm(a: Float64Array, x0: number, count: number, stride: number): number {
  let scale = 0;
  for (let i = 0; i < count; i++) scale = Math.max(scale, Math.abs(a[x0 + i * stride]!));
  if (scale === 0 || !Number.isFinite(scale)) return scale; // 0, or NaN / Infinity passed on
  let ssq = 0;
  for (let i = 0; i < count; i++) {
    const v = a[x0 + i * stride]! / scale;
    ssq += v * v;
  }
  return scale * Math.sqrt(ssq);
}

/**
 * householderQr of a `rows` x `cols` panel stored column by column (`p[j * rows + i]` is entry [i, j]), so
 * that each reflector and each column it is applied to are contiguous: the same reflectors, in place
 * (R above the diagonal, the tails below), scales into tau[0..min(rows, cols)).
 */
export function householderQrColumns(p: Float64Array, rows: number, cols: number, tau: Float64Array): void {
  const kMax = Math.min(rows, cols);
  for (let k = 0; k < kMax; k++) {
    const vk = k * rows;
    const t = makeReflector(p, vk + k, vk + k + 1, rows - k - 1, 1);
    tau[k] = t;
    if (t === 0) continue;
    for (let l = k + 1; l < cols; l++) {
      const cl = l * rows;
      let s = p[cl + k]!;
      for (let i = k + 1; i < rows; i++) s += p[vk + i]! * p[cl + i]!;
      s *= t;
      p[cl + k]! -= s;
      for (let i = k + 1; i < rows; i++) p[cl + i]! -= s * p[vk + i]!;
    }
  }
}

/** sqrt(x² + y²) without overflow (dlapy2). */
function hypot2(x: number, y: number): number {
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  const big = Math.max(ax, ay);
  const small = Math.min(ax, ay);
  if (big === 0 || !Number.isFinite(big)) return big + small;
  const r = small / big;
  return big * Math.sqrt(1 + r * r);
}

/**
 * B[k..m), c0..c1) -= tau v (vᵀ B[k..m), c0..c1)) for the reflector stored in column `vCol` of `v`
 * (row-major with `vStride` columns; v[k] = 1 implied, the tail below row k). `b` has `bStride` columns.
 */
function applyReflectorLeft(
  v: Float64Array,
  vStride: number,
  vCol: number,
  c0: number,
  m: number,
  c1: number,
  tau: number,
  b: Float64Array,
  bStride: number,
  k: number,
  w: Float64Array,
): void {
  const width = c1 - c0;
  // w = vᵀ B, row by row.
  const first = k * bStride + c0;
  for (let j = 0; j < width; j++) w[j] = b[first + j]!;
  for (let i = k + 1; i < m; i++) {
    const vi = v[i * vStride + vCol]!;
    if (vi === 0) continue;
    const row = i * bStride + c0;
    for (let j = 0; j < width; j++) w[j]! += vi * b[row + j]!;
  }
  // B -= tau v wᵀ.
  for (let j = 0; j < width; j++) b[first + j]! -= tau * w[j]!;
  for (let i = k + 1; i < m; i++) {
    const s = tau * v[i * vStride + vCol]!;
    if (s === 0) continue;
    const row = i * bStride + c0;
    for (let j = 0; j < width; j++) b[row + j]! -= s * w[j]!;
  }
}

/**
 * The first `qCols` columns of Q = H_0 ... H_{K-1} (dorg2r) from the reflectors householderQr left in
 * `a` (m x n) and `tau`, into `q` (m x qCols, row-major). qCols is min(m, n) (reduced) or m (complete).
 * `w` is scratch of length >= qCols.
 */
export function formQ(
  a: Float64Array,
  m: number,
  n: number,
  tau: Float64Array,
  q: Float64Array,
  qCols: number,
  w: Float64Array,
): void {
  q.fill(0, 0, m * qCols);
  for (let i = 0; i < Math.min(m, qCols); i++) q[i * qCols + i] = 1;
  const kMax = Math.min(m, n);
  // Backwards: H_k touches rows k.. and, applied to H_{k+1}...e_j, only columns j >= k are non-trivial.
  for (let k = kMax - 1; k >= 0; k--) {
    const t = tau[k]!;
    if (t !== 0) applyReflectorLeft(a, n, k, k, m, qCols, t, q, qCols, k, w);
  }
}
