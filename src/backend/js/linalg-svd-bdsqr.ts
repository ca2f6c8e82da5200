/**
 * The SVD of an upper bidiagonal matrix by implicit-shift QR (LAPACK's dbdsqr; Demmel and Kahan,
 * "Accurate singular values of bidiagonal matrices", 1990): Wilkinson-type shifts from the trailing (or
 * leading) 2 x 2 block, the zero shift where a shift would spoil the relative accuracy of the small
 * singular values, chasing top-down or bottom-up by which end is larger, and the relative convergence
 * criterion, so every singular value is found to high relative accuracy.
 *
 * The rotations are accumulated into U and V: each sweep's rotations are logged and applied later, a
 * batch of sweeps at a time, by a RotationTarget: here the columns of a row-major matrix, in JS, row by
 * row and four rows at once, so that a row stays in cache across all the batched sweeps; or vectors
 * stored as rows in the plan memory, in WebAssembly SIMD (../wasm/plane-rotations.ts), with the same
 * roundings. Without U and V (the values-only path) the iteration is the same, so the two paths give
 * the same singular values bit for bit.
 */

const EPS = 2 ** -53; // LAPACK's dlamch('E'): relative machine precision, rounding to nearest
const SAFE_MIN = 2 ** -1022;
const SAFE_MAX = 1 / SAFE_MIN;
const RT_MIN = Math.sqrt(SAFE_MIN);
const RT_MAX = Math.sqrt(SAFE_MAX / 2);
const TOL = Math.max(10, Math.min(100, EPS ** -0.125)) * EPS;
const MAX_ITERATIONS_PER_VALUE = 6;

/** A matrix whose columns the rotations combine: `rows` rows of `stride` elements from `offset`. */
export interface RotatedColumns {
  readonly data: Float64Array;
  readonly offset: number;
  readonly rows: number;
  readonly stride: number;
}

/** A plane rotation from dlartg: [c s; -s c] [f; g] = [r; 0]. */
let rotC = 0;
let rotS = 0;
let rotR = 0;

/** dlartg (LAPACK 3.10): sets rotC, rotS, rotR with r = ±sqrt(f² + g²) (the sign of f), safely scaled. */
function planeRotation(f: number, g: number): void {
  if (g === 0) {
    rotC = 1;
    rotS = 0;
    rotR = f;
    return;
  }
  if (f === 0) {
    rotC = 0;
    rotS = g < 0 ? -1 : 1;
    rotR = Math.abs(g);
    return;
  }
  const f1 = Math.abs(f);
  const g1 = Math.abs(g);
  if (f1 > RT_MIN && f1 < RT_MAX && g1 > RT_MIN && g1 < RT_MAX) {
    const d = Math.sqrt(f * f + g * g);
    rotC = f1 / d;
    rotR = f < 0 ? -d : d;
    rotS = g / rotR;
    return;
  }
  const u = Math.min(SAFE_MAX, Math.max(SAFE_MIN, f1, g1));
  const fs = f / u;
  const gs = g / u;
  const d = Math.sqrt(fs * fs + gs * gs);
  rotC = Math.abs(fs) / d;
  const r = fs < 0 ? -d : d;
  rotS = gs / r;
  rotR = r * u;
}

const sign = (a: number, b: number): number => (b < 0 || Object.is(b, -0) ? -Math.abs(a) : Math.abs(a));

/** dlas2: the smaller singular value of [f g; 0 h] (the larger is not needed here). */
function smallerSingularValue2(f: number, g: number, h: number): number {
  const fa = Math.abs(f);
  const ga = Math.abs(g);
  const ha = Math.abs(h);
  const fhmn = Math.min(fa, ha);
  const fhmx = Math.max(fa, ha);
  if (fhmn === 0) return 0;
  if (ga < fhmx) {
    const as = 1 + fhmn / fhmx;
    const at = (fhmx - fhmn) / fhmx;
    const au = (ga / fhmx) ** 2;
    const c = 2 / (Math.sqrt(as * as + au) + Math.sqrt(at * at + au));
    return fhmn * c;
  }
  const au = fhmx / ga;
  if (au === 0) return (fhmn * fhmx) / ga;
  const as = 1 + fhmn / fhmx;
  const at = (fhmx - fhmn) / fhmx;
  const c = 1 / (Math.sqrt(1 + (as * au) ** 2) + Math.sqrt(1 + (at * au) ** 2));
  const ssmin = fhmn * c * au;
  return ssmin + ssmin;
}

