/**
 * The inverse error function, needed by the normal samplers (JAX: sqrt(2) * erf_inv(uniform(-1, 1))):
 * scalar erf / erfc / erfinv accurate to float64, and the `erf_inv` primitive with its rules.
 */
import { ConcreteArray, type NdArray } from "../core/array.js";
import { isFloat, storageFor } from "../core/dtype.js";
import { type Primitive, primitive } from "../core/primitive.js";
import { ShapeError } from "../core/shape.js";
import { astype, multiply } from "../ops/binary.js";
import { exp, square } from "../ops/unary.js";

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

/**
 * Giles' single-precision approximation ("Approximating the erfinv function", GPU Computing Gems, 2010),
 * the same polynomial XLA uses for float32: relative error ~1e-7, the starting point for refinement.
 */
function erfinvGuess(y: number): number {
  let w = -Math.log((1 - y) * (1 + y));
  let p: number;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-8;
    p = 3.43273939e-7 + p * w;
    p = -3.5233877e-6 + p * w;
    p = -4.39150654e-6 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = Math.sqrt(w) - 3;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  return p * y;
}

/**
 * The inverse error function on (-1, 1), accurate to float64 (a few ulp): Giles' guess, refined by Halley
 * steps on erf(x) = y for |y| <= 0.5 and by Newton steps on log(erfc(x)) = log(1 - |y|) beyond, where
 * 1 - |y| is exact and erfc keeps its relative accuracy (erf itself rounds to 1 in the tails).
 */
export function erfinv(y: number): number {
  if (Number.isNaN(y) || y < -1 || y > 1) return Number.NaN;
  if (y === 1) return Number.POSITIVE_INFINITY;
  if (y === -1) return Number.NEGATIVE_INFINITY;
  if (y === 0) return y;
  const sign = y < 0 ? -1 : 1;
  const a = Math.abs(y);
  let x = erfinvGuess(a);
  if (a <= 0.5) {
    for (let i = 0; i < 4; i++) {
      // residual r = erf(x) - a, slope 2/sqrt(pi) exp(-x^2); Halley: x -= r / (slope + x r).
      const r = erf(x) - a;
      const step = r / (TWO_OVER_SQRT_PI * Math.exp(-x * x) + x * r);
      x -= step;
      // Cubic convergence: a step below 1e-6 leaves an error far below one ulp.
      if (Math.abs(step) <= 1e-6 * Math.abs(x)) break;
    }
    return sign * x;
  }
  const logTail = Math.log(1 - a);
  for (let i = 0; i < 12; i++) {
    // g(x) = log erfc(x) - log(1 - a), g'(x) = -slope / erfc(x): nearly quadratic, so Newton is steady.
    const tail = erfc(x);
    const step = ((Math.log(tail) - logTail) * tail) / (TWO_OVER_SQRT_PI * Math.exp(-x * x));
    x += step;
    // Quadratic convergence: a step below 1e-9 leaves an error below one ulp.
    if (Math.abs(step) <= 1e-9 * x) break;
  }
  return sign * x;
}

// ---------------------------------------------------------------------------------------------------
// the erf_inv primitive

export const erfInvPrim: Primitive<Record<string, never>> = primitive<Record<string, never>>({
  name: "erf_inv",
  abstractEval([x]) {
    if (!isFloat(x!.dtype)) throw new ShapeError(`erf_inv: expected a float array, got ${x!.dtype}`);
    return [x!];
  },
  impl([x]) {
    const out = storageFor(x!.dtype, x!.size);
    const d = x!.data;
    for (let i = 0; i < d.length; i++) out[i] = erfinv(d[i]!);
    return [new ConcreteArray(x!.shape, x!.dtype, out)];
  },
  jvp([x], [t]) {
    // d/dx erfinv(x) = sqrt(pi)/2 * exp(erfinv(x)^2)
    const y = erfInvPrim.bind1([x!], {});
    return { primalsOut: [y], tangentsOut: [multiply(t!, multiply(exp(square(y)), Math.sqrt(Math.PI) / 2))] };
  },
  // Elementwise: the batch axis stays where it is.
  batch: ([x], [dim]) => [[erfInvPrim.bind1([x!], {})], [dim!]],
});

/** The inverse error function, elementwise (integer input becomes float32). */
export function erfInv(x: NdArray): NdArray {
  return erfInvPrim.bind1([isFloat(x.dtype) ? x : astype(x, "float32")], {});
}
