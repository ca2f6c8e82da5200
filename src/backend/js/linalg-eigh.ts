/**
 * The symmetric eigenproblem on float64 storage: Householder reduction to tridiagonal form and implicit
 * QL iterations with Wilkinson-type shifts (EISPACK's tred2 and tql2, as JAMA writes them), eigenvalues
 * ascending. The work matrix is kept transposed (row j holds what EISPACK keeps in column j), so every
 * inner loop of both steps walks contiguous memory; on return row j is the eigenvector of eigenvalue j.
 *
 * Exported for the blocked kernel (linalg-eigh-blocked.ts) and the other factorizations.
 */
import type { RowRotations } from "./linalg-eigh-rotations.js";

/**
 * Eigenvalues (ascending, into `d`) and, when `vectors`, unit eigenvectors (row j of `u` for d[j], with
 * its largest-magnitude component positive, the first such on ties) of the symmetric n x n matrix in `u`
 * (row-major, both triangles filled; overwritten). `e` is scratch of length n. Returns false when the
 * input is not finite or the iteration does not converge: then `d` and `u` are NaN. With `rotations`
 * (whose u() must be `u`), the QL sweeps' eigenvector updates are deferred and run in WebAssembly, in
 * cache-sized column blocks (same numbers).
 */
export function symmetricEigen(
  u: Float64Array,
  n: number,
  d: Float64Array,
  e: Float64Array,
  vectors: boolean,
  rotations: RowRotations | null = null,
): boolean {
  const sigma = scaleToSafeRange(u, n);
  if (Number.isNaN(sigma)) return symmetricEigenFail(u, n, d);
  tridiagonalize(u, n, d, e, vectors);
  if (!tridiagonalQl(u, n, d, e, vectors, rotations)) return symmetricEigenFail(u, n, d);
  if (vectors) normalizeSigns(u, n);
  unscale(d, n, sigma);
  return true;
}

/** LAPACK's dsyev range for the largest entry, sqrt(safe minimum / eps) to its reciprocal. */
const SAFE_MIN = Math.sqrt(2 ** -1022 / 2 ** -53);
const SAFE_MAX = 1 / SAFE_MIN;

/**
 * Scales the n x n matrix u by the power of two sigma (returned; 1 if not needed) that brings its largest
 * magnitude into [SAFE_MIN, SAFE_MAX], as dsyev does: the QL iteration multiplies several entries together
 * and would underflow or overflow far outside it (a silently wrong or NaN answer). NaN if an entry is not
 * finite. A power of two changes no eigenvector and no eigenvalue's digits.
 */
export function scaleToSafeRange(u: Float64Array, n: number): number {
  let largest = 0;
  for (let i = 0; i < n * n; i++) {
    const x = Math.abs(u[i]!);
    if (!(x <= Number.MAX_VALUE)) return Number.NaN;
    if (x > largest) largest = x;
  }
  if (largest === 0 || (largest >= SAFE_MIN && largest <= SAFE_MAX)) return 1;
  const sigma = 2 ** Math.round(Math.log2(largest < SAFE_MIN ? SAFE_MIN / largest : SAFE_MAX / largest));
  for (let i = 0; i < n * n; i++) u[i]! *= sigma;
  return sigma;
}

/** The eigenvalues of the scaled matrix back to the input's: d / sigma. */
export function unscale(d: Float64Array, n: number, sigma: number): void {
  if (sigma !== 1) for (let i = 0; i < n; i++) d[i]! /= sigma;
}

/** The failed solve's result: d and u NaN. */
export function symmetricEigenFail(u: Float64Array, n: number, d: Float64Array): false {
  d.fill(Number.NaN, 0, n);
  u.fill(Number.NaN, 0, n * n);
  return false;
}

/**
 * tred2: the tridiagonal T = Qᵀ A Q in d (diagonal) and e (e[i] = T[i, i-1], e[0] = 0); with `vectors`,
 * Q's columns in u's rows. Reads the lower triangle of A (u[j, k] for k >= j, A's [k, j]).
 */