/** The SVD of [f g; 0 h] (dlasv2): [ssmin, ssmax, snr, csr, snl, csl], signed as LAPACK's. */
function svd2x2(f: number, g: number, h: number): [number, number, number, number, number, number] {
  let ft = f;
  let fa = Math.abs(ft);
  let ht = h;
  let ha = Math.abs(h);
  let pmax = 1;
  const swap = ha > fa;
  if (swap) {
    pmax = 3;
    [ft, ht] = [ht, ft];
    [fa, ha] = [ha, fa];
  }
  const gt = g;
  const ga = Math.abs(gt);
  let clt: number;
  let crt: number;
  let slt: number;
  let srt: number;
  let ssmin: number;
  let ssmax: number;
  if (ga === 0) {
    ssmin = ha;
    ssmax = fa;
    clt = 1;
    crt = 1;
    slt = 0;
    srt = 0;
  } else {
    let small = true;
    clt = crt = slt = srt = ssmin = ssmax = 0;
    if (ga > fa) {
      pmax = 2;
      if (fa / ga < EPS) {
        small = false;
        ssmax = ga;
        ssmin = ha > 1 ? fa / (ga / ha) : (fa / ga) * ha;
        clt = 1;
        slt = ht / gt;
        srt = 1;
        crt = ft / gt;
      }
    }
    if (small) {
      const d = fa - ha;
      let l = d === fa ? 1 : d / fa;
      const m = gt / ft;
      let t = 2 - l;
      const mm = m * m;
      const tt = t * t;
      const s = Math.sqrt(tt + mm);
      const r = l === 0 ? Math.abs(m) : Math.sqrt(l * l + mm);
      const a = 0.5 * (s + r);
      ssmin = ha / a;
      ssmax = fa * a;
      if (mm === 0) {
        t = l === 0 ? sign(2, ft) * sign(1, gt) : gt / sign(d, ft) + m / t;
      } else {
        t = (m / (s + t) + m / (r + l)) * (1 + a);
      }
      l = Math.sqrt(t * t + 4);
      crt = 2 / l;
      srt = t / l;
      clt = (crt + srt * m) / a;
      slt = ((ht / ft) * srt) / a;
    }
  }
  const [csl, snl, csr, snr] = swap ? [srt, crt, slt, clt] : [clt, slt, crt, srt];
  let tsign: number;
  if (pmax === 1) tsign = sign(1, csr) * sign(1, csl) * sign(1, f);
  else if (pmax === 2) tsign = sign(1, snr) * sign(1, csl) * sign(1, g);
  else tsign = sign(1, snr) * sign(1, snl) * sign(1, h);
  ssmax = sign(ssmax, tsign);
  ssmin = sign(ssmin, tsign * sign(1, f) * sign(1, h));
  return [ssmin, ssmax, snr, csr, snl, csl];
}

/** A log's arrays: cosines and sines, and per sweep t four i32 at meta[4 t]: lo, len, forward (1/0), start. */
export interface RotationStorage {
  readonly c: Float64Array;
  readonly s: Float64Array;
  readonly meta: Int32Array;
}

/**
 * Where logged sweeps go: the log's storage (fetched again at each bidiagonalSvd call, as plan-memory
 * views may be replaced between calls) and how the first `count` sweeps in it are applied, in order.
 */
export interface RotationTarget {
  storage(): RotationStorage;
  apply(count: number): void;
}

