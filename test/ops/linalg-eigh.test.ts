/**
 * np.linalg.eigh / eigvalsh and lax.linalg.eigh (issue 20): values and vjps against torch.linalg in
 * float64 (test/golden/gen_linalg_qr_eigh.py), the reconstruction V diag(w) Vᵀ = A with orthonormal V on
 * random sizes (fast-check), the sign convention, which triangle is read, errors, degenerate eigenvalues,
 * float32, jit and vmap; the QL sweeps' eigenvector rotations (logged, applied in column blocks in
 * WebAssembly) against torch and, bit for bit, against the JS loop; the blocked kernel (dsytrd panels with
 * GEMM trailing updates, Q formed blocked) against the same torch data with small panels, and
 * np.linalg.eigh above its crossover (batched, degenerate, float32, NaN, both backends) by reconstruction
 * and against the unblocked kernel.
 */
import * as fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { symmetricEigen } from "../../src/backend/js/linalg-eigh.js";
import {
  EIGH_BLOCK_MIN,
  type EighBlocking,
  symmetricEigensolver,
} from "../../src/backend/js/linalg-eigh-blocked.js";
import { rowRotations } from "../../src/backend/js/linalg-eigh-rotations.js";
import { standaloneContext } from "../../src/backend/plan-memory.js";
import { DTypeError } from "../../src/core/dtype.js";
import {
  backend,
  grad,
  jit,
  lax,
  type NdArray,
  np,
  ShapeError,
  setBackend,
  vjp,
  vmap,
} from "../../src/index.js";
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
    expect(names).toContain("eigh_sym_80x80");
    expect(names).toContain("eigh_L_2x24x24");
    expect(names).toContain("eigvalsh_U_70x70");
  });
  for (const c of golden) {
    it(c.name, () => {
      const a = toArray(c.inputs["a"]!);
      const options = optionsOf(c);
      if (c.op === "eigvalsh") {
        const f = (x: NdArray) => np.linalg.eigvalsh(x, options);
        expectClose(f(a), c.outputs["w"]!, FLOAT64_TOLERANCE, "w");
        if (c.kind === "values") return;
        const [, back] = vjp(f, a);
        expectClose(back(toArray(c.cotangent!["w"]!))[0]!, c.grads!["a"]!, FLOAT64_TOLERANCE, "grad a");
        return;
      }
      const f = (x: NdArray) => np.linalg.eigh(x, options);
      const [w, v] = f(a);
      expectClose(w, c.outputs["w"]!, FLOAT64_TOLERANCE, "w");
      expectClose(v, c.outputs["v"]!, FLOAT64_TOLERANCE, "v");
      if (c.kind === "values") return;
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

/** The symmetric matrix a golden case's torch expression builds from its input (as np.linalg.eigh reads it). */
function symmetricOf(c: LinalgGoldenCase): NdArray {
  const a = toArray(c.inputs["a"]!);
  const read = c.attrs["read"];
  const t = read === "U" ? np.swapaxes(a, -1, -2) : a;
  return read === "sym"
    ? np.divide(np.add(a, np.swapaxes(a, -1, -2)), 2)
    : np.add(np.tril(t), np.swapaxes(np.tril(t, { k: -1 }), -1, -2));
}

const initial = backend();
const wasmBackend = initial.name !== "js";

describe.skipIf(!wasmBackend)("the QL sweeps' eigenvector rotations in WebAssembly", () => {
  afterEach(() => setBackend("wasm", { threads: initial.threads }));

  it("match torch.linalg.eigh on the golden cases (the kernel with the wasm rotations from n = 2)", () => {
    for (const c of golden.filter((g) => g.op === "eigh")) {
      const a = toArray(c.inputs["a"]!);
      const sym = symmetricOf(c);
      const n = a.shape[a.ndim - 1]!;
      const batch = a.size / (n * n);
      const data = sym.toTypedArray();
      const w = new Float64Array(batch * n);
      const v = new Float64Array(batch * n * n);
      const rotations = n >= 2 ? rowRotations(n, standaloneContext()) : null;
      for (let b = 0; b < batch; b++) {
        const u = rotations ? rotations.u() : new Float64Array(n * n);
        u.set(data.subarray(b * n * n, (b + 1) * n * n));
        const d = w.subarray(b * n, (b + 1) * n);
        expect(symmetricEigen(u, n, d, new Float64Array(n), true, rotations)).toBe(true);
        // Row j of u is eigenvector j: column j of v.
        for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) v[b * n * n + k * n + j] = u[j * n + k]!;
      }
      expectClose(np.array(w, { shape: a.shape.slice(0, -1) }), c.outputs["w"]!, FLOAT64_TOLERANCE, c.name);
      expectClose(np.array(v, { shape: a.shape }), c.outputs["v"]!, FLOAT64_TOLERANCE, c.name);
    }
  });

  it("give the JS loop's numbers bit for bit, with V diag(w) Vᵀ = A and Vᵀ V = I (n = 16, 17, 40, batched)", () => {
    for (const shape of [
      [16, 16],
      [17, 17],
      [40, 40],
      [2, 24, 24],
    ]) {
      const x = rand(shape, shape[shape.length - 1]!);
      const a = np.add(x, np.swapaxes(x, -1, -2));
      setBackend("wasm");
      const [w, v] = np.linalg.eigh(a);
      setBackend("js");
      const [wJs, vJs] = np.linalg.eigh(a);
      expectClose(w, wJs, { atol: 0, rtol: 0 });
      expectClose(v, vJs, { atol: 0, rtol: 0 });
      const n = shape[shape.length - 1]!;
      const vt = np.swapaxes(v, -1, -2);
      expect(maxAbs(np.subtract(np.matmul(np.multiply(v, np.expandDims(w, -2)), vt), a))).toBeLessThan(
        1e-13 * n,
      );
      expect(maxAbs(np.subtract(np.matmul(vt, v), np.eye(n, n, { dtype: "float64" })))).toBeLessThan(
        1e-13 * n,
      );
    }
  });

  it("logged and applied in column blocks, give tql2's own loop's numbers bit for bit (n = 64, 97, 150)", () => {
    // The log holds about n / 2 sweeps, so these apply it several times mid-iteration; 97 has an odd block.
    for (const n of [64, 97, 150]) {
      const x = rand([n, n], n);
      const a = np.add(x, np.swapaxes(x, -1, -2)).toTypedArray() as Float64Array;
      const rotations = rowRotations(n, standaloneContext())!;
      rotations.u().set(a);
      const w = new Float64Array(n);
      expect(symmetricEigen(rotations.u(), n, w, new Float64Array(n), true, rotations)).toBe(true);
      const u = a.slice();
      const wJs = new Float64Array(n);
      expect(symmetricEigen(u, n, wJs, new Float64Array(n), true)).toBe(true);
      expect(Array.from(w)).toEqual(Array.from(wJs));
      expect(Array.from(rotations.u())).toEqual(Array.from(u));
    }
  });
});

/** Eigenvalues and eigenvectors (columns) of the symmetric stack `a` by the kernel, blocked as `blocking` says. */
function kernelEigh(a: NdArray, vectors: boolean, blocking: EighBlocking): [w: NdArray, v: NdArray] {
  const n = a.shape[a.ndim - 1]!;
  const batch = a.size / (n * n);
  const data = a.toTypedArray();
  const w = new Float64Array(batch * n);
  const v = new Float64Array(batch * n * n);
  const solver = symmetricEigensolver(n, vectors, standaloneContext(), blocking);
  for (let b = 0; b < batch; b++) {
    solver.u().set(data.subarray(b * n * n, (b + 1) * n * n));
    solver.solve(w.subarray(b * n, (b + 1) * n));
    const u = solver.u();
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) v[b * n * n + k * n + j] = u[j * n + k]!;
  }
  return [np.array(w, { shape: a.shape.slice(0, -1) }), np.array(v, { shape: a.shape })];
}

const UNBLOCKED: EighBlocking = { block: 1, blockMin: Number.POSITIVE_INFINITY };

/** Checks V diag(w) Vᵀ = A, Vᵀ V = I and w ascending, relative to the size of A. */
function expectEigendecomposition(a: NdArray, w: NdArray, v: NdArray, tolerance: number): void {
  const n = a.shape[a.ndim - 1]!;
  const scale = Math.max(maxAbs(a), 1e-300);
  const rebuilt = np.matmul(np.multiply(v, np.expandDims(w, -2)), np.swapaxes(v, -1, -2));
  expect(maxAbs(np.subtract(rebuilt, a)) / scale).toBeLessThan(tolerance);
  const gram = np.matmul(np.swapaxes(v, -1, -2), v);
  expect(maxAbs(np.subtract(gram, np.eye(n, n, { dtype: "float64" })))).toBeLessThan(tolerance);
  const wd = w.toTypedArray();
  for (let i = 0; i + 1 < wd.length; i++)
    if ((i + 1) % n !== 0) expect(wd[i]!).toBeLessThanOrEqual(wd[i + 1]!);
}

describe("blocked eigh (dsytrd panels with a GEMM trailing update, Q formed blocked, then QL)", () => {
  it("np.linalg.eigh is blocked from order 64 on (so eigh_sym_80x80 and eigvalsh_U_70x70 went through it)", () => {
    expect(EIGH_BLOCK_MIN).toBeLessThanOrEqual(64);
  });

  // Small panels put every golden case through the blocked loops, with several panels and a ragged last one.
  for (const block of [1, 3, 8]) {
    it(`matches torch.linalg.eigh on every golden case with panels of ${block} (float64, 1e-9 relative)`, () => {
      for (const c of golden) {
        const vectors = c.op === "eigh";
        const [w, v] = kernelEigh(symmetricOf(c), vectors, { block, blockMin: 2 });
        expectClose(w, c.outputs["w"]!, FLOAT64_TOLERANCE, `${c.name} w`);
        if (vectors) expectClose(v, c.outputs["v"]!, FLOAT64_TOLERANCE, `${c.name} v`);
      }
    });
  }

  const backends = wasmBackend ? (["wasm", "js"] as const) : (["js"] as const);
  afterEach(() => setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads }));

  for (const name of backends) {
    it(`${name}: random 64x64, 97x97 and 2x70x70 reconstruct, with the unblocked kernel's values and vectors`, () => {
      setBackend(name);
      for (const shape of [
        [64, 64],
        [97, 97],
        [2, 70, 70],
      ]) {
        const x = rand(shape, shape[shape.length - 1]! + 3);
        const a = np.add(x, np.swapaxes(x, -1, -2));
        const [w, v] = np.linalg.eigh(a);
        expectEigendecomposition(a, w, v, 1e-13 * shape[shape.length - 1]!);
        const [wRef, vRef] = kernelEigh(a, true, UNBLOCKED);
        expect(maxAbs(np.subtract(w, wRef)) / maxAbs(wRef)).toBeLessThan(1e-13);
        // Eigenvectors move by rounding over the eigenvalue gap: a loose bound, far below a wrong vector.
        expect(maxAbs(np.subtract(v, vRef))).toBeLessThan(1e-8);
        expectClose(np.linalg.eigvalsh(a), w, { atol: 1e-12 * maxAbs(w), rtol: 0 });
      }
    });

    it(`${name}: repeated eigenvalues, a diagonal and a zero matrix above the crossover`, () => {
      setBackend(name);
      const n = 72;
      // Q diag(1, 1, ..., 1, 2, 2, ..., 2, 5) Qᵀ: two eigenspaces of dimension 40 and 31.
      const [q] = np.linalg.qr(rand([n, n], 17));
      const values = Array.from({ length: n }, (_, i) => (i < 40 ? 1 : i < n - 1 ? 2 : 5));
      const wTrue = np.array(values, { dtype: "float64" });
      const degenerate = np.matmul(np.multiply(q, np.expandDims(wTrue, -2)), np.swapaxes(q, -1, -2));
      const diagonal = np.diag(
        np.array(
          Array.from({ length: n }, (_, i) => (i * 7) % 11),
          { dtype: "float64" },
        ),
      );
      for (const a of [
        degenerate,
        diagonal,
        np.zeros([n, n], { dtype: "float64" }),
        np.eye(n, n, { dtype: "float64" }),
      ]) {
        const [w, v] = np.linalg.eigh(a);
        expectEigendecomposition(a, w, v, 1e-13 * n);
      }
      const [w] = np.linalg.eigh(degenerate);
      expectClose(w, wTrue, { atol: 1e-13 * n, rtol: 0 });
    });

    it(`${name}: float32 operands and NaN input above the crossover: float32 results, NaN results`, () => {
      setBackend(name);
      const x = rand([80, 80], 5);
      const a = np.add(x, np.swapaxes(x, -1, -2));
      const [w64, v64] = np.linalg.eigh(a);
      const [w32, v32] = np.linalg.eigh(a.astype("float32"));
      expect([w32.dtype, v32.dtype]).toEqual(["float32", "float32"]);
      expect(maxAbs(np.subtract(w32.astype("float64"), w64))).toBeLessThan(1e-4);
      expect(maxAbs(np.subtract(v32.astype("float64"), v64))).toBeLessThan(1e-3);
      const data = a.toTypedArray().slice();
      data[5 * 80 + 3] = Number.NaN; // in the lower triangle, the one read
      const [w, v] = np.linalg.eigh(np.array(data, { shape: [80, 80] }));
      expect(Array.from(w.toTypedArray()).every(Number.isNaN)).toBe(true);
      expect(Array.from(v.toTypedArray()).every(Number.isNaN)).toBe(true);
      expect(
        Array.from(np.linalg.eigvalsh(np.array(data, { shape: [80, 80] })).toTypedArray()).every(
          Number.isNaN,
        ),
      ).toBe(true);
    });
  }
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

describe("tiny and huge matrices (scaled into LAPACK's safe range first, as dsyev does)", () => {
  // Unscaled, the QL iteration's products underflowed (wrong eigenvalues) or overflowed (NaN) here.
  for (const n of [5, 80]) {
    it(`n = ${n}: eigenvalues scale with the matrix from 1e-300 to 1e300, eigenvectors stay`, () => {
      const x = rand([n, n], 40 + n);
      const a = np.add(x, np.swapaxes(x, -1, -2));
      const [w, v] = np.linalg.eigh(a);
      for (const scale of [1e-300, 1e-200, 1e-150, 1e150, 1e200, 1e300]) {
        const [ws, vs] = np.linalg.eigh(a.mul(scale));
        expect(maxAbs(np.subtract(ws.div(scale), w)) / maxAbs(w)).toBeLessThan(1e-13);
        expect(maxAbs(np.subtract(vs, v))).toBeLessThan(1e-10);
        const values = np.linalg.eigvalsh(a.mul(scale));
        expect(maxAbs(np.subtract(values.div(scale), w)) / maxAbs(w)).toBeLessThan(1e-13);
      }
    });
  }
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
