/**
 * triangular_solve (issue 20): residuals of every variant (side, triangle, transpose, unit diagonal) on
 * random sizes from 1x1, the blocked kernel (more than one 64-tile, padded) on both backends, which
 * triangle is read, gradients against finite differences, vmap, jit, scipy's solveTriangular semantics
 * and the errors. Agreement with torch.linalg.solve_triangular is test/golden/linalg-cholesky.test.ts.
 */
import * as fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  backend,
  DTypeError,
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

interface Variant {
  leftSide: boolean;
  lower: boolean;
  transposeA: boolean;
  unitDiagonal: boolean;
}

const VARIANTS: Variant[] = [];
for (const leftSide of [true, false])
  for (const lower of [true, false])
    for (const transposeA of [true, false])
      for (const unitDiagonal of [true, false]) VARIANTS.push({ leftSide, lower, transposeA, unitDiagonal });

/** A well-conditioned square matrix: diagonal entries in [2, 3] or [-3, -2], off-diagonal ones small. */
function wellConditioned(n: number, seed: number, batch: readonly number[] = []): NdArray {
  const shape = [...batch, n, n];
  const eye = np.eye(n, n, { dtype: "float64" });
  const signs = np.sign(np.add(rand(shape, seed + 1), 0.01));
  const diag = np.multiply(np.multiply(np.add(np.abs(rand(shape, seed + 2)), 2), signs), eye);
  return np.add(np.multiply(rand(shape, seed), 1 / Math.max(1, n)), diag);
}

/** The matrix the solve uses: a's triangle, its diagonal ones with unitDiagonal, transposed with transposeA. */
function effective(a: NdArray, v: Variant): NdArray {
  const n = a.shape[a.ndim - 1]!;
  const eye = np.eye(n, n, { dtype: a.dtype });
  let t = v.lower ? np.tril(a) : np.triu(a);
  if (v.unitDiagonal) t = np.add(np.multiply(t, np.subtract(1, eye)), eye);
  return v.transposeA ? np.swapaxes(t, -1, -2) : t;
}

function residual(a: NdArray, b: NdArray, x: NdArray, v: Variant): number {
  const t = effective(a, v);
  const r = v.leftSide ? np.matmul(t, x) : np.matmul(x, t);
  return np.max(np.abs(np.subtract(r, b))).item() / (1 + np.max(np.abs(b)).item());
}

describe("triangular_solve residuals", () => {
  it("every variant on random sizes from 1x1 (float64, fast-check)", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 9 }),
          k: fc.integer({ min: 1, max: 5 }),
          batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
          variant: fc.constantFrom(...VARIANTS),
          seed: fc.integer({ min: 1, max: 1e6 }),
        }),
        ({ n, k, batch, variant, seed }) => {
          const a = wellConditioned(n, seed, batch);
          const b = rand(variant.leftSide ? [...batch, n, k] : [...batch, k, n], seed + 7);
          const x = lax.linalg.triangularSolve(a, b, variant);
          expect(x.shape).toEqual(b.shape);
          expect(residual(a, b, x, variant)).toBeLessThan(1e-13);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("the blocked kernel (several tiles, the last one padded) on both backends, float64 and float32", () => {
    const n = 130;
    const a = wellConditioned(n, 11);
    for (const [i, variant] of VARIANTS.entries()) {
      const b = rand(variant.leftSide ? [n, 5] : [3, n], 12);
      const x = lax.linalg.triangularSolve(a, b, variant);
      expect(residual(a, b, x, variant)).toBeLessThan(1e-13);
      if (i % 5 !== 0) continue;
      // The same solve with the other backend's GEMM (the same bits unless relaxed SIMD fuses multiply-adds).
      setBackend(initial.name === "js" ? "wasm" : "js");
      expectClose(lax.linalg.triangularSolve(a, b, variant), x, 1e-13);
      setBackend(initial.name === "js" ? "js" : "wasm");
      const x32 = lax.linalg.triangularSolve(np.astype(a, "float32"), np.astype(b, "float32"), variant);
      expect(x32.dtype).toBe("float32");
      expectClose(np.astype(x32, "float64"), x, 1e-4);
    }
  });

  it("reads only the named triangle, and not the diagonal with unitDiagonal", () => {
    const n = 5;
    const a = wellConditioned(n, 3);
    const b = rand([n, 2], 4);
    const nan = np.full([n, n], Number.NaN, { dtype: "float64" });
    const eye = np.eye(n, n, { dtype: "float64" });
    for (const variant of VARIANTS) {
      const keep = variant.lower
        ? np.tril(np.ones([n, n], { dtype: "bool" }), { k: variant.unitDiagonal ? -1 : 0 })
        : np.triu(np.ones([n, n], { dtype: "bool" }), { k: variant.unitDiagonal ? 1 : 0 });
      const poisoned = np.where(keep, a, nan);
      const bb = variant.leftSide ? b : np.swapaxes(b, 0, 1);
      const x = lax.linalg.triangularSolve(poisoned, bb, variant);
      expect(np.all(np.isfinite(x)).item()).toBe(1);
      expectClose(x, lax.linalg.triangularSolve(np.add(a, np.multiply(eye, 0)), bb, variant), 0);
    }
  });

  it("a zero on the diagonal gives infinities or NaNs, no error (as LAPACK and JAX)", () => {
    const a = np.array(
      [
        [1, 0],
        [2, 0],
      ],
      { dtype: "float64" },
    );
    const x = scipy.linalg.solveTriangular(a, np.array([1, 1], { dtype: "float64" }), { lower: true });
    expect(Array.from(x.toTypedArray())).toEqual([1, Number.NEGATIVE_INFINITY]);
  });
});

