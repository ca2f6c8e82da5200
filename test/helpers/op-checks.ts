/** Checks shared by the op tests: deterministic inputs, closeness, gradients and batching. */
import { expect } from "vitest";
import { jvp, type NdArray, np, vjp, vmap } from "../../src/index.js";

export type Fn = (...xs: NdArray[]) => NdArray;

/** Deterministic values in [-1, 1), float64. */
export function rand(shape: readonly number[], seed: number): NdArray {
  let s = seed >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32) * 2 - 1;
  }
  return np.array(data, { shape });
}

export function expectClose(actual: NdArray, expected: NdArray, tol = 1e-9): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.toTypedArray();
  const e = expected.toTypedArray();
  for (let i = 0; i < a.length; i++) {
    expect(Math.abs(a[i]! - e[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(e[i]!)));
  }
}

export const dot = (a: NdArray, b: NdArray): number => np.sum(np.multiply(a, b)).item();

/**
 * Checks jvp against central finite differences (float64) and vjp against jvp with the dot-product
 * test <u, J v> = <Jᵀ u, v>. Integer arguments (indices) are closed over by `f`.
 */
export function checkGradients(f: Fn, xs: NdArray[]): void {
  const vs = xs.map((x, i) => rand(x.shape, 101 + i));
  const eps = 1e-6;
  const shifted = (sign: number) => f(...xs.map((x, i) => np.add(x, np.multiply(vs[i]!, sign * eps))));
  const numeric = np.divide(np.subtract(shifted(1), shifted(-1)), 2 * eps);
  const [y, tangent] = jvp(f, xs, vs);
  expectClose(y, f(...xs));
  expectClose(tangent, numeric, 1e-7);
  const u = rand(y.shape, 7);
  const [y2, vjpFn] = vjp(f, ...xs);
  expectClose(y2, y);
  const cts = vjpFn(u);
  expect(cts.length).toBe(xs.length);
  for (const [i, ct] of cts.entries()) expect(ct.shape).toEqual(xs[i]!.shape);
  const lhs = dot(u, tangent);
  const rhs = cts.reduce((acc, ct, i) => acc + dot(ct, vs[i]!), 0);
  expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(lhs)));
}

/** vmap(f) against a loop over the examples, stacked along axis 0. */
export function checkVmap(f: Fn, xs: NdArray[], inAxes: (number | null)[]): void {
  const first = inAxes.findIndex((a) => a !== null);
  const size = xs[first]!.shape[inAxes[first]!]!;
  const batched = vmap(f, { inAxes })(...xs);
  const perExample = Array.from({ length: size }, (_, b) =>
    f(...xs.map((x, i) => (inAxes[i] === null ? x : np.take(x, b, { axis: inAxes[i]! })))),
  );
  expectClose(batched, np.stack(perExample));
}

/** Expects `f` to throw an instance of `type` whose message contains every fragment. */
export function expectError(
  f: () => unknown,
  type: new (...args: never[]) => Error,
  ...fragments: string[]
): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(type);
  for (const s of fragments) expect((error as Error).message).toContain(s);
}
