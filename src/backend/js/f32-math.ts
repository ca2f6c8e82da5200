/**
 * Float32 exp, log, tanh and the logistic sigmoid: Cephes' single-precision approximations (expf, logf,
 * tanhf) evaluated in float32, every operation rounded (Math.fround), each within 2 ulp of
 * Math.fround(Math.<f>(x)). These are the float32 definitions everywhere: eager kernels and JS fused loops
 * call these functions, and the WebAssembly fused loops (../wasm/math.ts) emit the same operations in
 * f32x4 lanes with these constants, so a float32 result is bit-identical whichever kernel computes it.
 * See ../wasm/math.ts for the method and the special values.
 */
const f = Math.fround;

// exp (Cephes expf)
export const EXP_LOG2E = Math.LOG2E;
export const EXP_C1 = 0.693359375;
export const EXP_C2 = -2.1219444e-4;
export const EXP_P = [
  1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
];
export const EXP_LO = -104;
export const EXP_HI = 89;
// log (Cephes logf)
export const LOG_SQRTHF = Math.SQRT1_2;
export const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];
// tanh (Cephes tanhf)
export const TANH_SMALL = 0.625;
export const TANH_P = [
  -5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1,
];

// The constants as the f32x4 code holds them.
const LOG2E32 = f(EXP_LOG2E);
const C1 = f(EXP_C1);
const C2 = f(EXP_C2);
const EXP_P32 = EXP_P.map(f);
const LOG_P32 = LOG_P.map(f);
const TANH_P32 = TANH_P.map(f);
const SQRTHF32 = f(LOG_SQRTHF);
const TANH_SMALL32 = f(TANH_SMALL);

const word = new Int32Array(1);
const single = new Float32Array(word.buffer);

/** Horner's scheme with every step rounded: ((p0·x + p1)·x + ...) + p_last. */
function poly(x: number, p: readonly number[]): number {
  let y = p[0]!;
  for (let i = 1; i < p.length; i++) y = f(f(y * x) + p[i]!);
  return y;
}

/** Round half to even (f32x4.nearest on a float32 value). */
function nearest(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** e^x in float32. */
export function expf(x: number): number {
  const xc = Math.min(Math.max(x, EXP_LO), EXP_HI);
  const n = nearest(f(xc * LOG2E32));
  const r = f(f(xc - f(n * C1)) - f(n * C2));
  let y = f(poly(r, EXP_P32) * f(r * r));
  y = f(f(y + r) + 1);
  // 2^n as two powers of two (both normal), as the f32x4 code builds them from exponent bits.
  const ni = Number.isNaN(n) ? 0 : n;
  const half = ni >> 1;
  return f(f(y * 2 ** half) * 2 ** (ni - half));
}

/** The natural logarithm in float32. */
export function logf(x: number): number {
  const tiny = x < 2 ** -126;
  single[0] = tiny ? f(x * 2 ** 23) : x;
  const bits = word[0]!;
  let e = ((bits >>> 23) - 126 + (tiny ? -23 : 0)) | 0;
  word[0] = (bits & 0x007fffff) | 0x3f000000;
  let m = single[0];
  if (m < SQRTHF32) {
    e -= 1;
    m = f(m + m);
  }
  m = f(m - 1);
  const z = f(m * m);
  let y = f(f(poly(m, LOG_P32) * m) * z);
  y = f(y + f(e * C2));
  y = f(y + f(z * -0.5));
  y = f(y + m);
  y = f(y + f(e * C1));
  if (x === Number.POSITIVE_INFINITY) return x;
  if (x === 0) return Number.NEGATIVE_INFINITY;
  return x >= 0 ? y : Number.NaN;
}

/** The hyperbolic tangent in float32. */
export function tanhf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < TANH_SMALL32) {
    const z = f(x * x);
    r = f(f(f(poly(z, TANH_P32) * z) * x) + x);
  } else r = f(1 - f(2 / f(expf(f(ax + ax)) + 1)));
  // The sign of x, or'ed into the result's sign bit.
  return x < 0 || Object.is(x, -0) ? -Math.abs(r) : r;
}

/** The logistic sigmoid 1 / (1 + e^-x) in float32 (e^-|x|, so nothing overflows). */
export function logisticf(x: number): number {
  const e = expf(-Math.abs(x));
  return f((x >= 0 ? 1 : e) / f(1 + e));
}