describe("triangular_solve rules", () => {
  it("jvp and vjp match finite differences in both operands, every variant (float64)", () => {
    for (const [i, variant] of VARIANTS.entries()) {
      const a = wellConditioned(4, 20 + i);
      const b = rand(variant.leftSide ? [2, 4, 3] : [2, 3, 4], 40 + i);
      checkGradients(
        (aa, bb) => lax.linalg.triangularSolve(aa, bb, variant),
        [np.broadcastTo(a, [2, 4, 4]), b],
      );
    }
  });

  it("gradients through the blocked kernel", () => {
    const variant = { leftSide: true, lower: true, transposeA: false, unitDiagonal: false };
    checkGradients(
      (aa, bb) => lax.linalg.triangularSolve(aa, bb, variant),
      [wellConditioned(70, 5), rand([70, 2], 6)],
    );
  });

  it("vmap over a, b or both, on both sides", () => {
    for (const leftSide of [true, false]) {
      const variant = { leftSide, lower: leftSide, transposeA: !leftSide, unitDiagonal: false };
      const f = (a: NdArray, b: NdArray) => lax.linalg.triangularSolve(a, b, variant);
      const a = wellConditioned(3, 1, [2]);
      const b = rand(leftSide ? [2, 3, 4] : [2, 4, 3], 2);
      checkVmap(f, [a, b], [0, 0]);
      checkVmap(f, [np.take(a, 0, { axis: 0 }), b], [null, 0]);
      checkVmap(f, [a, np.take(b, 0, { axis: 0 })], [0, null]);
      checkVmap(f, [np.swapaxes(a, 0, 2), np.moveaxis(b, 0, 2)], [2, 2]);
    }
  });

  it("jit gives the eager bits, and the program shows the primitive", () => {
    const f = (a: NdArray, b: NdArray) => scipy.linalg.solveTriangular(a, b, { lower: true, trans: "T" });
    const a = wellConditioned(70, 2);
    const b = rand([70, 3], 3);
    expect(Array.from(jit(f)(a, b).toTypedArray())).toEqual(Array.from(f(a, b).toTypedArray()));
    expect(makeProgram(f)(a, b).toString()).toContain("triangular_solve");
  });
});

