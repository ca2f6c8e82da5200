/**
 * np.linalg.eigh / eigvalsh and lax.linalg.eigh (issue 20): values and vjps against torch.linalg in
 * float64 (test/golden/gen_linalg_qr_eigh.py), the reconstruction V diag(w) Vᵀ = A with orthonormal V on
 * random sizes (fast-check), the sign convention, which triangle is read, errors, degenerate eigenvalues,
 * float32, jit and vmap.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DTypeError } from "../../src/core/dtype.js";
import { grad, jit, lax, type NdArray, np, ShapeError, vjp, vmap } from "../../src/index.js";
import { eighPrim } from "../../src/ops/linalg-eigh.js";
import { expectClose, FLOAT64_TOLERANCE, loadGolden, toArray } from "../golden/golden.js";
import type { LinalgGoldenCase } from "../helpers/linalg-golden.js";
import { expectError, rand } from "../helpers/op-checks.js";

const golden = (loadGolden("linalg_qr_eigh.json").cases as unknown as LinalgGoldenCase[]).filter(
  (c) => c.op === "eigh" || c.op === "eigvalsh",
);

/** How the case's torch expression builds its symmetric matrix, as eigh options. */
function optionsOf(c: LinalgGoldenCase): np.linalg.EighOptions {
  const read = c.attrs["read"];
  return read === "sym" ? { symmetrizeInput: true } : { UPLO: read as "L" | "U" };
}

const maxAbs = (x: NdArray): number => np.max(np.abs(x)).item();

describe("eigh and eigvalsh against torch.linalg (float64, 1e-9 relative)", () => {
  it("covers batched and unbatched eigh and eigvalsh, each triangle and the symmetrized input", () => {
    const names = golden.map((c) => c.name);
    expect(names).toContain("eigh_sym_2x2x4x4");
    expect(names).toContain("eigh_L_5x5");
    expect(names).toContain("eigh_U_5x5");
    expect(names).toContain("eigvalsh_L_2x4x4");
  });
  for (const c of golden) {
    it(c.name, () => {
      const a = toArray(c.inputs["a"]!);
      const options = optionsOf(c);
      if (c.op === "eigvalsh") {
        const f = (x: NdArray) => np.linalg.eigvalsh(x, options);
        expectClose(f(a), c.outputs["w"]!, FLOAT64_TOLERANCE, "w");
        const [, back] = vjp(f, a);
        expectClose(back(toArray(c.cotangent!["w"]!))[0]!, c.grads!["a"]!, FLOAT64_TOLERANCE, "grad a");
        return;
      }
      const f = (x: NdArray) => np.linalg.eigh(x, options);
      const [w, v] = f(a);
      expectClose(w, c.outputs["w"]!, FLOAT64_TOLERANCE, "w");
      expectClose(v, c.outputs["v"]!, FLOAT64_TOLERANCE, "v");
      const [, back] = vjp(f, a);
      const ct: [NdArray, NdArray] = [toArray(c.cotangent!["w"]!), toArray(c.cotangent!["v"]!)];
      expectClose(back(ct)[0]!, c.grads!["a"]!, FLOAT64_TOLERANCE, "grad a");
      if (c.attrs["read"] === "sym") {
        // lax.linalg.eigh symmetrizes by default and returns [v, w].
        const [, backLax] = vjp((x: NdArray) => lax.linalg.eigh(x), a);
        expectClose(backLax([ct[1], ct[0]])[0]!, c.grads!["a"]!, FLOAT64_TOLERANCE, "lax grad a");
      }
    });
  }
});

/** A random symmetric matrix stack [...batch, n, n] from fast-check's doubles. */
const symmetricCases = fc
  .record({
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    n: fc.integer({ min: 1, max: 7 }),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
    scale: fc.constantFrom(1, 1e-3, 1e4),
  })
  .map(({ batch, n, seed, scale }) => {
    const x = rand([...batch, n, n], seed).mul(scale);
    return { a: np.add(x, np.swapaxes(x, -1, -2)), n };
  });

