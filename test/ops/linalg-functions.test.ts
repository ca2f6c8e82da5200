/**
 * np.linalg's LU-based functions and their neighbours (issue 20): solve, inv, det, slogdet, matrixPower,
 * trace, diagonal, cross, multiDot, and scipy.linalg luFactor/luSolve. Reconstruction properties on
 * random sizes (fast-check: A x = b residuals, A inv(A) = I, det against slogdet), the documented
 * behaviour on singular input, numpy's shape rules and their errors, dtypes, jit/vmap and derivatives.
 * Values and vjps against torch.linalg are test/golden/linalg-lu.test.ts.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jit, lax, type NdArray, np, ShapeError, scipy, vmap } from "../../src/index.js";
import { checkGradients, expectClose, expectError, rand } from "../helpers/op-checks.js";

const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const maxAbs = (x: NdArray): number => np.max(np.abs(x)).item();

/** A random matrix with a dominant diagonal (well conditioned), rows shuffled so pivoting swaps. */
function wellConditioned(shape: readonly number[], seed: number): NdArray {
  const n = shape[shape.length - 1]!;
  const x = np.add(rand(shape, seed), np.multiply(np.eye(n, n, { dtype: "float64" }), n + 1));
  return np.take(
    x,
    np.array(
      Array.from({ length: n }, (_, i) => (i + 1) % n),
      { dtype: "int32" },
    ),
    {
      axis: -2,
    },
  );
}

const sizes = fc.record({
  batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  n: fc.integer({ min: 1, max: 8 }),
  k: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer({ min: 1, max: 1e6 }),
});

describe("solve", () => {
  it("A x = b to rounding, for random sizes (1x1 included), batches and both forms of b (fast-check)", () => {
    fc.assert(
      fc.property(sizes, ({ batch, n, k, seed }) => {
        const a = rand([...batch, n, n], seed);
        const b = rand([...batch, n, k], seed + 1);
        const x = np.linalg.solve(a, b);
        expect(x.shape).toEqual([...batch, n, k]);
        const scale = maxAbs(a) * maxAbs(x) * n;
        expect(maxAbs(np.subtract(np.matmul(a, x), b))).toBeLessThan(1e-10 * scale + 1e-300);
        const v = np.linalg.solve(a, rand([n], seed + 2));
        expect(v.shape).toEqual([...batch, n]);
        expect(
          maxAbs(np.subtract(np.matmul(a, np.expandDims(v, -1)).squeeze(-1), rand([n], seed + 2))),
        ).toBeLessThan(1e-10 * maxAbs(a) * maxAbs(v) * n + 1e-300);
      }),
      { numRuns: 60 },
    );
  });

  it("broadcasts the batch dims of a and b as numpy", () => {
    const a = wellConditioned([2, 1, 3, 3], 1);
    const b = rand([4, 3, 2], 2);
    const x = np.linalg.solve(a, b);
    expect(x.shape).toEqual([2, 4, 3, 2]);
    expectClose(np.matmul(a, x), np.broadcastTo(b, [2, 4, 3, 2]), 1e-12);
  });

  it("refuses mismatched shapes, naming the function, the shapes and numpy 1's old reading of b", () => {
    expectError(() => np.linalg.solve(rand([3, 4], 1), rand([3], 2)), ShapeError, "solve", "[3,4]", "square");
    expectError(() => np.linalg.solve(rand([3, 3], 1), rand([4], 2)), ShapeError, "solve", "[4]", "[3]");
    expectError(
      () => np.linalg.solve(rand([2, 3, 3], 1), rand([2, 3], 2)),
      ShapeError,
      "solve",
      "[2,3]",
      "numpy 1",
    );
  });

  it("gives infinities or NaNs for a singular matrix, as JAX (no error)", () => {
    const a = np.array(
      [
        [1, 2],
        [2, 4],
      ],
      { dtype: "float64" },
    );
    const x = values(np.linalg.solve(a, np.array([1, 1], { dtype: "float64" })));
    expect(x.some((v) => !Number.isFinite(v))).toBe(true);
    expect(values(np.linalg.inv(a)).some((v) => !Number.isFinite(v))).toBe(true);
  });

  it("takes integers as float32 and keeps float32", () => {
    const a = np.array([
      [2, 1],
      [1, 3],
    ]);
    const ai = np.astype(a, "int32");
    expect(np.linalg.solve(ai, np.array([3, 5], { dtype: "int32" })).dtype).toBe("float32");
    const x = np.linalg.solve(a, np.array([3, 5]));
    expect(x.dtype).toBe("float32");
    expectClose(x, np.array([0.8, 1.4]), 1e-6);
  });

  it("is differentiable in both operands, and jits and vmaps to the same values", () => {
    const a = wellConditioned([3, 3], 4);
    const b = rand([3, 2], 5);
    checkGradients(np.linalg.solve, [a, b]);
    checkGradients((x) => np.linalg.solve(x, rand([3], 6)), [a]);
    const batchA = wellConditioned([4, 3, 3], 7);
    const batchB = rand([4, 3, 2], 8);
    expectClose(jit(np.linalg.solve)(batchA, batchB), np.linalg.solve(batchA, batchB), 1e-14);
    expectClose(vmap(np.linalg.solve)(batchA, batchB), np.linalg.solve(batchA, batchB), 1e-14);
  });
});

