/**
 * Householder bidiagonalisation of a tall matrix (LAPACK's dgebd2) and the orthogonal factors it
 * implies (dorgbr): A = Q B Pᵀ with B upper bidiagonal, Q = H_0 ... H_{n-1} (column reflectors) and
 * P = G_0 ... G_{n-2} (row reflectors, G_i acting on indices i+1..).
 *
 * Row-major storage with every inner loop contiguous: the left reflector's wᵀ = vᵀ A is accumulated row by
 * row, and the rest of each step is one pass over the trailing rows that applies the left update, takes
 * the row's product with the right reflector while the row is in cache, and applies the right update.
 */

/**
 * dlarfg on x[o .. o+len): the reflector H = I - tau v vᵀ (v[0] = 1) with H (alpha, x₁..)ᵀ = (beta, 0..);
 * beta goes to x[o], v's tail over x[o+1..]; returns tau (0 when the tail is already zero).
 */
export function reflector(x: Float64Array, o: number, len: number): number {
  const alpha = x[o]!;
  let ssq = 0;
  for (let i = 1; i < len; i++) ssq += x[o + i]! * x[o + i]!;
  if (ssq === 0) return 0;
  let xnorm = Math.sqrt(ssq);
  if (!(ssq > 1e-280 && ssq < 1e280)) {
    // Underflow or overflow in the squares: the scaled sum (dnrm2).
    let scale = 0;
    for (let i = 1; i < len; i++) scale = Math.max(scale, Math.abs(x[o + i]!));
    let s = 0;
    for (let i = 1; i < len; i++) s += (x[o + i]! / scale) ** 2;
    xnorm = scale * Math.sqrt(s);
  }
  const norm = Math.hypot(alpha, xnorm);
  const beta = alpha < 0 || Object.is(alpha, -0) ? norm : -norm;
  const tau = (beta - alpha) / beta;
  const inv = 1 / (alpha - beta);
  for (let i = 1; i < len; i++) x[o + i]! *= inv;
  x[o] = beta;
  return tau;
}

/**
 * Reduces the m x n (m >= n) row-major `a` to upper bidiagonal form in place: the diagonal into `d`, the
 * superdiagonal into `e`; column reflector i's tail below a[i, i] with scale tauq[i], row reflector i's
 * tail right of a[i, i+1] with scale taup[i]. Columns before `from` are taken as done (the trailing
 * matrix of a blocked reduction). Scratch: `w` and `u` of length n, `v` of length m.
 */
export function bidiagonalize(
  a: Float64Array,
  m: number,
  n: number,
  d: Float64Array,
  e: Float64Array,
  tauq: Float64Array,
  taup: Float64Array,
  w: Float64Array,
  u: Float64Array,
  v: Float64Array,
  from = 0,
): void {
  for (let i = from; i < n; i++) {
    // H_i annihilates a[i+1.., i] (gathered into v, contiguous, and written back for formQ).
    for (let r = i; r < m; r++) v[r] = a[r * n + i]!;
    const tq = reflector(v, i, m - i);
    tauq[i] = tq;
    d[i] = v[i]!;
    for (let r = i; r < m; r++) a[r * n + i] = v[r]!;
    v[i] = 1;
    const c0 = i + 1;
    if (c0 === n) {
      taup[i] = 0;
      break;
    }
    const io = i * n;
    if (tq !== 0) {
      // wᵀ = vᵀ A[i.., c0..), then row i's left update (its right reflector comes from the updated row).
      for (let j = c0; j < n; j++) w[j] = a[io + j]!;
      for (let r = i + 1; r < m; r++) {
        const vr = v[r]!;
        if (vr === 0) continue;
        const ro = r * n;
        for (let j = c0; j < n; j++) w[j]! += vr * a[ro + j]!;
      }
      for (let j = c0; j < n; j++) a[io + j]! -= tq * w[j]!;
    }
    // G_i annihilates a[i, c0+1..].
    const tp = reflector(a, io + c0, n - c0);
    taup[i] = tp;
    e[i] = a[io + c0]!;
    u[c0] = 1;
    for (let j = c0 + 1; j < n; j++) u[j] = a[io + j]!;
    // The rows below: left update, z = row · u, right update, each row once through the cache.
    for (let r = i + 1; r < m; r++) {
      const ro = r * n;
      const s = tq * v[r]!;
      let z = 0;
      if (s !== 0) {
        for (let j = c0; j < n; j++) {
          const x = a[ro + j]! - s * w[j]!;
          a[ro + j] = x;
          z += x * u[j]!;
        }
      } else {
        for (let j = c0; j < n; j++) z += a[ro + j]! * u[j]!;
      }
      z *= tp;
      if (z !== 0) for (let j = c0; j < n; j++) a[ro + j]! -= z * u[j]!;
    }
  }
}

