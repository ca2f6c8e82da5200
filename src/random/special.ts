/**
 * The inverse error function, needed by the normal samplers (JAX: sqrt(2) * erf_inv(uniform(-1, 1))):
 * the scalar erfinv accurate to float64 (from erf and erfc, ../ops/erf.ts), and the `erf_inv` primitive with its rules.
 */
import { ConcreteArray, type NdArray } from "../core/array.js";
import { isFloat, storageFor } from "../core/dtype.js";
import { type Primitive, primitive } from "../core/primitive.js";
import { ShapeError } from "../core/shape.js";
import { astype, multiply } from "../ops/binary.js";
import { erf, erfc } from "../ops/erf.js";
import { erfInvToOnnx } from "../ops/erf-onnx.js";
import { exp, square } from "../ops/unary.js";

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

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

export const erfInvPrim: Primitive<Record<string, never>, [x: unknown], [out: unknown]> = primitive({
  name: "erf_inv",
  abstractEval([x]) {
    if (!isFloat(x.dtype)) throw new ShapeError(`erf_inv: expected a float array, got ${x.dtype}`);
    return [x];
  },
  impl([x]) {
    const out = storageFor(x.dtype, x.size);
    const d = x.storage;
    for (let i = 0; i < d.length; i++) out[i] = erfinv(d[i]!);
    return [new ConcreteArray(x.shape, x.dtype, out)];
  },
  jvp([x], [t]) {
    // d/dx erfinv(x) = sqrt(pi)/2 * exp(erfinv(x)^2)
    const y = erfInvPrim.bind1([x], {});
    return { primalsOut: [y], tangentsOut: [multiply(t, multiply(exp(square(y)), Math.sqrt(Math.PI) / 2))] };
  },
  // Elementwise: the batch axis stays where it is.
  batch: ([x], [dim]) => [[erfInvPrim.bind1([x], {})], [dim!]],
  // Computed in float64 as the kernel computes it, rounded to the operand's dtype.
  onnx: (g, [x], _p, [aval]) => [
    g.cast(erfInvToOnnx(g, g.cast(x!, aval!.dtype, "float64"), aval!.shape), "float64", aval!.dtype),
  ],
});

/** The inverse error function, elementwise (integer input becomes float32). */
export function erfInv(x: NdArray): NdArray {
  return erfInvPrim.bind1([isFloat(x.dtype) ? x : astype(x, "float32")], {});
}
