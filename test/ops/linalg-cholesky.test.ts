/**
 * cholesky (issue 20): L Lᵀ = A on random sizes from 1x1 (fast-check), the blocked kernel (several
 * 64-tiles, the last padded) on both backends, which triangle is read, NaNs for matrices that are not
 * positive definite, the upper and scipy forms, choFactor/choSolve residuals, gradients against finite
 * differences (symmetric, as torch's), vmap, jit and the errors. Agreement with torch.linalg is
 * test/golden/linalg-cholesky.test.ts.
 */
import * as fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  backend,
  DTypeError,
  grad,
  jit,
  lax,
  makeProgram,
  type NdArray,
  np,
  ShapeError,
  scipy,
  setBackend,
} from "../../src/index.js";
import { checkGradients, checkVmap, expectClose, expectError, rand } from "../helpers/op-checks.js";

const initial = backend();
afterEach(() => setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads }));

/** M Mᵀ / n + I: symmetric positive definite, eigenvalues in [1, 1 + n]. */
function spd(n: number, seed: number, batch: readonly number[] = []): NdArray {
  const m = rand([...batch, n, n], seed);
  return np.add(np.divide(np.matmul(m, np.swapaxes(m, -1, -2)), n), np.eye(n, n, { dtype: "float64" }));
}

const maxAbs = (x: NdArray): number => np.max(np.abs(x)).item();

function expectFactor(a: NdArray, l: NdArray, tol: number): void {
  expect(l.shape).toEqual(a.shape);
  expect(maxAbs(np.subtract(np.matmul(l, np.swapaxes(l, -1, -2)), a)) / maxAbs(a)).toBeLessThan(tol);
  expect(maxAbs(np.triu(l, { k: 1 }))).toBe(0);
  expect(np.all(np.greater(np.diagonal(l, { axis1: -2, axis2: -1 }), 0)).item()).toBe(1);
}

describe("cholesky factors", () => {
  it("L Lᵀ = A, L lower with a positive diagonal, on random sizes from 1x1 (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 12 }),
          batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
          seed: fc.integer({ min: 1, max: 1e6 }),
          float32: fc.boolean(),
        }),
        ({ n, batch, seed, float32 }) => {
          const a = spd(n, seed, batch);
          const l = lax.linalg.cholesky(float32 ? np.astype(a, "float32") : a);
          expect(l.dtype).toBe(float32 ? "float32" : "float64");
          expectFactor(a, np.astype(l, "float64"), float32 ? 1e-6 : 1e-14);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("the blocked kernel (several tiles, the last one padded) on both backends", () => {
    const a = spd(150, 3, [2]);
    setBackend("js");
    const lJs = np.linalg.cholesky(a);
    setBackend("wasm");
    const lWasm = np.linalg.cholesky(a);
    expectFactor(a, lJs, 1e-14);
    expectClose(lWasm, lJs, 1e-13);
    const l32 = np.linalg.cholesky(np.astype(a, "float32"));
    expectClose(np.astype(l32, "float64"), lJs, 1e-4);
    // Exactly two tiles and one more than one tile.
    for (const n of [128, 65]) expectFactor(spd(n, n), np.linalg.cholesky(spd(n, n)), 1e-14);
  });

  it("the primitive reads only the lower triangle; np and lax symmetrize (as JAX), scipy reads one triangle", () => {
    const a = spd(5, 8);
    const poisoned = np.where(np.triu(np.ones([5, 5], { dtype: "bool" }), { k: 1 }), Number.NaN, a);
    expectClose(lax.linalg.cholesky(poisoned, { symmetrizeInput: false }), lax.linalg.cholesky(a), 1e-15);
    // An unsymmetric input: the factor of (a + aᵀ)/2.
    const skew = np.subtract(rand([5, 5], 9), np.swapaxes(rand([5, 5], 9), 0, 1));
    expectClose(np.linalg.cholesky(np.add(a, skew)), np.linalg.cholesky(a), 1e-14);
    // SciPy's functions read one triangle, as SciPy and jax.scipy: the lower with `lower`, else the upper.
    const upperPoisoned = np.where(np.tril(np.ones([5, 5], { dtype: "bool" }), { k: -1 }), Number.NaN, a);
    expectClose(scipy.linalg.cholesky(poisoned, { lower: true }), lax.linalg.cholesky(a), 1e-15);
    expectClose(scipy.linalg.choFactor(upperPoisoned)[0], np.linalg.cholesky(a, { upper: true }), 1e-15);
  });

  it("not positive definite: NaNs for that matrix only, no error (as JAX; numpy and torch raise)", () => {
    const indefinite = np.array(
      [
        [1, 2],
        [2, 1],
      ],
      { dtype: "float64" },
    );
    const good = spd(2, 4);
    const l = np.linalg.cholesky(np.stack([good, indefinite, np.zeros([2, 2], { dtype: "float64" })]));
    expectFactor(good, np.take(l, 0, { axis: 0 }), 1e-15);
    expect(np.all(np.isnan(np.take(l, 1, { axis: 0 }))).item()).toBe(1);
    expect(np.all(np.isnan(np.take(l, 2, { axis: 0 }))).item()).toBe(1);
    // The blocked kernel too, when the failing pivot is in a later tile.
    const big = spd(100, 5);
    const broken = np.where(np.equal(np.arange(100), 90), -1e3, 0);
    expect(np.all(np.isnan(np.linalg.cholesky(np.add(big, np.diag(broken))))).item()).toBe(1);
    expect(
      np.all(np.isnan(np.linalg.cholesky(np.full([3, 3], Number.NaN, { dtype: "float64" })))).item(),
    ).toBe(1);
  });

  it("upper factors: np.linalg.cholesky({ upper }), scipy.linalg.cholesky (upper by default)", () => {
    const a = spd(4, 2, [3]);
    const l = np.linalg.cholesky(a);
    const u = np.linalg.cholesky(a, { upper: true });
    expectClose(u, np.swapaxes(l, -1, -2), 0);
    expectClose(scipy.linalg.cholesky(a), u, 0);
    expectClose(scipy.linalg.cholesky(a, { lower: true }), l, 0);
    expect(maxAbs(np.subtract(np.matmul(np.swapaxes(u, -1, -2), u), a))).toBeLessThan(1e-14);
  });
});