function tridiagonalize(
  u: Float64Array,
  n: number,
  d: Float64Array,
  e: Float64Array,
  vectors: boolean,
): void {
  if (n === 0) return;
  for (let j = 0; j < n; j++) d[j] = u[j * n + n - 1]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = u[j * n + i - 1]!;
        u[j * n + i] = 0;
        u[i * n + j] = 0;
      }
    } else {
      // The Householder vector of row i, scaled against under- and overflow.
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // The similarity transformation of the leading i x i block.
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        u[i * n + j] = f;
        const row = j * n;
        g = e[j]! + u[row + j]! * f;
        for (let k = j + 1; k < i; k++) {
          const ujk = u[row + k]!;
          g += ujk * d[k]!;
          e[k]! += ujk * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        const row = j * n;
        for (let k = j; k < i; k++) u[row + k]! -= f * e[k]! + g * d[k]!;
        d[j] = u[row + i - 1]!;
        u[row + i] = 0;
      }
    }
    d[i] = h;
  }
  if (!vectors) {
    for (let j = 0; j < n; j++) d[j] = u[j * n + j]!;
    e[0] = 0;
    return;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    u[i * n + n - 1] = u[i * n + i]!;
    u[i * n + i] = 1;
    const h = d[i + 1]!;
    const next = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = u[next + k]! / h;
      for (let j = 0; j <= i; j++) {
        const row = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += u[next + k]! * u[row + k]!;
        for (let k = 0; k <= i; k++) u[row + k]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) u[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = u[j * n + n - 1]!;
    u[j * n + n - 1] = 0;
  }
  u[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** The most QL sweeps spent on one eigenvalue before giving up (LAPACK's dsteqr allows 30). */
const MAX_SWEEPS = 60;

/**
 * tql2: the eigenvalues of the tridiagonal (d, e) into d, ascending; with `vectors`, the rotations
 * applied to u's rows (each as it is made, or logged to `rotations` and applied in blocks) and the rows
 * sorted along. False if some eigenvalue does not converge.
 */
export function tridiagonalQl(
  u: Float64Array,
  n: number,
  d: Float64Array,
  e: Float64Array,
  vectors: boolean,
  rotations: RowRotations | null,
): boolean {
  if (n === 0) return true;
  const log = vectors ? rotations : null;
  const cs = log ? log.cs() : null;
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  const eps = 2 ** -52;
  // Negligible is relative to the whole matrix (tql2 grows tst1 with l, so a leading tiny diagonal entry
  // next to a subnormal off-diagonal one was not deflated and the shift overflowed to NaN).
  let tst1 = 0;
  for (let i = 0; i < n; i++) tst1 = Math.max(tst1, Math.abs(d[i]!) + Math.abs(e[i]!));
  for (let l = 0; l < n; l++) {
    // The first negligible subdiagonal element at or after l (e[n-1] = 0 ends the search).
    let m = l;
    while (m < n - 1 && !(Math.abs(e[m]!) <= eps * tst1)) m++;
    if (m > l) {
      let sweeps = 0;
      do {
        if (++sweeps > MAX_SWEEPS) {
          log?.flush();
          return false;
        }
        // The implicit shift.
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        // The implicit QL transformation.
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        // Where this sweep's rotations go in the log (rotation i at at + 2 (m - 1 - i)).
        const at = log ? log.begin(l, m - 1) + 2 * (m - 1) : 0;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          if (cs) {
            cs[at - 2 * i] = c;
            cs[at - 2 * i + 1] = s;
          } else if (vectors) {
            const a = i * n;
            const b = (i + 1) * n;
            for (let k = 0; k < n; k++) {
              const hk = u[b + k]!;
              u[b + k] = s * u[a + k]! + c * hk;
              u[a + k] = c * u[a + k]! - s * hk;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  log?.flush();
  // Selection sort, ascending, moving the vectors along.
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      if (vectors) {
        for (let j = 0; j < n; j++) {
          const t = u[i * n + j]!;
          u[i * n + j] = u[k * n + j]!;
          u[k * n + j] = t;
        }
      }
    }
  }
  return true;
}

/** Each row (eigenvector) negated where needed so its largest-magnitude component (the first on ties) is positive. */
export function normalizeSigns(u: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    const row = j * n;
    let best = 0;
    for (let k = 1; k < n; k++) if (Math.abs(u[row + k]!) > Math.abs(u[row + best]!)) best = k;
    if (u[row + best]! < 0) for (let k = 0; k < n; k++) u[row + k] = -u[row + k]!;
  }
}
