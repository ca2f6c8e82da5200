/** Finite differences and comparisons for tests, in float64. */
import { expect } from "vitest";
import { type Array as NdArray, np } from "../../src/index.js";

/** Central-difference directional derivative of a scalar function along `v`. */
export function directional(f: (x: NdArray) => NdArray, x: NdArray, v: NdArray, eps = 1e-6): number {
  return (f(x.add(v.mul(eps))).item() - f(x.sub(v.mul(eps))).item()) / (2 * eps);
}

/** Numerical gradient of a scalar function, one coordinate at a time. */
export function numericGrad(f: (x: NdArray) => NdArray, x: NdArray, eps = 1e-6): Float64Array {
  const out = new Float64Array(x.size);
  for (let i = 0; i < x.size; i++) {
    const e = new Float64Array(x.size);
    e[i] = 1;
    out[i] = directional(f, x, np.array(e, { shape: [...x.shape] }), eps);
  }
  return out;
}

export function expectClose(
  got: NdArray | ArrayLike<number>,
  want: NdArray | ArrayLike<number>,
  rtol = 1e-6,
  atol = 1e-9,
): void {
  const g = "toTypedArray" in got ? got.toTypedArray() : got;
  const w = "toTypedArray" in want ? want.toTypedArray() : want;
  expect(g.length).toBe(w.length);
  for (let i = 0; i < g.length; i++) {
    const tol = atol + rtol * Math.abs(Number(w[i]));
    if (!(Math.abs(Number(g[i]) - Number(w[i])) <= tol)) {
      throw new Error(`element ${i}: got ${g[i]}, want ${w[i]} (tolerance ${tol})`);
    }
  }
}

export function f64(data: number[] | number[][], shape?: number[]): NdArray {
  return shape ? np.array(data.flat(), { shape, dtype: "float64" }) : np.array(data, { dtype: "float64" });
}

/** A deterministic stream of uniform numbers in [-1, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** A deterministic pseudo-random float64 array in [lo, hi), for inputs that need no fast-check. */
export function seededArray(shape: number[], seed: number, lo = -1, hi = 1): NdArray {
  const next = rng(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + ((next() + 1) / 2) * (hi - lo);
  return np.array(data, { shape });
}