describe("eigh reconstructs: V diag(w) Vᵀ = A, Vᵀ V = I, w ascending, signs normalised", () => {
  it("on random symmetric matrices of sizes 1 to 7, batched and not, three scales", () => {
    fc.assert(
      fc.property(symmetricCases, ({ a, n }) => {
        const [w, v] = np.linalg.eigh(a);
        const scale = Math.max(maxAbs(a), 1e-300);
        const rebuilt = np.matmul(np.multiply(v, np.expandDims(w, -2)), np.swapaxes(v, -1, -2));
        expect(maxAbs(np.subtract(rebuilt, a)) / scale).toBeLessThan(1e-13 * n);
        const gram = np.matmul(np.swapaxes(v, -1, -2), v);
        expect(maxAbs(np.subtract(gram, np.eye(n, n, { dtype: "float64" })))).toBeLessThan(1e-13 * n);
        const wd = w.toTypedArray();
        for (let i = 0; i + 1 < wd.length; i++)
          if ((i + 1) % n !== 0) expect(wd[i]!).toBeLessThanOrEqual(wd[i + 1]!);
        expect(maxAbs(np.subtract(np.linalg.eigvalsh(a), w)) / scale).toBeLessThan(1e-13 * n);
        // Sign convention: each column's largest-magnitude component (the first on a tie) is positive.
        const vt = np.swapaxes(v, -1, -2).toTypedArray();
        for (let col = 0; col < vt.length / n; col++) {
          const entries = Array.from(vt.subarray(col * n, col * n + n));
          const big = entries.reduce((best, x, i) => (Math.abs(x) > Math.abs(entries[best]!) ? i : best), 0);
          expect(entries[big]!).toBeGreaterThan(0);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("float32 operands give float32 results close to the float64 ones", () => {
    const x = rand([3, 5, 5], 11);
    const a = np.add(x, np.swapaxes(x, -1, -2));
    const [w64, v64] = np.linalg.eigh(a);
    const [w32, v32] = np.linalg.eigh(a.astype("float32"));
    expect(w32.dtype).toBe("float32");
    expect(v32.dtype).toBe("float32");
    expect(maxAbs(np.subtract(w32.astype("float64"), w64))).toBeLessThan(1e-5);
    expect(maxAbs(np.subtract(v32.astype("float64"), v64))).toBeLessThan(1e-4);
  });

  it("an integer matrix is computed in float32; a 0 x 0 matrix gives empty results", () => {
    const [w] = np.linalg.eigh(
      np.array(
        [
          [2, 1],
          [1, 2],
        ],
        { dtype: "int32" },
      ),
    );
    expect(w.dtype).toBe("float32");
    expect(Array.from(w.toTypedArray())).toEqual([1, 3]);
    const [w0, v0] = np.linalg.eigh(np.zeros([2, 0, 0], { dtype: "float64" }));
    expect(w0.shape).toEqual([2, 0]);
    expect(v0.shape).toEqual([2, 0, 0]);
  });
});

describe("which triangle is read", () => {
  const lower = np.array(
    [
      [2, 0, 0],
      [1, 3, 0],
      [0.5, -1, 4],
    ],
    { dtype: "float64" },
  );
  const full = np.add(lower, np.swapaxes(np.tril(lower, { k: -1 }), 0, 1));

  it("UPLO L (default) ignores the upper triangle, even NaN there; U the lower", () => {
    const nanAbove = np.where(np.triu(np.ones([3, 3]), { k: 1 }).astype("bool"), Number.NaN, lower);
    const [wFull, vFull] = np.linalg.eigh(full);
    const [wL, vL] = np.linalg.eigh(nanAbove);
    expectClose(wL, wFull, { atol: 0, rtol: 0 });
    expectClose(vL, vFull, { atol: 0, rtol: 0 });
    const [wU] = np.linalg.eigh(np.swapaxes(nanAbove, 0, 1), { UPLO: "U" });
    expectClose(wU, wFull, { atol: 0, rtol: 0 });
    expectClose(np.linalg.eigvalsh(np.swapaxes(nanAbove, 0, 1), { UPLO: "U" }), wFull, FLOAT64_TOLERANCE);
  });

  it("the gradient of the lower-triangle function lies in the lower triangle", () => {
    const g = grad((x: NdArray) =>
      np.sum(np.linalg.eigvalsh(x).mul(np.array([1, 2, 3], { dtype: "float64" }))),
    )(full);
    expect(maxAbs(np.triu(g, { k: 1 }))).toBe(0);
    // symmetrizeInput: the gradient is symmetric (PyTorch's convention).
    const gs = grad((x: NdArray) =>
      np.sum(np.linalg.eigvalsh(x, { symmetrizeInput: true }).mul(np.array([1, 2, 3], { dtype: "float64" }))),
    )(full);
    expect(maxAbs(np.subtract(gs, np.swapaxes(gs, 0, 1)))).toBeLessThan(1e-15);
  });
});

describe("repeated eigenvalues (documented behaviour)", () => {
  const identity = np.eye(3, 3, { dtype: "float64" });

  it("eigvalsh's gradient stays finite; eigh's through the eigenvectors does not", () => {
    const weights = np.array([1, 2, 3], { dtype: "float64" });
    const gValues = grad((x: NdArray) => np.sum(np.linalg.eigvalsh(x).mul(weights)))(identity);
    expect(Array.from(gValues.toTypedArray()).every(Number.isFinite)).toBe(true);
    const gVectors = grad((x: NdArray) => np.sum(np.linalg.eigh(x)[1].mul(weights)))(identity);
    expect(Array.from(gVectors.toTypedArray()).some((g) => !Number.isFinite(g))).toBe(true);
  });
});

describe("non-finite input and errors", () => {
  it("NaN or infinite input gives NaN eigenvalues and eigenvectors (numpy raises)", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const a = np.array(
        [
          [1, 0],
          [bad, 2],
        ],
        { dtype: "float64" },
      );
      const [w, v] = np.linalg.eigh(a);
      expect(Array.from(w.toTypedArray()).every(Number.isNaN)).toBe(true);
      expect(Array.from(v.toTypedArray()).every(Number.isNaN)).toBe(true);
    }
  });

  it("non-square, rank-1 and bad options are typed errors naming the function", () => {
    expectError(() => np.linalg.eigh(np.zeros([2, 3])), ShapeError, "eigh", "[2,3]", "[..., n, n]");
    expectError(() => np.linalg.eigvalsh(np.zeros([3])), ShapeError, "eigvalsh", "got [3]");
    expectError(() => lax.linalg.eigh(np.zeros([4, 2, 3])), ShapeError, "lax.linalg.eigh", "[4,2,3]");
    expectError(() => np.linalg.eigh(np.eye(2), { UPLO: "X" as "L" }), RangeError, "eigh", "UPLO");
    expectError(() => np.linalg.eigh(np.eye(2), { lower: true } as never), TypeError, "eigh", "lower");
    expectError(
      () => eighPrim.bind([np.eye(2, 2, { dtype: "int32" })], { lower: true, vectors: true }),
      DTypeError,
      "eigh",
      "int32",
    );
  });
});

describe("transforms", () => {
  const x = rand([4, 3, 3], 5);
  const a = np.add(x, np.swapaxes(x, -1, -2));

  it("jit and vmap give the eager values", () => {
    const f = (m: NdArray) => np.linalg.eigh(m)[1];
    expectClose(jit(f)(a), f(a), { atol: 0, rtol: 0 });
    expectClose(vmap(f)(a), f(a), { atol: 0, rtol: 0 });
    expectClose(
      vmap((m: NdArray) => np.linalg.eigvalsh(m), { inAxes: [1] })(np.swapaxes(a, 0, 1)),
      np.linalg.eigvalsh(a),
      { atol: 0, rtol: 0 },
    );
  });
});