/**
 * q[r0.., c0..cols) -= tau v (vᵀ q[r0.., c0..cols)) for the reflector v[r0..rows) (v[r0] = 1), q row-major
 * with `cols` columns; `w` is scratch of length cols.
 */
function reflectRows(
  q: Float64Array,
  rows: number,
  cols: number,
  r0: number,
  c0: number,
  tau: number,
  v: Float64Array,
  w: Float64Array,
): void {
  const first = r0 * cols;
  for (let c = c0; c < cols; c++) w[c] = q[first + c]!;
  for (let r = r0 + 1; r < rows; r++) {
    const vr = v[r]!;
    if (vr === 0) continue;
    const ro = r * cols;
    for (let c = c0; c < cols; c++) w[c]! += vr * q[ro + c]!;
  }
  for (let c = c0; c < cols; c++) q[first + c]! -= tau * w[c]!;
  for (let r = r0 + 1; r < rows; r++) {
    const s = tau * v[r]!;
    if (s === 0) continue;
    const ro = r * cols;
    for (let c = c0; c < cols; c++) q[ro + c]! -= s * w[c]!;
  }
}

/**
 * The first `qCols` columns of Q = H_0 ... H_{n-1} (m x qCols, row-major, qCols = n or m) from the column
 * reflectors `bidiagonalize` left in `a` (m x n) and `tauq`, formed backwards from the identity (dorg2r).
 * Scratch: `v` of length m, `w` of length qCols.
 */
export function formLeft(
  a: Float64Array,
  m: number,
  n: number,
  tauq: Float64Array,
  q: Float64Array,
  qCols: number,
  v: Float64Array,
  w: Float64Array,
): void {
  q.fill(0, 0, m * qCols);
  for (let i = 0; i < Math.min(m, qCols); i++) q[i * qCols + i] = 1;
  // H_i touches rows i.. and, applied to H_{i+1} ... e_j, only columns j >= i are not yet trivial.
  for (let i = n - 1; i >= 0; i--) {
    const tau = tauq[i]!;
    if (tau === 0) continue;
    v[i] = 1;
    for (let r = i + 1; r < m; r++) v[r] = a[r * n + i]!;
    reflectRows(q, m, qCols, i, i, tau, v, w);
  }
}

/**
 * P = G_0 ... G_{n-2} (n x n, row-major) from the row reflectors `bidiagonalize` left in `a` (m x n) and
 * `taup`, formed backwards from the identity. Scratch: `v` and `w` of length n.
 */
export function formRight(
  a: Float64Array,
  n: number,
  taup: Float64Array,
  p: Float64Array,
  v: Float64Array,
  w: Float64Array,
): void {
  p.fill(0, 0, n * n);
  for (let i = 0; i < n; i++) p[i * n + i] = 1;
  for (let i = n - 2; i >= 0; i--) {
    const tau = taup[i]!;
    if (tau === 0) continue;
    v[i + 1] = 1;
    for (let j = i + 2; j < n; j++) v[j] = a[i * n + j]!;
    reflectRows(p, n, n, i + 1, i + 1, tau, v, w);
  }
}
