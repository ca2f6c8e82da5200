/**
 * The error function and its complement in float64, scalar: the `erf` of the elementwise kernels
 * (ops/expr-js.ts) and of the inverse error function (random/special.ts).
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf by its Maclaurin series; accurate to a few ulp for |x| <= 1.5 (used only there). */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 100; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * sum;
}

/** erfc(x) for x >= 1.5 by its continued fraction (Lentz), with relative accuracy near 1e-16. */
function erfcContinuedFraction(x: number): number {
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const an = n / 2;
    d = x + an * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + an / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

const SERIES_LIMIT = 1.5;

/** erf(x), accurate to a few ulp. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  if (Math.abs(x) < SERIES_LIMIT) return erfSeries(x);
  if (Math.abs(x) > 6) return Math.sign(x);
  return Math.sign(x) * (1 - erfcContinuedFraction(Math.abs(x)));
}

/** The complementary error function 1 - erf(x), with full relative accuracy in the right tail. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return x;
  if (x < SERIES_LIMIT)
    return x <= -6 ? 2 : x <= -SERIES_LIMIT ? 2 - erfcContinuedFraction(-x) : 1 - erfSeries(x);
  if (x > 27) return 0;
  return erfcContinuedFraction(x);
}