/** At most this many rotations (per side) wait in a log before they are applied. */
const LOG_ROTATIONS = 1 << 14;
const LOG_SWEEPS = 64;

/** The capacity of a log for order n: [rotations, sweeps]. */
export function rotationLogCapacity(n: number): [rotations: number, sweeps: number] {
  return [Math.max(LOG_ROTATIONS, n), LOG_SWEEPS];
}

/**
 * Sweeps of rotations waiting to be applied to the vectors of one target: sweep t combines vectors
 * lo .. lo + len, forward (rotation j on vectors lo+j, lo+j+1, j ascending) or backward (j descending),
 * with cosines and sines at c/s[start ..].
 */
class RotationLog {
  c: Float64Array = new Float64Array(0);
  s: Float64Array = new Float64Array(0);
  private meta: Int32Array = new Int32Array(0);
  private sweeps = 0;
  private used = 0;

  constructor(private readonly target: RotationTarget) {}

  /** Takes the target's storage for the calls that follow. */
  begin(): void {
    ({ c: this.c, s: this.s, meta: this.meta } = this.target.storage());
    this.sweeps = 0;
    this.used = 0;
  }

  /** Room for a sweep of `len` rotations (flushing the log if needed); returns where to write them. */
  open(lo: number, len: number, forward: boolean): number {
    if (4 * this.sweeps === this.meta.length || this.used + len > this.c.length) this.flush();
    const t = 4 * this.sweeps++;
    const start = this.used;
    this.meta[t] = lo;
    this.meta[t + 1] = len;
    this.meta[t + 2] = forward ? 1 : 0;
    this.meta[t + 3] = start;
    this.used += len;
    return start;
  }

  flush(): void {
    if (this.sweeps > 0) this.target.apply(this.sweeps);
    this.sweeps = 0;
    this.used = 0;
  }
}

/**
 * The rotations applied to the columns of a row-major matrix (one vector per column), in JS: row by row
 * and four rows at once, so that a row stays in cache across all the logged sweeps and four independent
 * dependency chains keep the floating-point units busy.
 */
export function rowMajorRotations(columns: RotatedColumns, n: number): RotationTarget {
  const [rotations, sweeps] = rotationLogCapacity(n);
  const storage = {
    c: new Float64Array(rotations),
    s: new Float64Array(rotations),
    meta: new Int32Array(4 * sweeps),
  };
  return {
    storage: () => storage,
    apply(count) {
      const { data, offset, rows, stride } = columns;
      const { c, s, meta } = storage;
      let r = 0;
      for (; r + 4 <= rows; r += 4) {
        const o = offset + r * stride;
        for (let t = 0; t < 4 * count; t += 4) {
          if (meta[t + 2]) forward4(data, o, stride, meta[t]!, meta[t + 1]!, c, s, meta[t + 3]!);
          else backward4(data, o, stride, meta[t]!, meta[t + 1]!, c, s, meta[t + 3]!);
        }
      }
      for (; r < rows; r++) {
        const o = offset + r * stride;
        for (let t = 0; t < 4 * count; t += 4) {
          if (meta[t + 2]) forward1(data, o, meta[t]!, meta[t + 1]!, c, s, meta[t + 3]!);
          else backward1(data, o, meta[t]!, meta[t + 1]!, c, s, meta[t + 3]!);
        }
      }
    },
  };
}

// dlasr('R', 'V', 'F' | 'B') on one row: rotation j sets x_j <- c x_j + s x_{j+1}, x_{j+1} <- c x_{j+1} - s x_j.
// The updated x_{j+1} (forward) or x_j (backward) is carried in a register to the next rotation.

function forward1(
  x: Float64Array,
  o: number,
  lo: number,
  len: number,
  c: Float64Array,
  s: Float64Array,
  at: number,
): void {
  const b = o + lo;
  let carry = x[b]!;
  for (let j = 0; j < len; j++) {
    const cj = c[at + j]!;
    const sj = s[at + j]!;
    const t = x[b + j + 1]!;
    x[b + j] = sj * t + cj * carry;
    carry = cj * t - sj * carry;
  }
  x[b + len] = carry;
}