describe("inv", () => {
  it("A inv(A) = I for random sizes and batches (fast-check)", () => {
    fc.assert(
      fc.property(sizes, ({ batch, n, seed }) => {
        const a = wellConditioned([...batch, n, n], seed);
        const product = np.matmul(a, np.linalg.inv(a));
        expectClose(product, np.broadcastTo(np.eye(n, n, { dtype: "float64" }), product.shape), 1e-12);
      }),
      { numRuns: 40 },
    );
  });

  it("has the derivative -inv(a) da inv(a)", () => {
    checkGradients(np.linalg.inv, [wellConditioned([2, 3, 3], 9)]);
  });

  it("refuses a non-square matrix", () => {
    expectError(() => np.linalg.inv(rand([2, 3], 1)), ShapeError, "inv", "[2,3]");
  });
});

describe("det and slogdet", () => {
  it("det = sign exp(logabsdet), and det(A B) = det(A) det(B) (fast-check)", () => {
    fc.assert(
      fc.property(sizes, ({ batch, n, seed }) => {
        const a = rand([...batch, n, n], seed);
        const b = rand([...batch, n, n], seed + 1);
        const d = np.linalg.det(a);
        const [sign, logabsdet] = np.linalg.slogdet(a);
        expect(d.shape).toEqual(batch);
        expectClose(np.multiply(sign, np.exp(logabsdet)), d, 1e-12);
        expectClose(np.linalg.det(np.matmul(a, b)), np.multiply(d, np.linalg.det(b)), 1e-10);
      }),
      { numRuns: 40 },
    );
  });

  it("knows permutation matrices' signs and the 0 x 0 determinant (1)", () => {
    const swap = np.array(
      [
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 1],
      ],
      { dtype: "float64" },
    );
    expect(np.linalg.det(swap).item()).toBe(-1);
    expect(values(np.linalg.slogdet(swap)[0])).toEqual([-1]);
    expect(np.linalg.det(np.zeros([0, 0], { dtype: "float64" })).item()).toBe(1);
  });

  it("gives det 0 and slogdet (0, -Infinity) for a singular matrix, as numpy", () => {
    const a = np.array(
      [
        [1, 2, 3],
        [2, 4, 6],
        [1, 0, 1],
      ],
      { dtype: "float64" },
    );
    expect(np.linalg.det(a).item()).toBe(0);
    const [sign, logabsdet] = np.linalg.slogdet(a);
    expect([sign.item(), logabsdet.item()]).toEqual([0, Number.NEGATIVE_INFINITY]);
  });

  it("has the derivatives det·a⁻ᵀ and a⁻ᵀ", () => {
    const a = wellConditioned([2, 4, 4], 3);
    checkGradients(np.linalg.det, [a]);
    checkGradients((x) => np.linalg.slogdet(x)[1], [a]);
  });
});

