/**
 * Derivatives at degenerate points (issue 20): det at singular matrices (the cofactor matrix, by the
 * adjugate rule of src/ops/linalg-det.ts), slogdet through solve, pinv where singular values repeat
 * (JAX's rule), against central finite differences, first and second order, under jit and vmap; the
 * composite-primitive mechanism they use (src/ops/composite.ts); lstsq's derivative (pinv's rule) and its
 * residuals under jit. The values against PyTorch and exact cofactors are
 * test/golden/linalg-degenerate.test.ts.
 */
import { describe, expect, it } from "vitest";
import { primitives } from "../../src/core/primitive.js";
import {
  ConcretizationError,
  grad,
  hessian,
  jit,
  jvp,
  makeProgram,
  type NdArray,
  np,
  ShapeError,
  vjp,
  vmap,
} from "../../src/index.js";
import { checkGradients, expectClose, expectError, rand } from "../helpers/op-checks.js";

const f64 = (rows: number[][]) => np.array(rows, { dtype: "float64" });
const f64s = (matrices: number[][][]) => np.array(matrices, { dtype: "float64" });
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const allFinite = (x: NdArray): boolean => values(x).every(Number.isFinite);

/** Cofactor matrix of a small matrix by Laplace expansion (plain numbers; independent of the library). */
function cofactors(rows: number[][]): number[][] {
  const det = (m: number[][]): number =>
    m.length === 0
      ? 1
      : m[0]!.reduce(
          (acc, v, j) => acc + (-1) ** j * v * det(m.slice(1).map((r) => r.filter((_, k) => k !== j))),
          0,
        );
  return rows.map((_, i) =>
    rows[0]!.map(
      (_, j) => (-1) ** (i + j) * det(rows.filter((_, k) => k !== i).map((r) => r.filter((_, k) => k !== j))),
    ),
  );
}

const SINGULAR: Record<string, number[][]> = {
  "rank n - 1, zero pivot last": [
    [2, 1, 0],
    [1, 3, 1],
    [3, 4, 1],
  ],
  "rank n - 1, zero pivot in the middle": [
    [1, 2, 3],
    [2, 4, 7],
    [3, 6, 1],
  ],
  "rank n - 1, two zero pivots ([[0, 1], [0, 0]])": [
    [0, 1],
    [0, 0],
  ],
  "rank n - 1, a 3 x 3 nilpotent Jordan block": [
    [0, 1, 0],
    [0, 0, 1],
    [0, 0, 0],
  ],
  "rank n - 1, a zero column first": [
    [0, 1, 2],
    [0, 3, 4],
    [0, 5, 7],
  ],
  "rank n - 2": [
    [1, -1, 2],
    [2, -2, 4],
    [3, -3, 6],
  ],
};

