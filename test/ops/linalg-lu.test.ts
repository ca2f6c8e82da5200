/**
 * The `lu` primitive (issue 20): P A = L U on random sizes (1×1, rectangular, the blocked path with its
 * GEMM updates, batches), the pivots of a plain column-by-column factorization written here, LAPACK's
 * behaviour on singular input, float32, errors, jit/vmap, both backends, and its derivative against
 * finite differences. Agreement with torch.linalg.lu_factor is test/golden/ops.test.ts (linalg_lu).
 */
import * as fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { DTypeError } from "../../src/core/dtype.js";
import { grad, jit, lax, type NdArray, np, ShapeError, setBackend, vmap } from "../../src/index.js";
import { unpackLu } from "../../src/ops/linalg-lu.js";
import { checkGradients, expectClose, expectError, rand } from "../helpers/op-checks.js";

const values = (x: NdArray): number[] => Array.from(x.toTypedArray());

/** A plain getf2 (unblocked, partial pivoting, first largest magnitude) on one row-major matrix. */
function referenceLu(a: readonly number[], m: number, n: number): { lu: number[]; pivots: number[] } {
  const x = [...a];
  const pivots: number[] = [];
  for (let j = 0; j < Math.min(m, n); j++) {
    let p = j;
    for (let i = j + 1; i < m; i++) if (Math.abs(x[i * n + j]!) > Math.abs(x[p * n + j]!)) p = i;
    pivots.push(p);
    for (let c = 0; c < n; c++) [x[j * n + c], x[p * n + c]] = [x[p * n + c]!, x[j * n + c]!];
    const d = x[j * n + j]!;
    if (d === 0) continue;
    for (let i = j + 1; i < m; i++) {
      x[i * n + j]! /= d;
      for (let c = j + 1; c < n; c++) x[i * n + c]! -= x[i * n + j]! * x[j * n + c]!;
    }
  }
  return { lu: x, pivots };
}

/**
 * A matrix whose partial pivoting is stable under small perturbations: column-diagonally dominant
 * (so elimination keeps it dominant) with its rows then reordered, so pivoting does swap rows.
 */
function wellPivoted(shape: readonly number[], seed: number): NdArray {
  const [m, n] = [shape[shape.length - 2]!, shape[shape.length - 1]!];
  const dominant = np.add(rand(shape, seed), np.multiply(np.eye(m, n, { dtype: "float64" }), m + 1));
  const order = np.array(
    Array.from({ length: m }, (_, i) => (i + 1) % m),
    { dtype: "int32" },
  );
  const reordered = np.take(dominant, order, { axis: -2 });
  return reordered;
}

/** ‖P A − L U‖ / ‖A‖ (max norms) for a batch [..., m, n]. */
function reconstructionError(a: NdArray): number {
  const [lu, , perm] = lax.linalg.lu(a);
  const [l, u] = unpackLu(lu);
  const m = a.shape[a.ndim - 2]!;
  const n = a.shape[a.ndim - 1]!;
  const k = Math.min(m, n);
  const all = a.shape.slice(0, -2).map(() => ({}));
  // L [m, m] @ U [n, n] padded: the product of their [m, k] and [k, n] parts is L U.
  const product = np.matmul(np.slice(l, [...all, {}, { stop: k }]), np.slice(u, [...all, { stop: k }]));
  const pa = np.takeAlongAxis(a, np.expandDims(perm, -1), { axis: -2 });
  const scale = Math.max(1e-300, np.max(np.abs(a)).item());
  return np.max(np.abs(np.subtract(pa, product))).item() / scale;
}