function backward1(
  x: Float64Array,
  o: number,
  lo: number,
  len: number,
  c: Float64Array,
  s: Float64Array,
  at: number,
): void {
  const b = o + lo;
  let carry = x[b + len]!;
  for (let j = len - 1; j >= 0; j--) {
    const cj = c[at + j]!;
    const sj = s[at + j]!;
    const t = x[b + j]!;
    x[b + j + 1] = cj * carry - sj * t;
    carry = sj * carry + cj * t;
  }
  x[b] = carry;
}

function forward4(
  x: Float64Array,
  o: number,
  stride: number,
  lo: number,
  len: number,
  c: Float64Array,
  s: Float64Array,
  at: number,
): void {
  const b0 = o + lo;
  const b1 = b0 + stride;
  const b2 = b1 + stride;
  const b3 = b2 + stride;
  let p0 = x[b0]!;
  let p1 = x[b1]!;
  let p2 = x[b2]!;
  let p3 = x[b3]!;
  for (let j = 0; j < len; j++) {
    const cj = c[at + j]!;
    const sj = s[at + j]!;
    const t0 = x[b0 + j + 1]!;
    const t1 = x[b1 + j + 1]!;
    const t2 = x[b2 + j + 1]!;
    const t3 = x[b3 + j + 1]!;
    x[b0 + j] = sj * t0 + cj * p0;
    x[b1 + j] = sj * t1 + cj * p1;
    x[b2 + j] = sj * t2 + cj * p2;
    x[b3 + j] = sj * t3 + cj * p3;
    p0 = cj * t0 - sj * p0;
    p1 = cj * t1 - sj * p1;
    p2 = cj * t2 - sj * p2;
    p3 = cj * t3 - sj * p3;
  }
  x[b0 + len] = p0;
  x[b1 + len] = p1;
  x[b2 + len] = p2;
  x[b3 + len] = p3;
}

function backward4(
  x: Float64Array,
  o: number,
  stride: number,
  lo: number,
  len: number,
  c: Float64Array,
  s: Float64Array,
  at: number,
): void {
  const b0 = o + lo;
  const b1 = b0 + stride;
  const b2 = b1 + stride;
  const b3 = b2 + stride;
  let p0 = x[b0 + len]!;
  let p1 = x[b1 + len]!;
  let p2 = x[b2 + len]!;
  let p3 = x[b3 + len]!;
  for (let j = len - 1; j >= 0; j--) {
    const cj = c[at + j]!;
    const sj = s[at + j]!;
    const t0 = x[b0 + j]!;
    const t1 = x[b1 + j]!;
    const t2 = x[b2 + j]!;
    const t3 = x[b3 + j]!;
    x[b0 + j + 1] = cj * p0 - sj * t0;
    x[b1 + j + 1] = cj * p1 - sj * t1;
    x[b2 + j + 1] = cj * p2 - sj * t2;
    x[b3 + j + 1] = cj * p3 - sj * t3;
    p0 = sj * p0 + cj * t0;
    p1 = sj * p1 + cj * t1;
    p2 = sj * p2 + cj * t2;
    p3 = sj * p3 + cj * t3;
  }
  x[b0] = p0;
  x[b1] = p1;
  x[b2] = p2;
  x[b3] = p3;
}

/** Scratch of a bidiagonal SVD: the logs of the rotations of U and V (null: not accumulated). */
export interface BidiagonalSvdScratch {
  readonly logU: RotationLog | null;
  readonly logV: RotationLog | null;
}

/** Scratch for a bidiagonal SVD whose rotations go to `u` and `v` (null: not accumulated). */
export function bidiagonalSvdScratch(
  u: RotationTarget | null,
  v: RotationTarget | null,
): BidiagonalSvdScratch {
  return { logU: u ? new RotationLog(u) : null, logV: v ? new RotationLog(v) : null };
}