describe("det at singular matrices", () => {
  for (const [label, rows] of Object.entries(SINGULAR)) {
    it(`${label}: the gradient is the cofactor matrix, eager, under jit and vmap`, () => {
      const a = f64(rows);
      expect(np.linalg.det(a).item()).toBe(0);
      const expected = f64(cofactors(rows));
      expectClose(grad(np.linalg.det)(a), expected, 1e-12);
      expectClose(jit(grad(np.linalg.det))(a), expected, 1e-12);
      const batch = np.stack([a, np.add(a, np.eye(rows.length, rows.length, { dtype: "float64" }))]);
      expectClose(
        vmap(grad(np.linalg.det))(batch),
        np.stack([expected, grad(np.linalg.det)(np.take(batch, 1, { axis: 0 }))]),
        1e-12,
      );
    });
    it(`${label}: jvp and vjp match central finite differences (det is a polynomial)`, () => {
      checkGradients(np.linalg.det, [f64(rows)]);
    });
  }

  /** Every n x n matrix with entries from `values`, as nested arrays. */
  const everyMatrix = (n: number, values: readonly number[]): number[][][] =>
    Array.from({ length: values.length ** (n * n) }, (_, code) => {
      const flat = Array.from(
        { length: n * n },
        (_, k) => values[Math.floor(code / values.length ** k) % values.length]!,
      );
      return Array.from({ length: n }, (_, i) => flat.slice(i * n, i * n + n));
    });

  for (const [n, entries] of [
    [3, [-1, 0, 1]],
    [4, [0, 1]],
  ] as const) {
    it(`the gradient is the exact cofactor matrix for every ${n} x ${n} matrix with entries in {${entries.join(", ")}} (vmap)`, () => {
      const matrices = everyMatrix(n, entries);
      const got = values(vmap(grad(np.linalg.det))(f64s(matrices)));
      const wrong = matrices.filter((m, b) =>
        cofactors(m)
          .flat()
          .some((c, k) => !(Math.abs(got[b * n * n + k]! - c) <= 1e-12)),
      );
      expect(wrong.slice(0, 3)).toEqual([]);
    });
  }

  it("the 1 x 1 and 0 x 0 cases: the derivative of [[a]] is [[1]], of the empty matrix empty", () => {
    expect(values(grad(np.linalg.det)(f64([[0]])))).toEqual([1]);
    expect(grad(np.linalg.det)(np.zeros([0, 0], { dtype: "float64" })).shape).toEqual([0, 0]);
  });

  it("second order: the Hessian of det matches finite differences of its gradient at a nonsingular matrix", () => {
    const a = np.add(rand([3, 3], 5), np.multiply(np.eye(3, 3, { dtype: "float64" }), 2));
    const h = hessian(np.linalg.det)(a);
    const v = rand([3, 3], 6);
    const eps = 1e-6;
    const g = (x: NdArray) => grad(np.linalg.det)(x);
    const numeric = np.divide(
      np.subtract(g(np.add(a, np.multiply(v, eps))), g(np.subtract(a, np.multiply(v, eps)))),
      2 * eps,
    );
    expectClose(np.tensordot(h, v, 2), numeric, 1e-7);
  });

  it("second order at a singular matrix is NaN, as documented (it passes through the LU factorization's derivative)", () => {
    const h = hessian(np.linalg.det)(f64(SINGULAR["rank n - 1, zero pivot last"]!));
    expect(values(h).some(Number.isNaN)).toBe(true);
  });

  it("refuses a non-square operand with a ShapeError naming det and the shape", () => {
    expectError(() => np.linalg.det(np.zeros([2, 3], { dtype: "float64" })), ShapeError, "det", "[2,3]");
    expectError(() => np.linalg.slogdet(np.zeros([3], { dtype: "float64" })), ShapeError, "slogdet", "[3]");
  });
});

describe("slogdet's derivative through solve (JAX's rule)", () => {
  it("is one primitive with its own jvp rule, whose traced jvp solves with the matrix", () => {
    expect(primitives().has("slogdet")).toBe(true);
    const a = np.add(rand([3, 3], 1), np.multiply(np.eye(3, 3, { dtype: "float64" }), 3));
    const program = makeProgram((x: NdArray, t: NdArray) =>
      jvp((y: NdArray) => np.linalg.slogdet(y)[1], [x], [t]),
    )(a, a);
    const names = program.program.equations.map((e) => e.primitive.name);
    expect(names).toContain("slogdet");
    expect(names).toContain("triangular_solve");
  });

  it("the gradient of logabsdet is a⁻ᵀ, and its Hessian matches finite differences", () => {
    const a = np.add(rand([4, 4], 2), np.multiply(np.eye(4, 4, { dtype: "float64" }), 2));
    const logabsdet = (x: NdArray) => np.linalg.slogdet(x)[1];
    expectClose(grad(logabsdet)(a), np.swapaxes(np.linalg.inv(a), -1, -2), 1e-12);
    checkGradients((x) => grad(logabsdet)(x), [a]);
  });

  it("the sign has a zero tangent", () => {
    const a = np.add(rand([3, 3], 3), np.multiply(np.eye(3, 3, { dtype: "float64" }), 3));
    const [, tangent] = jvp((x: NdArray) => np.linalg.slogdet(x)[0], [a], [rand([3, 3], 4)]);
    expect(values(tangent)).toEqual([0]);
  });
});