describe("scipy.linalg.solveTriangular", () => {
  const a = wellConditioned(4, 9);
  const lowerVariant = { leftSide: true, lower: true, transposeA: false, unitDiagonal: false };

  it("solves a x = b, upper by default, trans 0/1/2 and N/T/C", () => {
    const b = rand([4, 2], 1);
    const upper = scipy.linalg.solveTriangular(a, b);
    expect(residual(a, b, upper, { ...lowerVariant, lower: false })).toBeLessThan(1e-14);
    for (const trans of [1, 2, "T", "C"] as const) {
      const x = scipy.linalg.solveTriangular(a, b, { lower: true, trans });
      expect(residual(a, b, x, { ...lowerVariant, transposeA: true })).toBeLessThan(1e-14);
    }
    const x0 = scipy.linalg.solveTriangular(a, b, { lower: true, trans: "N" });
    expect(residual(a, b, x0, lowerVariant)).toBeLessThan(1e-14);
  });

  it("b of shape [n] is one vector; batch dims broadcast", () => {
    const v = rand([4], 2);
    const x = scipy.linalg.solveTriangular(a, v, { lower: true });
    expect(x.shape).toEqual([4]);
    expectClose(
      x,
      np.reshape(scipy.linalg.solveTriangular(a, np.reshape(v, [4, 1]), { lower: true }), [4]),
      0,
    );
    const batchedB = rand([3, 4, 2], 5);
    const xb = scipy.linalg.solveTriangular(a, batchedB, { lower: true });
    expect(xb.shape).toEqual([3, 4, 2]);
    expectClose(
      np.take(xb, 1, { axis: 0 }),
      scipy.linalg.solveTriangular(a, np.take(batchedB, 1, { axis: 0 }), { lower: true }),
      1e-15,
    );
    const batchedA = wellConditioned(4, 6, [2, 1]);
    expect(scipy.linalg.solveTriangular(batchedA, rand([1, 3, 4, 2], 7), { lower: true }).shape).toEqual([
      2, 3, 4, 2,
    ]);
  });

  it("integer operands solve in float32", () => {
    const x = scipy.linalg.solveTriangular(
      np.array([
        [2, 0],
        [1, 1],
      ]),
      np.array([2, 3]),
      { lower: true },
    );
    expect(x.dtype).toBe("float32");
    expect(Array.from(x.toTypedArray())).toEqual([1, 2]);
  });

  it("errors name the function, the shapes and what was expected", () => {
    expectError(
      () => scipy.linalg.solveTriangular(rand([3, 4], 1), rand([3], 2)),
      ShapeError,
      "solveTriangular",
      "[3,4]",
      "square",
    );
    expectError(
      () => scipy.linalg.solveTriangular(a, rand([3, 2], 2)),
      ShapeError,
      "solveTriangular",
      "[4,4]",
      "[3,2]",
    );
    expectError(
      () => lax.linalg.triangularSolve(a, rand([2, 3], 2)),
      ShapeError,
      "triangularSolve",
      "[..., k, 4]",
    );
    expectError(() => scipy.linalg.solveTriangular(a, np.sum(rand([4], 2))), ShapeError, "solveTriangular");
    expectError(
      () => scipy.linalg.solveTriangular(a, rand([4], 1), { trans: 3 as never }),
      RangeError,
      "solveTriangular",
      "trans",
    );
    expectError(
      () => scipy.linalg.solveTriangular(a, rand([4], 1), { upper: true } as never),
      TypeError,
      "solveTriangular",
      "upper",
    );
    // The primitive itself: a float dtype and matching batch dims.
    const prim = () =>
      lax.linalg.triangularSolve(np.astype(a, "float32"), np.astype(rand([4, 1], 1), "float64"), {
        leftSide: true,
      });
    expect(prim().dtype).toBe("float64"); // promoted by the user function
  });

  it("the primitive's abstractEval rejects mismatched operands with a typed error", async () => {
    const { triangularSolvePrim } = await import("../../src/ops/linalg-triangular.js");
    const params = { leftSide: true, lower: true, transposeA: false, unitDiagonal: false };
    expectError(
      () => triangularSolvePrim.bind1([np.ones([2, 3, 3]), np.ones([3, 3, 1])], params),
      ShapeError,
      "triangular_solve",
      "batch dims",
    );
    expectError(
      () =>
        triangularSolvePrim.bind1(
          [np.ones([3, 3], { dtype: "int32" }), np.ones([3, 1], { dtype: "int32" })],
          params,
        ),
      DTypeError,
      "triangular_solve",
      "float",
    );
  });
});