/**
 * The singular values of the n x n upper bidiagonal matrix with diagonal `d` and superdiagonal `e`
 * (both overwritten; the values end in `d`, unsorted and signed) and, when the scratch has logs, the
 * rotations applied to its U (left vectors) and V (right vectors): on return B = U diag(d) Vᵀ relative
 * to the U and V passed in. False if the iteration did not converge (which LAPACK reports as info > 0;
 * it does not happen on finite input in practice).
 */
export function bidiagonalSvd(
  d: Float64Array,
  e: Float64Array,
  n: number,
  scratch: BidiagonalSvdScratch,
): boolean {
  const { logU, logV } = scratch;
  logU?.begin();
  logV?.begin();
  const ok = iterate(d, e, n, logU, logV);
  logU?.flush();
  logV?.flush();
  return ok;
}

function iterate(
  d: Float64Array,
  e: Float64Array,
  n: number,
  logU: RotationLog | null,
  logV: RotationLog | null,
): boolean {
  if (n <= 1) return true;
  let smax = 0;
  for (let i = 0; i < n; i++) smax = Math.max(smax, Math.abs(d[i]!));
  for (let i = 0; i < n - 1; i++) smax = Math.max(smax, Math.abs(e[i]!));
  // The relative-accuracy threshold: TOL times an estimate of the smallest singular value.
  let sminoa = Math.abs(d[0]!);
  if (sminoa !== 0) {
    let mu = sminoa;
    for (let i = 1; i < n; i++) {
      mu = Math.abs(d[i]!) * (mu / (mu + Math.abs(e[i - 1]!)));
      sminoa = Math.min(sminoa, mu);
      if (sminoa === 0) break;
    }
  }
  sminoa /= Math.sqrt(n);
  const thresh = Math.max(TOL * sminoa, MAX_ITERATIONS_PER_VALUE * (n * (n * SAFE_MIN)));
  const maxIterations = MAX_ITERATIONS_PER_VALUE * n * n;
  let iterations = 0;
  let oldll = -1;
  let oldm = -1;
  let idir = 0;
  let m = n - 1; // the bottom of the unconverged part
  let sminl = 0;

  outer: while (m > 0) {
    if (iterations > maxIterations) return false;
    // The unreduced block d[ll..m]: the nearest negligible e above m splits it.
    smax = Math.abs(d[m]!);
    let ll = -1;
    for (let i = m - 1; i >= 0; i--) {
      const abss = Math.abs(d[i]!);
      const abse = Math.abs(e[i]!);
      if (abse <= thresh) {
        ll = i;
        break;
      }
      smax = Math.max(smax, abss, abse);
    }
    if (ll >= 0) {
      e[ll] = 0;
      if (ll === m - 1) {
        m -= 1; // a 1 x 1 block has converged
        continue;
      }
    }
    ll += 1;
    if (ll === m - 1) {
      // A 2 x 2 block: directly.
      const [sigmn, sigmx, sinr, cosr, sinl, cosl] = svd2x2(d[m - 1]!, e[m - 1]!, d[m]!);
      d[m - 1] = sigmx;
      e[m - 1] = 0;
      d[m] = sigmn;
      if (logV) {
        const at = logV.open(m - 1, 1, true);
        logV.c[at] = cosr;
        logV.s[at] = sinr;
      }
      if (logU) {
        const at = logU.open(m - 1, 1, true);
        logU.c[at] = cosl;
        logU.s[at] = sinl;
      }
      m -= 2;
      continue;
    }
    // A new block: chase the bulge from the larger end.
    if (ll > oldm || m < oldll) idir = Math.abs(d[ll]!) >= Math.abs(d[m]!) ? 1 : 2;
    // Convergence tests, the relative criterion run in the chase direction.
    if (idir === 1) {
      if (Math.abs(e[m - 1]!) <= TOL * Math.abs(d[m]!)) {
        e[m - 1] = 0;
        continue;
      }
      let mu = Math.abs(d[ll]!);
      sminl = mu;
      for (let i = ll; i < m; i++) {
        if (Math.abs(e[i]!) <= TOL * mu) {
          e[i] = 0;
          continue outer;
        }
        mu = Math.abs(d[i + 1]!) * (mu / (mu + Math.abs(e[i]!)));
        sminl = Math.min(sminl, mu);
      }
    } else {
      if (Math.abs(e[ll]!) <= TOL * Math.abs(d[ll]!)) {
        e[ll] = 0;
        continue;
      }
      let mu = Math.abs(d[m]!);
      sminl = mu;
      for (let i = m - 1; i >= ll; i--) {
        if (Math.abs(e[i]!) <= TOL * mu) {
          e[i] = 0;
          continue outer;
        }
        mu = Math.abs(d[i]!) * (mu / (mu + Math.abs(e[i]!)));
        sminl = Math.min(sminl, mu);
      }
    }
    oldll = ll;
    oldm = m;
    // The shift: zero where it would spoil the relative accuracy of the smallest value.
    let shift = 0;
    if (!(n * TOL * (sminl / smax) <= Math.max(EPS, 0.01 * TOL))) {
      let sll: number;
      if (idir === 1) {
        sll = Math.abs(d[ll]!);
        shift = smallerSingularValue2(d[m - 1]!, e[m - 1]!, d[m]!);
      } else {
        sll = Math.abs(d[m]!);
        shift = smallerSingularValue2(d[ll]!, e[ll]!, d[ll + 1]!);
      }
      if (sll > 0 && (shift / sll) ** 2 < EPS) shift = 0;
    }
    iterations += m - ll;
    const len = m - ll;
    const atV = logV ? logV.open(ll, len, idir === 1) : 0;
    const atU = logU ? logU.open(ll, len, idir === 1) : 0;
    if (shift === 0) {
      if (idir === 1) zeroShiftDown(d, e, ll, m, logU, atU, logV, atV);
      else zeroShiftUp(d, e, ll, m, logU, atU, logV, atV);
    } else if (idir === 1) {
      shiftedDown(d, e, ll, m, shift, logU, atU, logV, atV);
    } else {
      shiftedUp(d, e, ll, m, shift, logU, atU, logV, atV);
    }
    if (idir === 1) {
      if (Math.abs(e[m - 1]!) <= thresh) e[m - 1] = 0;
    } else if (Math.abs(e[ll]!) <= thresh) e[ll] = 0;
  }
  return true;
}