describe("pinv's derivative (JAX's rule, Golub and Pereyra)", () => {
  /** m x n with orthonormal columns (m >= n) or rows, times `scale`: every singular value `scale`. */
  const orthonormal = (m: number, n: number, seed: number, scale: number): NdArray => {
    const [q] = np.linalg.qr(rand([Math.max(m, n), Math.min(m, n)], seed));
    return np.multiply(m >= n ? q : np.swapaxes(q, -1, -2), scale);
  };

  for (const [m, n] of [
    [3, 3],
    [5, 3],
    [3, 5],
  ] as const) {
    it(`is finite where every singular value is the same (${m} x ${n}) and matches finite differences, to second order`, () => {
      const a = orthonormal(m, n, 11, 2);
      const loss = (x: NdArray) => np.sum(np.multiply(np.linalg.pinv(x), rand([n, m], 12)));
      expect(allFinite(grad(loss)(a))).toBe(true);
      checkGradients((x) => np.linalg.pinv(x), [a]);
      checkGradients((x) => grad(loss)(x), [a]);
    });
  }

  it("at a square orthogonal matrix it is the derivative of the inverse", () => {
    const a = orthonormal(4, 4, 13, 3);
    const g = rand([4, 4], 14);
    const through = (f: (x: NdArray) => NdArray) => grad((x: NdArray) => np.sum(np.multiply(f(x), g)))(a);
    expectClose(
      through((x) => np.linalg.pinv(x)),
      through(np.linalg.inv),
      1e-12,
    );
  });

  it("jit and vmap of the gradient equal the eager one; an array rcond broadcasts against the batch, as numpy's", () => {
    const a = np.stack([
      orthonormal(3, 2, 15, 2),
      np.add(rand([3, 2], 16), np.eye(3, 2, { dtype: "float64" })),
    ]);
    const loss = (x: NdArray) =>
      np.sum(
        np.multiply(np.linalg.pinv(x), np.arange(6, undefined, 1, { dtype: "float64" }).reshape([2, 3])),
      );
    const eager = np.stack([grad(loss)(np.take(a, 0, { axis: 0 })), grad(loss)(np.take(a, 1, { axis: 0 }))]);
    expectClose(vmap(grad(loss))(a), eager, 1e-12);
    expectClose(jit(vmap(grad(loss)))(a), eager, 1e-12);
    const single = np.take(a, 1, { axis: 0 });
    const rcond = np.array([0, 0.9], { dtype: "float64" });
    const both = np.linalg.pinv(single, { rcond });
    expect(both.shape).toEqual([2, 2, 3]);
    expectClose(np.take(both, 0, { axis: 0 }), np.linalg.pinv(single), 1e-12);
    expectClose(np.take(both, 1, { axis: 0 }), np.linalg.pinv(single, { rcond: 0.9 }), 1e-12);
  });

  it("is inlined by jit: the compiled function computes what the eager one does", () => {
    const a = np.add(rand([4, 3], 17), np.eye(4, 3, { dtype: "float64" }));
    expectClose(jit((x: NdArray) => np.linalg.pinv(x))(a), np.linalg.pinv(a), 1e-13);
    const program = makeProgram((x: NdArray) => np.linalg.pinv(x))(a);
    expect(program.program.equations.map((e) => e.primitive.name)).toEqual(["pinv"]);
  });
});

