/**
 * exp and log as fdlibm computes them (Sun's freely distributable libm, e_exp.c and e_log.c), in plain
 * float64 arithmetic, so the JS kernels give the same bits on every engine. Engines' Math.exp and
 * Math.log differ in the last bit: Node 20's V8 uses fdlibm, Chromium 156's does not, and a float64
 * training run then drifts apart from its first softmax on. Both are within 1 ulp of the exact value.
 *
 * The high and low 32-bit words of a double are read through a shared Float64Array (little-endian, as
 * WebAssembly requires of every engine that runs these kernels). The constants are exported for the float64
 * SIMD forms of these functions (../wasm/math.ts), which compute the same bits.
 */

const float = new Float64Array(1);
const words = new Int32Array(float.buffer);
const HIGH = 1;
const LOW = 0;

export const LN2_HI = 0.6931471803691238;
export const LN2_LO = 1.9082149292705877e-10;
export const INV_LN2 = Math.LOG2E;
export const EXP_P1 = 0.16666666666666602;
export const EXP_P2 = -0.0027777777777015593;
export const EXP_P3 = 6.613756321437934e-5;
export const EXP_P4 = -1.6533902205465252e-6;
export const EXP_P5 = 4.1381367970572385e-8;
export const EXP_OVERFLOW = 709.782712893384;
export const EXP_UNDERFLOW = -745.1332191019411;
export const TWO_M1000 = 9.332636185032189e-302;

/** The double whose high word is `high` and low word 0 (fdlibm compares high words; we compare |x| to these). */
function withHighWord(high: number): number {
  words[HIGH] = high;
  words[LOW] = 0;
  return float[0]!;
}
export const EXP_LARGE = withHighWord(0x40862e42); // |x| >= 709.78...: overflow or underflow possible
export const EXP_REDUCE = withHighWord(0x3fd62e43); // |x| > 0.5 ln2
export const EXP_ONE_STEP = withHighWord(0x3ff0a2b2); // |x| < 1.5 ln2
export const EXP_TINY = withHighWord(0x3e300000); // 2^-28

/** 2^(j - POWER_ZERO) at j, for j - POWER_ZERO in [-1024, 1023] (all exact). */
const POWER_ZERO = 1024;
const POWERS_OF_TWO = new Float64Array(2048);
POWERS_OF_TWO[POWER_ZERO] = 1;
for (let j = POWER_ZERO + 1; j < 2048; j++) POWERS_OF_TWO[j] = POWERS_OF_TWO[j - 1]! * 2;
for (let j = POWER_ZERO - 1; j >= 0; j--) POWERS_OF_TWO[j] = POWERS_OF_TWO[j + 1]! / 2;

/**
 * e^x (fdlibm's __ieee754_exp). fdlibm's comparisons of the high word are made on |x| against the
 * doubles with that high word, and its scaling by 2^k through the exponent bits is a multiplication by
 * an exact power of two (the same result while it is normal).
 */
export function exp(x: number): number {
  const negative = x < 0;
  const magnitude = negative ? -x : x;
  if (magnitude >= EXP_LARGE || Number.isNaN(x)) {
    if (!Number.isFinite(x)) return Number.isNaN(x) ? x : negative ? 0 : x;
    if (x > EXP_OVERFLOW) return Number.POSITIVE_INFINITY;
    if (x < EXP_UNDERFLOW) return 0;
  }
  // Reduce: x = k ln2 + r with |r| <= ln2 / 2, r as hi - lo.
  let hi = 0;
  let lo = 0;
  let k = 0;
  if (magnitude >= EXP_REDUCE) {
    if (magnitude < EXP_ONE_STEP) {
      hi = negative ? x + LN2_HI : x - LN2_HI;
      lo = negative ? -LN2_LO : LN2_LO;
      k = negative ? -1 : 1;
    } else {
      k = Math.trunc(INV_LN2 * x + (negative ? -0.5 : 0.5));
      hi = x - k * LN2_HI; // exact
      lo = k * LN2_LO;
    }
    x = hi - lo;
  } else if (magnitude < EXP_TINY) {
    return 1 + x;
  }
  const t = x * x;
  const c = x - t * (EXP_P1 + t * (EXP_P2 + t * (EXP_P3 + t * (EXP_P4 + t * EXP_P5))));
  if (k === 0) return 1 - ((x * c) / (c - 2) - x);
  const y = 1 - (lo - (x * c) / (2 - c) - hi);
  if (k >= -1021)
    return k === 1024 ? y * 2 * POWERS_OF_TWO[POWER_ZERO + 1023]! : y * POWERS_OF_TWO[POWER_ZERO + k]!;
  return y * POWERS_OF_TWO[POWER_ZERO + k + 1000]! * TWO_M1000;
}

export const TWO_54 = 1.8014398509481984e16;
export const LG1 = 0.6666666666666735;
export const LG2 = 0.3999999999940942;
export const LG3 = 0.2857142874366239;
export const LG4 = 0.22222198432149784;
export const LG5 = 0.1818357216161805;
export const LG6 = 0.15313837699209373;
export const LG7 = 0.14798198605116586;

/** The natural logarithm (fdlibm's __ieee754_log). */
export function log(x: number): number {
  float[0] = x;
  let high = words[HIGH]!;
  let k = 0;
  if (high < 0x00100000) {
    // Zero, negative or subnormal.
    if (((high & 0x7fffffff) | words[LOW]!) === 0) return Number.NEGATIVE_INFINITY;
    if (high < 0) return Number.NaN;
    k -= 54;
    float[0] = x * TWO_54;
    high = words[HIGH]!;
  }
  if (high >= 0x7ff00000) return x + x; // Inf or NaN
  const exponent = (high >> 20) - 1023;
  high &= 0x000fffff;
  let i = (high + 0x95f64) & 0x100000;
  // x or x/2 into [sqrt(2)/2, sqrt(2)) by an exact power of two (fdlibm sets the exponent bits instead).
  const scale = exponent + (i >> 20);
  k += scale;
  const f = float[0] * POWERS_OF_TWO[POWER_ZERO - scale]! - 1;
  if ((0x000fffff & (2 + high)) < 3) {
    // |f| < 2^-20
    if (f === 0) return k === 0 ? 0 : k * LN2_HI + k * LN2_LO;
    const r = f * f * (0.5 - 0.3333333333333333 * f);
    return k === 0 ? f - r : k * LN2_HI - (r - k * LN2_LO - f);
  }
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  i = high - 0x6147a;
  const j = 0x6b851 - high;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  if ((i | j) > 0) {
    const halfSquare = 0.5 * f * f;
    if (k === 0) return f - (halfSquare - s * (halfSquare + r));
    return k * LN2_HI - (halfSquare - (s * (halfSquare + r) + k * LN2_LO) - f);
  }
  if (k === 0) return f - s * (f - r);
  return k * LN2_HI - (s * (f - r) - k * LN2_LO - f);
}