/** A zero-shift QR sweep (Demmel-Kahan) from the top of d[ll..m] to the bottom. */
function zeroShiftDown(
  d: Float64Array,
  e: Float64Array,
  ll: number,
  m: number,
  logU: RotationLog | null,
  atU: number,
  logV: RotationLog | null,
  atV: number,
): void {
  let cs = 1;
  let oldcs = 1;
  let oldsn = 0;
  for (let i = ll; i < m; i++) {
    planeRotation(d[i]! * cs, e[i]!);
    cs = rotC;
    const sn = rotS;
    const r = rotR;
    if (i > ll) e[i - 1] = oldsn * r;
    planeRotation(oldcs * r, d[i + 1]! * sn);
    oldcs = rotC;
    oldsn = rotS;
    d[i] = rotR;
    const j = i - ll;
    if (logV) {
      logV.c[atV + j] = cs;
      logV.s[atV + j] = sn;
    }
    if (logU) {
      logU.c[atU + j] = oldcs;
      logU.s[atU + j] = oldsn;
    }
  }
  const h = d[m]! * cs;
  d[m] = h * oldcs;
  e[m - 1] = h * oldsn;
}

/** A zero-shift QR sweep from the bottom of d[ll..m] to the top. */
function zeroShiftUp(
  d: Float64Array,
  e: Float64Array,
  ll: number,
  m: number,
  logU: RotationLog | null,
  atU: number,
  logV: RotationLog | null,
  atV: number,
): void {
  let cs = 1;
  let oldcs = 1;
  let oldsn = 0;
  for (let i = m; i > ll; i--) {
    planeRotation(d[i]! * cs, e[i - 1]!);
    cs = rotC;
    const sn = rotS;
    const r = rotR;
    if (i < m) e[i] = oldsn * r;
    planeRotation(oldcs * r, d[i - 1]! * sn);
    oldcs = rotC;
    oldsn = rotS;
    d[i] = rotR;
    const j = i - ll - 1;
    if (logU) {
      logU.c[atU + j] = cs;
      logU.s[atU + j] = -sn;
    }
    if (logV) {
      logV.c[atV + j] = oldcs;
      logV.s[atV + j] = -oldsn;
    }
  }
  const h = d[ll]! * cs;
  d[ll] = h * oldcs;
  e[ll] = h * oldsn;
}