describe("lstsq's derivative (pinv's rule, as PyTorch's lstsq backward)", () => {
  /** m x n with orthonormal columns (m >= n) or rows, times `scale`: every singular value `scale`. */
  const orthonormal = (m: number, n: number, seed: number, scale: number): NdArray => {
    const [q] = np.linalg.qr(rand([Math.max(m, n), Math.min(m, n)], seed));
    return np.multiply(m >= n ? q : np.swapaxes(q, -1, -2), scale);
  };
  // residuals: "always" so that it traces under jit and vmap for a tall a (numpy's rule needs the rank).
  const solution = (a: NdArray, b: NdArray) => np.linalg.lstsq(a, b, { residuals: "always" })[0];
  const throughPinv = (a: NdArray, b: NdArray) => np.matmul(np.linalg.pinv(a), b);

  for (const [m, n] of [
    [3, 3],
    [5, 3],
    [3, 5],
  ] as const) {
    it(`is finite where every singular value is the same (${m} x ${n}): pinv(a) b's, and finite differences', to second order`, () => {
      const a = orthonormal(m, n, 31, 2);
      const b = rand([m, 2], 32);
      const ct = rand([n, 2], 33);
      const [, ours] = vjp(solution, a, b);
      const [, reference] = vjp(throughPinv, a, b);
      const [ga, gb] = ours(ct);
      const [ra, rb] = reference(ct);
      expect(allFinite(ga!)).toBe(true);
      expectClose(ga!, ra!, 1e-12);
      expectClose(gb!, rb!, 1e-12);
      checkGradients(solution, [a, b]);
      const loss = (x: NdArray, y: NdArray) => np.sum(np.multiply(solution(x, y), ct));
      checkGradients((x) => grad(loss)(x, b), [a]);
    });
  }

  it("is one primitive with its own jvp rule; jit and vmap of the gradient equal the eager one", () => {
    const a = np.stack([
      orthonormal(4, 3, 34, 2),
      np.add(rand([4, 3], 35), np.eye(4, 3, { dtype: "float64" })),
    ]);
    const b = rand([2, 4], 36);
    const program = makeProgram(solution)(np.take(a, 0, { axis: 0 }), np.take(b, 0, { axis: 0 }));
    expect(program.program.equations.map((e) => e.primitive.name)).toContain("lstsq");
    const loss = (x: NdArray, y: NdArray) =>
      np.sum(np.multiply(solution(x, y), np.arange(1, 4, 1, { dtype: "float64" })));
    const eager = [0, 1].map((i) => grad(loss)(np.take(a, i, { axis: 0 }), np.take(b, i, { axis: 0 })));
    expectClose(vmap(grad(loss))(a, b), np.stack(eager), 1e-12);
    expectClose(jit(vmap(grad(loss)))(a, b), np.stack(eager), 1e-12);
  });

  it("the singular values it returns differentiate as svd's (distinct values)", () => {
    const a = np.add(
      rand([4, 3], 37),
      np.eye(4, 3, { dtype: "float64" }).mul(np.array([15, 30, 45], { dtype: "float64" })),
    );
    const b = rand([4], 38);
    checkGradients((x) => np.linalg.lstsq(x, b)[3], [a]);
    const [, viaLstsq] = vjp((x: NdArray) => np.linalg.lstsq(x, b)[3], a);
    const [, viaSvd] = vjp((x: NdArray) => np.linalg.svdvals(x), a);
    const ct = rand([3], 39);
    expectClose(viaLstsq(ct)[0]!, viaSvd(ct)[0]!, 1e-12);
  });
});

describe("lstsq's residuals under jit and vmap", () => {
  const tall = np.add(rand([5, 3], 21), np.eye(5, 3, { dtype: "float64" }));
  const wide = np.add(rand([3, 5], 22), np.eye(3, 5, { dtype: "float64" }));
  const b = rand([5], 23);

  it('"always" traces, and equals numpy\'s residuals where the rank is n', () => {
    const f = (a: NdArray, y: NdArray) => np.linalg.lstsq(a, y, { residuals: "always" })[1];
    expectClose(jit(f)(tall, b), np.linalg.lstsq(tall, b)[1], 1e-12);
    expectClose(
      vmap(f, { inAxes: [null, 0] })(tall, np.stack([b, b])),
      np.stack([f(tall, b), f(tall, b)]),
      1e-12,
    );
  });

  it("numpy's rule traces where it depends on the shapes alone (m <= n: empty)", () => {
    const [x, residuals] = jit((a: NdArray, y: NdArray) => np.linalg.lstsq(a, y))(
      wide,
      np.take(b, [0, 1, 2]),
    );
    expect(residuals!.shape).toEqual([0]);
    expectClose(x!, np.linalg.lstsq(wide, np.take(b, [0, 1, 2]))[0], 1e-12);
  });

  it("numpy's rule for a tall matrix needs the rank's value: under jit and vmap a ConcretizationError naming lstsq, the shapes and the way out", () => {
    expectError(
      () => jit((a: NdArray, y: NdArray) => np.linalg.lstsq(a, y)[1])(tall, b),
      ConcretizationError,
      "lstsq",
      "[5,3]",
      'residuals: "always"',
    );
    expectError(
      () =>
        vmap((a: NdArray, y: NdArray) => np.linalg.lstsq(a, y)[1])(np.stack([tall, tall]), np.stack([b, b])),
      ConcretizationError,
      "lstsq",
      "[5,3]",
      'residuals: "always"',
    );
  });
});