describe("choFactor and choSolve", () => {
  it("a x = b from either factor, b a matrix, a vector or batched", () => {
    const a = spd(6, 12);
    for (const lower of [true, false]) {
      const factor = scipy.linalg.choFactor(a, { lower });
      expect(factor[1]).toBe(lower);
      const b = rand([6, 3], 13);
      expect(maxAbs(np.subtract(np.matmul(a, scipy.linalg.choSolve(factor, b)), b))).toBeLessThan(1e-13);
      const v = rand([6], 14);
      const x = scipy.linalg.choSolve(factor, v);
      expect(x.shape).toEqual([6]);
      expect(maxAbs(np.subtract(np.matmul(a, x), v))).toBeLessThan(1e-13);
    }
    const batched = spd(3, 15, [4]);
    const bb = rand([4, 3, 2], 16);
    const xb = scipy.linalg.choSolve(scipy.linalg.choFactor(batched), bb);
    expect(maxAbs(np.subtract(np.matmul(batched, xb), bb))).toBeLessThan(1e-13);
  });

  it("gradients flow through the factor and the solve (float64, finite differences)", () => {
    const f = (a: NdArray, b: NdArray) =>
      scipy.linalg.choSolve(scipy.linalg.choFactor(a, { lower: true }), b);
    checkGradients(f, [spd(4, 17), rand([4, 2], 18)]);
  });
});

describe("cholesky rules", () => {
  it("jvp and vjp match finite differences, unbatched, batched and blocked (float64)", () => {
    checkGradients((a) => np.linalg.cholesky(a), [spd(1, 1)]);
    checkGradients((a) => np.linalg.cholesky(a), [spd(5, 2, [2])]);
    checkGradients((a) => np.linalg.cholesky(a, { upper: true }), [spd(4, 3)]);
    checkGradients((a) => lax.linalg.cholesky(a, { symmetrizeInput: false }), [spd(4, 4)]);
    checkGradients((a) => np.linalg.cholesky(a), [spd(70, 5)]);
  });

  it("the gradient of the symmetrized factor is symmetric (as torch's)", () => {
    const w = rand([5, 5], 6);
    const g = grad((a: NdArray) => np.sum(np.multiply(np.linalg.cholesky(a), w)))(spd(5, 7));
    expectClose(g, np.swapaxes(g, 0, 1), 1e-14);
  });

  it("vmap over any axis; jit gives the eager bits; the program shows the primitive", () => {
    const a = spd(3, 8, [2]);
    checkVmap((x) => np.linalg.cholesky(x), [a], [0]);
    checkVmap((x) => np.linalg.cholesky(x), [np.moveaxis(a, 0, 2)], [2]);
    const big = spd(70, 9);
    const f = (x: NdArray) => np.linalg.cholesky(x);
    expect(Array.from(jit(f)(big).toTypedArray())).toEqual(Array.from(f(big).toTypedArray()));
    expect(makeProgram(f)(big).toString()).toContain("cholesky");
  });

  it("errors name the function, the shape and what was expected", () => {
    expectError(() => np.linalg.cholesky(rand([3, 4], 1)), ShapeError, "cholesky", "[3,4]", "square");
    expectError(() => np.linalg.cholesky(rand([3], 1)), ShapeError, "cholesky", "[3]");
    expectError(() => scipy.linalg.choFactor(rand([2, 3], 1)), ShapeError, "choFactor", "[2,3]");
    expectError(
      () => np.linalg.cholesky(spd(2, 1), { lower: true } as never),
      TypeError,
      "cholesky",
      "lower",
    );
    expectError(
      () => scipy.linalg.choSolve([spd(3, 1), true], rand([2, 1], 2)),
      ShapeError,
      "choSolve",
      "[3,3]",
      "[2,1]",
    );
    expectError(
      () => scipy.linalg.choSolve(spd(3, 1) as never, rand([3], 2)),
      TypeError,
      "choSolve",
      "[c, lower]",
    );
  });

  it("the primitive refuses integer matrices with a typed error; the functions promote them", async () => {
    const { choleskyPrim } = await import("../../src/ops/linalg-cholesky.js");
    expectError(
      () => choleskyPrim.bind1([np.ones([2, 2], { dtype: "int32" })], {}),
      DTypeError,
      "cholesky",
      "int32",
    );
    const l = np.linalg.cholesky(
      np.array([
        [4, 2],
        [2, 2],
      ]),
    );
    expect(l.dtype).toBe("float32");
    expect(l.toArray()).toEqual([
      [2, 0],
      [1, 1],
    ]);
  });
});
