/** Small helpers shared by the law suites: seeded random arrays, inner products, argument splitting. */
import * as fc from "fast-check";
import { ConcreteArray, type NdArray } from "../src/core/array.js";
import { isFloat, storageFor } from "../src/core/dtype.js";
import { sizeOf } from "../src/core/shape.js";

/** A deterministic stream of uniform numbers in [-1, 1) (mulberry32). */
export function signedStream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** Random values in [-1, 1) shaped like `x` (its float dtype, float64 otherwise). */
export function randomLike(x: { shape: readonly number[]; dtype: string }, next: () => number): NdArray {
  const dtype = x.dtype === "float32" ? "float32" : "float64";
  const data = storageFor(dtype, sizeOf(x.shape));
  for (let i = 0; i < data.length; i++) data[i] = next();
  return new ConcreteArray([...x.shape], dtype, data);
}

/** Zeros of the shape and dtype of `x` (the tangent of an integer or bool argument). */
export function zerosOf(x: NdArray): NdArray {
  return new ConcreteArray([...x.shape], x.dtype, storageFor(x.dtype, x.size));
}

/** Σ a·b over every element of two equally shaped lists of arrays, in float64. */
export function inner(a: readonly NdArray[], b: readonly NdArray[]): number {
  let s = 0;
  a.forEach((x, k) => {
    const xd = x.concrete().storage;
    const yd = b[k]!.concrete().storage;
    for (let i = 0; i < xd.length; i++) s += xd[i]! * yd[i]!;
  });
  return s;
}

/** Σ |a|·|b|: the scale an inner product's rounding error is relative to. */
export function innerAbs(a: readonly NdArray[], b: readonly NdArray[]): number {
  let s = 0;
  a.forEach((x, k) => {
    const xd = x.concrete().storage;
    const yd = b[k]!.concrete().storage;
    for (let i = 0; i < xd.length; i++) s += Math.abs(xd[i]!) * Math.abs(yd[i]!);
  });
  return s;
}

export const isFloatArray = (x: NdArray): boolean => isFloat(x.dtype);

/**
 * The function of the float arguments alone, the others held at their values: what jvp and vjp
 * differentiate (integer indices, bool masks and keys have no tangent).
 */
export function overFloats(
  fn: (...xs: NdArray[]) => NdArray,
  args: readonly NdArray[],
): { g: (...floats: NdArray[]) => NdArray; floats: NdArray[] } {
  const positions = args.map((a, i) => (isFloatArray(a) ? i : -1)).filter((i) => i >= 0);
  const g = (...floats: NdArray[]): NdArray => {
    const full = [...args];
    positions.forEach((p, j) => {
      full[p] = floats[j]!;
    });
    return fn(...full);
  };
  return { g, floats: positions.map((p) => args[p]!) };
}

/** A seed for the helpers' random streams, drawn by fast-check so a failing run replays. */
export const seedArb: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0x7fffffff });
