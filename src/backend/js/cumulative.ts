/**
 * Cumulative kernels (cumprod, cummax, cummin, logcumsumexp): one sequential pass per lane along the
 * axis, each step rounded to the dtype as numpy's `ufunc.accumulate` rounds it, so float32 and integer
 * results are numpy's bit for bit (logcumsumexp up to the rounding of JS's exp and log1p).
 */
import type { DType, TypedArray } from "../../core/dtype.js";
import { type Shape, sizeOf } from "../../core/shape.js";

export type CumulativeOp = "prod" | "max" | "min" | "logsumexp";

/** numpy's npy_logaddexp: x + ln2 where x == y (both infinities too), else max + log1p(exp(-|x - y|)). */
function logaddexp(x: number, y: number): number {
  if (x === y) return x + Math.LN2;
  const d = x - y;
  if (d > 0) return x + Math.log1p(Math.exp(-d));
  if (d <= 0) return y + Math.log1p(Math.exp(d));
  return d; // NaN
}

/** The same in float32 steps, as npy_logaddexpf. */
function logaddexpF32(x: number, y: number): number {
  const f = Math.fround;
  if (x === y) return f(x + Math.LN2);
  const d = f(x - y);
  if (d > 0) return f(x + f(Math.log1p(f(Math.exp(-d)))));
  if (d <= 0) return f(y + f(Math.log1p(f(Math.exp(d)))));
  return d;
}

/**
 * One step `acc ∘ v` of the accumulation, before the storage rounds it to the dtype. On ties max and min
 * take the new element, and a NaN stays (numpy's maximum/minimum.accumulate: maximum(0, -0) there is -0).
 */
function stepFor(op: CumulativeOp, dtype: DType): (acc: number, v: number) => number {
  switch (op) {
    case "prod":
      // Integer products wrap: the low 32 bits hold the low bits of every narrower integer type too.
      return dtype.startsWith("float") || dtype.startsWith("bfloat") ? (acc, v) => acc * v : Math.imul;
    case "max":
      return (acc, v) => (acc > v || Number.isNaN(acc) ? acc : v);
    case "min":
      return (acc, v) => (acc < v || Number.isNaN(acc) ? acc : v);
    case "logsumexp":
      return dtype === "float32" ? logaddexpF32 : logaddexp;
  }
}

/** Writes the inclusive accumulation of `x` (shape `shape`) along `axis` into `out`. */
export function cumulativeInto(
  op: CumulativeOp,
  x: TypedArray,
  out: TypedArray,
  shape: Shape,
  axis: number,
  reverse: boolean,
  dtype: DType,
): void {
  const step = stepFor(op, dtype);
  const outer = sizeOf(shape.slice(0, axis));
  const n = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const first = reverse ? (n - 1) * inner : 0;
  const delta = reverse ? -inner : inner;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < inner; k++) {
      let at = o * n * inner + k + first;
      if (n === 0) continue;
      let acc = x[at]!;
      out[at] = acc;
      for (let j = 1; j < n; j++) {
        at += delta;
        // Stored, then read back: the storage rounds (float32) or wraps (integers) every step, as numpy.
        out[at] = step(acc, x[at]!);
        acc = out[at]!;
      }
    }
  }
}