describe("matrixPower", () => {
  it("is the identity at 0 (in a's dtype and shape), a at 1, and numpy's repeated squaring above", () => {
    const a = np.array(
      [
        [1, 1],
        [1, 0],
      ],
      { dtype: "int32" },
    );
    const zero = np.linalg.matrixPower(np.broadcastTo(a, [3, 2, 2]), 0);
    expect([zero.dtype, zero.shape]).toEqual(["int32", [3, 2, 2]]);
    expect(values(zero)).toEqual([1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]);
    // Fibonacci: [[F(n+1), F(n)], [F(n), F(n-1)]].
    expect(values(np.linalg.matrixPower(a, 10))).toEqual([89, 55, 55, 34]);
  });

  it("inverts for negative powers: a^-n a^n = I", () => {
    const a = wellConditioned([3, 3], 5);
    expectClose(
      np.matmul(np.linalg.matrixPower(a, -5), np.linalg.matrixPower(a, 5)),
      np.eye(3, 3, { dtype: "float64" }),
      1e-12,
    );
    expect(np.linalg.matrixPower(np.astype(a, "int32"), -1).dtype).toBe("float32");
  });

  it("refuses a non-integer exponent and a non-square matrix", () => {
    expectError(() => np.linalg.matrixPower(rand([2, 2], 1), 1.5), TypeError, "matrixPower", "integer");
    expectError(() => np.linalg.matrixPower(rand([2, 3], 1), 2), ShapeError, "matrixPower", "[2,3]");
  });
});

describe("trace and diagonal (numpy 2's, over the last two axes)", () => {
  it("read the last two axes with an offset", () => {
    const x = np.reshape(np.arange(24, undefined, 1, { dtype: "float64" }), [2, 3, 4]);
    expect(values(np.linalg.diagonal(x))).toEqual([0, 5, 10, 12, 17, 22]);
    expect(values(np.linalg.diagonal(x, { offset: 1 }))).toEqual([1, 6, 11, 13, 18, 23]);
    expect(values(np.linalg.diagonal(x, { offset: -1 }))).toEqual([4, 9, 16, 21]);
    expect(values(np.linalg.trace(x))).toEqual([15, 51]);
    expect(values(np.linalg.trace(x, { offset: 2 }))).toEqual([2 + 7, 14 + 19]);
  });

  it("refuses unknown options", () => {
    expectError(() => np.linalg.trace(rand([2, 2], 1), { axis1: 0 } as never), TypeError, "trace", "axis1");
  });
});

describe("cross", () => {
  it("is numpy's cross product of 3-vectors, broadcasting, along an axis", () => {
    const e = (i: number) =>
      np.array(
        [0, 1, 2].map((j) => (i === j ? 1 : 0)),
        { dtype: "float64" },
      );
    expect(values(np.linalg.cross(e(0), e(1)))).toEqual([0, 0, 1]);
    expect(values(np.linalg.cross(e(1), e(0)))).toEqual([0, 0, -1]);
    const a = rand([2, 1, 3], 1);
    const b = rand([4, 3], 2);
    const c = np.linalg.cross(a, b);
    expect(c.shape).toEqual([2, 4, 3]);
    // Orthogonal to both operands.
    expect(maxAbs(np.sum(np.multiply(c, a), { axis: -1 }))).toBeLessThan(1e-15);
    const t = np.linalg.cross(np.moveaxis(a, -1, 0), np.moveaxis(np.broadcastTo(b, [2, 4, 3]), -1, 0), {
      axis: 0,
    });
    expectClose(np.moveaxis(t, 0, -1), c, 1e-15);
  });

  it("keeps integer dtypes and refuses vectors of another length", () => {
    const i = np.array([1, 2, 3], { dtype: "int32" });
    expect(np.linalg.cross(i, np.array([4, 5, 6], { dtype: "int32" })).dtype).toBe("int32");
    expectError(() => np.linalg.cross(rand([2], 1), rand([2], 2)), ShapeError, "cross", "3-vectors");
  });
});