/** A shifted implicit QR sweep from the top of d[ll..m] to the bottom. */
function shiftedDown(
  d: Float64Array,
  e: Float64Array,
  ll: number,
  m: number,
  shift: number,
  logU: RotationLog | null,
  atU: number,
  logV: RotationLog | null,
  atV: number,
): void {
  let f = (Math.abs(d[ll]!) - shift) * (sign(1, d[ll]!) + shift / d[ll]!);
  let g = e[ll]!;
  for (let i = ll; i < m; i++) {
    planeRotation(f, g);
    const cosr = rotC;
    const sinr = rotS;
    if (i > ll) e[i - 1] = rotR;
    f = cosr * d[i]! + sinr * e[i]!;
    e[i] = cosr * e[i]! - sinr * d[i]!;
    g = sinr * d[i + 1]!;
    d[i + 1] = cosr * d[i + 1]!;
    planeRotation(f, g);
    const cosl = rotC;
    const sinl = rotS;
    d[i] = rotR;
    f = cosl * e[i]! + sinl * d[i + 1]!;
    d[i + 1] = cosl * d[i + 1]! - sinl * e[i]!;
    if (i < m - 1) {
      g = sinl * e[i + 1]!;
      e[i + 1] = cosl * e[i + 1]!;
    }
    const j = i - ll;
    if (logV) {
      logV.c[atV + j] = cosr;
      logV.s[atV + j] = sinr;
    }
    if (logU) {
      logU.c[atU + j] = cosl;
      logU.s[atU + j] = sinl;
    }
  }
  e[m - 1] = f;
}

/** A shifted implicit QR sweep from the bottom of d[ll..m] to the top. */
function shiftedUp(
  d: Float64Array,
  e: Float64Array,
  ll: number,
  m: number,
  shift: number,
  logU: RotationLog | null,
  atU: number,
  logV: RotationLog | null,
  atV: number,
): void {
  let f = (Math.abs(d[m]!) - shift) * (sign(1, d[m]!) + shift / d[m]!);
  let g = e[m - 1]!;
  for (let i = m; i > ll; i--) {
    planeRotation(f, g);
    const cosr = rotC;
    const sinr = rotS;
    if (i < m) e[i] = rotR;
    f = cosr * d[i]! + sinr * e[i - 1]!;
    e[i - 1] = cosr * e[i - 1]! - sinr * d[i]!;
    g = sinr * d[i - 1]!;
    d[i - 1] = cosr * d[i - 1]!;
    planeRotation(f, g);
    const cosl = rotC;
    const sinl = rotS;
    d[i] = rotR;
    f = cosl * e[i - 1]! + sinl * d[i - 1]!;
    d[i - 1] = cosl * d[i - 1]! - sinl * e[i - 1]!;
    if (i > ll + 1) {
      g = sinl * e[i - 2]!;
      e[i - 2] = cosl * e[i - 2]!;
    }
    const j = i - ll - 1;
    if (logU) {
      logU.c[atU + j] = cosr;
      logU.s[atU + j] = -sinr;
    }
    if (logV) {
      logV.c[atV + j] = cosl;
      logV.s[atV + j] = -sinl;
    }
  }
  e[ll] = f;
}