describe("lu", () => {
  it("factors a 2x2 matrix as LAPACK does", () => {
    const [lu, pivots, perm] = lax.linalg.lu(
      np.array(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: "float64" },
      ),
    );
    expect(values(lu)).toEqual([3, 4, 1 / 3, 2 - (1 / 3) * 4]);
    expect(values(pivots)).toEqual([1, 1]);
    expect(values(perm)).toEqual([1, 0]);
    expect([pivots.dtype, perm.dtype]).toEqual(["int32", "int32"]);
  });

  it("matches a plain column-by-column factorization, square and rectangular, small and blocked", () => {
    for (const [m, n, seed] of [
      [1, 1, 1],
      [4, 4, 2],
      [7, 3, 3],
      [3, 7, 4],
      [150, 150, 5],
      [200, 131, 6],
      [131, 260, 7],
    ] as const) {
      const a = rand([m, n], seed);
      const [lu, pivots] = lax.linalg.lu(a);
      const ref = referenceLu(values(a), m, n);
      expect(values(pivots)).toEqual(ref.pivots);
      const got = values(lu);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - ref.lu[i]!)).toBeLessThan(1e-9);
      expect(reconstructionError(a)).toBeLessThan(1e-13);
    }
  });

  it("P A = L U on random sizes and batches (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 1e6 }),
        (batch, m, n, seed) => {
          expect(reconstructionError(rand([...batch, m, n], seed))).toBeLessThan(1e-14);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("factors float32 in float32", () => {
    const a = np.astype(rand([3, 40, 40], 11), "float32");
    const [lu] = lax.linalg.lu(a);
    expect(lu.dtype).toBe("float32");
    expect(reconstructionError(np.astype(a, "float64"))).toBeLessThan(1e-13);
    expect(reconstructionError(a)).toBeLessThan(1e-5);
  });

  it("continues past a zero pivot as LAPACK does (singular input: no error, no NaN)", () => {
    // Second column is twice the first: the second pivot is exactly zero.
    const a = np.array(
      [
        [1, 2, 3],
        [2, 4, 1],
        [4, 8, 5],
      ],
      { dtype: "float64" },
    );
    const [lu, pivots] = lax.linalg.lu(a);
    const got = values(lu);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(got[4]).toBe(0);
    expect(values(pivots)).toEqual([2, 1, 2]);
    expect(reconstructionError(a)).toBeLessThan(1e-15);
    const zero = lax.linalg.lu(np.zeros([2, 2], { dtype: "float64" }));
    expect(values(zero[0])).toEqual([0, 0, 0, 0]);
    expect(values(zero[1])).toEqual([0, 1]);
  });

  it("handles empty batches and empty matrices", () => {
    const [lu, pivots, perm] = lax.linalg.lu(np.zeros([0, 3, 3], { dtype: "float64" }));
    expect([lu.shape, pivots.shape, perm.shape]).toEqual([
      [0, 3, 3],
      [0, 3],
      [0, 3],
    ]);
    const [, p2, q2] = lax.linalg.lu(np.zeros([3, 0], { dtype: "float64" }));
    expect([p2.shape, values(q2)]).toEqual([[0], [0, 1, 2]]);
  });

  it("refuses non-matrices and integer arrays with typed errors naming the op", () => {
    expectError(() => lax.linalg.lu(np.zeros([3])), ShapeError, "lu", "[3]", "rank >= 2");
    for (const dtype of ["int32", "uint32", "uint8", "bool"] as const)
      expectError(() => lax.linalg.lu(np.zeros([2, 2], { dtype })), DTypeError, "lu", dtype);
  });

  it("factors float16 and bfloat16 in float32, rounding the factors once", () => {
    for (const dtype of ["float16", "bfloat16"] as const) {
      const a = np.astype(rand([3, 3], 4), dtype);
      const [lu, pivots] = lax.linalg.lu(a);
      expect([lu.dtype, pivots.dtype]).toEqual([dtype, "int32"]);
      const [reference] = lax.linalg.lu(np.astype(a, "float32"));
      expect(values(lu)).toEqual(values(np.astype(reference, dtype)));
    }
  });

  it("gives eager's bits under jit and vmap", () => {
    const a = rand([3, 140, 140], 21);
    const eager = lax.linalg.lu(a);
    const jitted = jit((x: NdArray) => lax.linalg.lu(x))(a);
    const mapped = vmap((x: NdArray) => lax.linalg.lu(x))(a);
    for (let i = 0; i < 3; i++) {
      expect(values(jitted[i]!)).toEqual(values(eager[i]!));
      expect(values(mapped[i]!)).toEqual(values(eager[i]!));
    }
    const moved = vmap((x: NdArray) => lax.linalg.lu(x)[0], { inAxes: [2] })(np.moveaxis(a, 0, 2));
    expect(values(moved)).toEqual(values(eager[0]));
  });

  it("has JAX's derivative: jvp and vjp against finite differences, square and rectangular", () => {
    for (const [m, n] of [
      [1, 1],
      [4, 4],
      [5, 3],
      [3, 5],
    ] as const) {
      checkGradients((x) => lax.linalg.lu(x)[0], [wellPivoted([2, m, n], m + n)]);
    }
  });

  it("has second derivatives (grad of grad) matching finite differences of the gradient", () => {
    const a = wellPivoted([3, 3], 5);
    const w = rand([3, 3], 6);
    const f = (x: NdArray) => np.sum(np.multiply(np.sin(lax.linalg.lu(x)[0]), w));
    const g = (x: NdArray) => grad(f)(x);
    const v = rand([3, 3], 7);
    const eps = 1e-5;
    const numeric = np.divide(
      np.subtract(g(np.add(a, np.multiply(v, eps))), g(np.subtract(a, np.multiply(v, eps)))),
      2 * eps,
    );
    const hvp = grad((x: NdArray) => np.sum(np.multiply(g(x), v)))(a);
    expectClose(hvp, numeric, 1e-6);
  });

  describe("on the JS backend", () => {
    afterAll(() => setBackend("wasm"));
    it("gives the same factors as the wasm GEMM path", () => {
      const a = rand([200, 180], 31);
      const wasm = lax.linalg.lu(a);
      setBackend("js");
      const js = lax.linalg.lu(a);
      expect(values(js[1])).toEqual(values(wasm[1]));
      expectClose(js[0], wasm[0], 1e-12);
    });
  });
});