describe("multiDot", () => {
  it("multiplies in numpy's cheapest order with 1-D ends, and equals the plain product", () => {
    const xs = [rand([5], 1), rand([5, 30], 2), rand([30, 2], 3), rand([2, 40], 4), rand([40], 5)];
    const got = np.linalg.multiDot(xs);
    expect(got.shape).toEqual([]);
    const plain = xs.slice(1).reduce((acc, x) => np.matmul(acc, x), xs[0]!);
    expectClose(got, plain, 1e-12);
    expect(np.linalg.multiDot([rand([3, 4], 1), rand([4], 2)]).shape).toEqual([3]);
  });

  it("refuses fewer than two arrays and a 3-D one in the middle", () => {
    expectError(() => np.linalg.multiDot([rand([2, 2], 1)]), TypeError, "multiDot", "at least two");
    expectError(
      () => np.linalg.multiDot([rand([2, 2], 1), rand([2, 2, 2], 2), rand([2, 2], 3)]),
      ShapeError,
      "multiDot",
      "[2,2,2]",
    );
  });
});

describe("scipy.linalg.luFactor and luSolve", () => {
  it("solve a x = b and aᵀ x = b from one factorization", () => {
    fc.assert(
      fc.property(sizes, ({ batch, n, k, seed }) => {
        const a = rand([...batch, n, n], seed);
        const b = rand([...batch, n, k], seed + 1);
        const factors = scipy.linalg.luFactor(a);
        for (const trans of [0, 1] as const) {
          const x = scipy.linalg.luSolve(factors, b, { trans });
          const op = trans === 0 ? a : np.matrixTranspose(a);
          const scale = maxAbs(a) * maxAbs(x) * n;
          expect(maxAbs(np.subtract(np.matmul(op, x), b))).toBeLessThan(1e-10 * scale + 1e-300);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("takes scipy's pivots: their permutation is lax.linalg.lu's", () => {
    const a = rand([3, 6, 6], 4);
    const [, piv] = scipy.linalg.luFactor(a);
    expect(values(lax.linalg.luPivotsToPermutation(piv, 6))).toEqual(values(lax.linalg.lu(a)[2]));
  });

  it("refuses rectangular factors, wrong pivots and a mismatched b", () => {
    const factors = scipy.linalg.luFactor(rand([3, 3], 1));
    expectError(
      () => scipy.linalg.luSolve(scipy.linalg.luFactor(rand([3, 4], 1)), rand([3], 2)),
      ShapeError,
      "luSolve",
      "square",
    );
    expectError(
      () => scipy.linalg.luSolve([factors[0], np.zeros([3])], rand([3], 2)),
      ShapeError,
      "luSolve",
      "int32",
    );
    expectError(() => scipy.linalg.luSolve(factors, rand([4], 2)), ShapeError, "luSolve", "[4]");
    expectError(
      () => scipy.linalg.luSolve(factors, rand([3], 2), { trans: 3 as 0 }),
      RangeError,
      "luSolve",
      "trans",
    );
  });

  it("reports a pivot outside the matrix when the permutation is built", () => {
    expectError(
      () => lax.linalg.luPivotsToPermutation(np.array([0, 5], { dtype: "int32" }), 3),
      RangeError,
      "luPivotsToPermutation",
      "pivot 5",
    );
    expectError(
      () => lax.linalg.luPivotsToPermutation(np.array([0, 1, 2], { dtype: "int32" }), 2),
      ShapeError,
      "permutation size 2",
    );
  });
});
