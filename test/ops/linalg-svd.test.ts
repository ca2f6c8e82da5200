/**
 * The svd primitive and np.linalg.svd/svdvals (issue 20): reconstruction and orthonormality on random
 * sizes (fast-check), the sign and order conventions, rank-deficient and degenerate inputs, NaN input,
 * float32, empty matrices, errors, jit/vmap, and derivatives against finite differences. Agreement with
 * torch.linalg in float64 (svd, svdvals, pinv, lstsq, matrixRank) is the last block, from
 * test/golden/data/linalg_svd.json.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DTypeError,
  grad,
  jit,
  jvp,
  lax,
  type NdArray,
  np,
  ShapeError,
  testing,
  vmap,
} from "../../src/index.js";
import { expectClose, FLOAT64_TOLERANCE, type GoldenArray, toArray } from "../golden/golden.js";
import { checkLinalgCase, loadLinalgSvdCases } from "../helpers/linalg-golden.js";
import { expectError, rand } from "../helpers/op-checks.js";

const f64 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "float64" });
const maxAbs = (x: NdArray): number => (x.size === 0 ? 0 : np.max(np.abs(x)).item());
const eyeLike = (n: number, dtype: "float32" | "float64" = "float64") => np.eye(n, n, { dtype });

/** U[..., :, :k] diag(s) Vh[..., :k, :]: the product of the parts the singular values multiply. */
function reconstruct(u: NdArray, s: NdArray, vh: NdArray): NdArray {
  const k = s.shape[s.ndim - 1]!;
  const uk = u.index("...", `:${k}`);
  const vk = vh.index("...", `:${k}`, ":");
  return np.matmul(uk.mul(np.expandDims(s, -2)), vk);
}

/** max |Qᵀ Q - I| over a stack of matrices with orthonormal columns. */
function orthonormalColumnsError(q: NdArray): number {
  const n = q.shape[q.ndim - 1]!;
  return maxAbs(np.matmul(np.swapaxes(q, -1, -2), q).sub(eyeLike(n, q.dtype as "float64")));
}

describe("np.linalg.svd: U diag(s) Vh = A with orthonormal U and V (fast-check)", () => {
  const sizes = fc.record({
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    m: fc.integer({ min: 1, max: 9 }),
    n: fc.integer({ min: 1, max: 9 }),
    full: fc.boolean(),
    seed: fc.nat(),
  });
  it("float64, tall, square and wide, full and reduced", () => {
    fc.assert(
      fc.property(sizes, ({ batch, m, n, full, seed }) => {
        const a = rand([...batch, m, n], seed);
        const [u, s, vh] = np.linalg.svd(a, { fullMatrices: full });
        const k = Math.min(m, n);
        expect(u.shape).toEqual([...batch, m, full ? m : k]);
        expect(s.shape).toEqual([...batch, k]);
        expect(vh.shape).toEqual([...batch, full ? n : k, n]);
        const scale = 1 + maxAbs(a);
        expect(maxAbs(reconstruct(u, s, vh).sub(a))).toBeLessThan(1e-13 * scale);
        expect(orthonormalColumnsError(u)).toBeLessThan(1e-13);
        expect(orthonormalColumnsError(np.swapaxes(vh, -1, -2))).toBeLessThan(1e-13);
        const sv = Array.from(s.toTypedArray());
        for (let i = 0; i < sv.length; i++) {
          expect(sv[i]!).toBeGreaterThanOrEqual(0);
          if (i % k !== 0) expect(sv[i]!).toBeLessThanOrEqual(sv[i - 1]!);
        }
        // The values-only path gives the same singular values.
        expect(maxAbs(np.linalg.svdvals(a).sub(s))).toBeLessThan(1e-13 * scale);
      }),
      { numRuns: 60 },
    );
  });

  it("rank-deficient matrices: zero singular values, U and V still orthonormal", () => {
    fc.assert(
      fc.property(sizes, fc.integer({ min: 0, max: 3 }), ({ batch, m, n, full, seed }, rank) => {
        // A = B C with inner size `rank` < min(m, n) (or full rank when rank is larger).
        const b = rand([...batch, m, rank], seed);
        const c = rand([...batch, rank, n], seed + 1);
        const a = np.matmul(b, c);
        const [u, s, vh] = np.linalg.svd(a, { fullMatrices: full });
        expect(maxAbs(reconstruct(u, s, vh).sub(a))).toBeLessThan(1e-13 * (1 + maxAbs(a)));
        expect(orthonormalColumnsError(u)).toBeLessThan(1e-13);
        expect(orthonormalColumnsError(np.swapaxes(vh, -1, -2))).toBeLessThan(1e-13);
        const k = Math.min(m, n);
        const sv = Array.from(s.toTypedArray());
        for (let i = 0; i < sv.length; i++) if (i % k >= rank) expect(sv[i]!).toBeLessThan(1e-13);
      }),
      { numRuns: 60 },
    );
  });
});

describe("np.linalg.svd conventions", () => {
  it("singular values descending; the largest component of each U column positive, V flipped with it", () => {
    const a = rand([5, 4], 3);
    const [u, s, vh] = np.linalg.svd(a, { fullMatrices: true });
    const cols = np.swapaxes(u, 0, 1).toArray() as number[][];
    for (const col of cols) {
      const largest = col.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
      expect(largest).toBeGreaterThan(0);
    }
    const sv = Array.from(s.toTypedArray());
    expect([...sv].sort((x, y) => y - x)).toEqual(sv);
    expect(maxAbs(reconstruct(u, s, vh).sub(a))).toBeLessThan(1e-14);
  });

  it("a diagonal matrix: |d| sorted, U and V signed permutations", () => {
    const a = f64([
      [0, 0, 0],
      [0, -3, 0],
      [0, 0, 2],
    ]);
    const [u, s, vh] = np.linalg.svd(a);
    expect(Array.from(s.toTypedArray())).toEqual([3, 2, 0]);
    expect(
      maxAbs(
        u.sub(
          f64([
            [0, 0, 1],
            [1, 0, 0],
            [0, 1, 0],
          ]),
        ),
      ),
    ).toBe(0);
    expect(maxAbs(reconstruct(u, s, vh).sub(a))).toBe(0);
  });

  it("the zero matrix and repeated singular values: orthonormal factors that reconstruct A", () => {
    for (const a of [
      np.zeros([3, 2], { dtype: "float64" }),
      eyeLike(4),
      eyeLike(3)
        .mul(2)
        .add(f64([[0]])),
    ]) {
      const [u, s, vh] = np.linalg.svd(a);
      expect(orthonormalColumnsError(u)).toBeLessThan(1e-15);
      expect(orthonormalColumnsError(np.swapaxes(vh, -1, -2))).toBeLessThan(1e-15);
      expect(maxAbs(reconstruct(u, s, vh).sub(a))).toBeLessThan(1e-15);
    }
  });

  it("1x1, 1xn and mx1", () => {
    const [u, s, vh] = np.linalg.svd(f64([[-2.5]]));
    expect([u.item(), s.item(), vh.item()]).toEqual([1, 2.5, -1]);
    const row = f64([[3, -4]]);
    const [ur, sr, vr] = np.linalg.svd(row);
    expect(sr.toArray()).toEqual([5]);
    expect(maxAbs(reconstruct(ur, sr, vr).sub(row))).toBeLessThan(1e-15);
    const col = f64([[3], [-4]]);
    const [uc, sc, vc] = np.linalg.svd(col, { fullMatrices: false });
    expect(sc.toArray()).toEqual([5]);
    expect(maxAbs(uc.sub(f64([[-0.6], [0.8]])))).toBeLessThan(1e-15);
    expect(vc.toArray()).toEqual([[-1]]);
  });

  it("large matrices (reflector products formed blocked, with the GEMM): an SVD, tall/square/wide, full and reduced", () => {
    for (const [shape, full] of [
      [[150, 70], true],
      [[70, 150], true],
      [[2, 100, 100], false],
      [[130, 97], false],
    ] as const) {
      const a = rand([...shape], shape[0] + shape[1]!);
      const [u, s, vh] = np.linalg.svd(a, { fullMatrices: full });
      expect(maxAbs(reconstruct(u, s, vh).sub(a))).toBeLessThan(1e-13 * maxAbs(a) * shape[shape.length - 1]!);
      expect(orthonormalColumnsError(u)).toBeLessThan(1e-13);
      expect(orthonormalColumnsError(np.swapaxes(vh, -1, -2))).toBeLessThan(1e-13);
      const sv = Array.from(s.toTypedArray());
      const k = s.shape[s.ndim - 1]!;
      for (let i = 0; i < sv.length; i++) if (i % k !== 0) expect(sv[i]!).toBeLessThanOrEqual(sv[i - 1]!);
      expect(maxAbs(np.linalg.svdvals(a).sub(s))).toBe(0);
      // jit (a plan memory of its own) gives eager's bits.
      const [uj] = jit((x: NdArray) => np.linalg.svd(x, { fullMatrices: full }))(a);
      expect(maxAbs(uj.sub(u))).toBe(0);
    }
  });

  it("large matrices: rank-deficient, float32, and a NaN in one of a batch (the blocked kernels)", () => {
    // Rank 10 (a 120 x 10 times 10 x 100 product): 90 singular values at rounding level, orthonormal factors.
    const low = np.matmul(rand([120, 10], 31), rand([10, 100], 32));
    const [u, s, vh] = np.linalg.svd(low, { fullMatrices: true });
    const sv = Array.from(s.toTypedArray());
    expect(sv[9]!).toBeGreaterThan(1e-3 * sv[0]!);
    for (const x of sv.slice(10)) expect(x).toBeLessThan(1e-13 * sv[0]!);
    expect(np.linalg.matrixRank(low).item()).toBe(10);
    expect(maxAbs(reconstruct(u, s, vh).sub(low))).toBeLessThan(1e-12 * maxAbs(low));
    expect(orthonormalColumnsError(u)).toBeLessThan(1e-13);
    expect(orthonormalColumnsError(np.swapaxes(vh, -1, -2))).toBeLessThan(1e-13);
    // float32 in, float64 inside: the float32 rounding of the float64 SVD of the same numbers.
    const a32 = rand([90, 110], 33).astype("float32");
    const s32 = np.linalg.svdvals(a32);
    expect(s32.dtype).toBe("float32");
    expect(Array.from(s32.toTypedArray())).toEqual(
      Array.from(np.linalg.svdvals(a32.astype("float64")).astype("float32").toTypedArray()),
    );
    // A NaN in the second of three 80 x 80 matrices: NaN in all of its outputs, none in the others'.
    const stack = rand([3, 80, 80], 34).toTypedArray() as Float64Array;
    stack[80 * 80 + 17] = Number.NaN;
    const [bu, bs, bvh] = np.linalg.svd(np.array(stack, { shape: [3, 80, 80] }));
    for (const x of [bu, bs, bvh]) {
      expect(np.all(np.isnan(np.take(x, 1, { axis: 0 }))).item()).toBe(1);
      expect(np.any(np.isnan(np.take(x, 0, { axis: 0 }))).item()).toBe(0);
      expect(np.any(np.isnan(np.take(x, 2, { axis: 0 }))).item()).toBe(0);
    }
  });

  it("huge and tiny entries: no overflow or underflow in the squared norms", () => {
    const a = rand([4, 3], 9);
    for (const scale of [1e300, 1e-300]) {
      const s = np.linalg.svdvals(a.mul(scale));
      expect(maxAbs(s.div(scale).sub(np.linalg.svdvals(a)))).toBeLessThan(1e-13);
    }
  });

  it("NaN or infinity in a matrix gives NaN in its outputs only (numpy raises, JAX gives NaN)", () => {
    const a = np.stack([
      rand([3, 3], 1),
      f64([
        [1, 2, 3],
        [4, Number.NaN, 6],
        [7, 8, 9],
      ]),
      rand([3, 3], 2),
    ]);
    const [u, s, vh] = np.linalg.svd(a);
    for (const x of [u, s, vh]) {
      expect(np.all(np.isnan(np.take(x, 1, { axis: 0 }))).item()).toBe(1);
      expect(np.any(np.isnan(np.take(x, 0, { axis: 0 }))).item()).toBe(0);
    }
    expect(np.all(np.isnan(np.linalg.svdvals(f64([[Number.POSITIVE_INFINITY, 1]])))).item()).toBe(1);
  });

  it("computeUv false returns the singular values alone", () => {
    const a = rand([2, 4, 3], 4);
    const s = np.linalg.svd(a, { computeUv: false });
    expect(s.shape).toEqual([2, 3]);
    expect(maxAbs(s.sub(np.linalg.svd(a)[1]))).toBeLessThan(1e-14);
  });

  it("float32 computes in float64 and rounds once; integers compute in float32", () => {
    const a = rand([6, 4], 5);
    const [u, s, vh] = np.linalg.svd(a.astype("float32"));
    expect([u.dtype, s.dtype, vh.dtype]).toEqual(["float32", "float32", "float32"]);
    const s64 = np.linalg.svdvals(a.astype("float32").astype("float64"));
    expect(Array.from(s.toTypedArray())).toEqual(Array.from(s64.astype("float32").toTypedArray()));
    expect(
      np.linalg.svdvals(
        np.array(
          [
            [3, 0],
            [0, 4],
          ],
          { dtype: "int32" },
        ),
      ).dtype,
    ).toBe("float32");
  });

  it("empty matrices: the shapes numpy gives, and a full identity basis", () => {
    const [u, s, vh] = np.linalg.svd(np.zeros([2, 0, 3], { dtype: "float64" }));
    expect([u.shape, s.shape, vh.shape]).toEqual([
      [2, 0, 0],
      [2, 0],
      [2, 3, 3],
    ]);
    expect(orthonormalColumnsError(np.swapaxes(vh, -1, -2))).toBe(0);
    const [u2, s2, vh2] = np.linalg.svd(np.zeros([4, 0], { dtype: "float64" }), { fullMatrices: false });
    expect([u2.shape, s2.shape, vh2.shape]).toEqual([[4, 0], [0], [0, 0]]);
  });

  it("lax.linalg.svd: the same decomposition, no integer conversion", () => {
    const a = rand([3, 5], 6);
    const [u, s, vh] = lax.linalg.svd(a, { fullMatrices: false });
    const [u2, s2, vh2] = np.linalg.svd(a, { fullMatrices: false });
    expect([maxAbs(u.sub(u2)), maxAbs(s.sub(s2)), maxAbs(vh.sub(vh2))]).toEqual([0, 0, 0]);
    expect(lax.linalg.svd(a, { computeUv: false }).shape).toEqual([3]);
    expectError(() => lax.linalg.svd(np.array([[1, 2]], { dtype: "int32" })), DTypeError, "svd", "int32");
  });
});

describe("np.linalg.svd errors", () => {
  it("names the function, the shape and what was expected", () => {
    expectError(() => np.linalg.svd(f64([1, 2, 3])), ShapeError, "svd", "[3]", "[..., m, n]");
    expectError(() => np.linalg.svdvals(f64(2)), ShapeError, "svdvals", "[]");
    expectError(
      () => np.linalg.svd(rand([2, 2], 1), { fullMatrice: true } as never),
      Error,
      "svd",
      "fullMatrice",
    );
    expectError(
      () => np.linalg.svd(rand([2, 2], 1), { computeUv: 1 } as never),
      TypeError,
      "svd",
      "computeUv",
    );
  });

  it("the derivative of full U/Vh of a non-square matrix is refused (as JAX), not wrong", () => {
    const a = rand([3, 2], 1);
    expectError(
      () => jvp((x: NdArray) => np.linalg.svd(x)[0], [a], [a]),
      ShapeError,
      "svd",
      "fullMatrices",
      "[3,2]",
    );
    // Square: full and reduced are the same, so it is differentiable.
    const sq = rand([3, 3], 2).add(eyeLike(3).mul(f64([5, 10, 15])));
    testing.checkGrads((x: NdArray) => np.linalg.svd(x), [sq]);
  });
});

describe("svd under jit, vmap and differentiation", () => {
  it("jit gives eager's bits", () => {
    const a = rand([2, 5, 3], 8);
    const f = (x: NdArray) => np.linalg.svd(x, { fullMatrices: true });
    const [u, s, vh] = f(a);
    const [uj, sj, vhj] = jit(f)(a);
    expect([maxAbs(u.sub(uj)), maxAbs(s.sub(sj)), maxAbs(vh.sub(vhj))]).toEqual([0, 0, 0]);
    expect(maxAbs(jit(np.linalg.svdvals)(a).sub(s))).toBe(0);
  });

  it("vmap over any axis equals the stacked decompositions", () => {
    const a = rand([3, 4, 2], 9);
    const [u, s, vh] = vmap((x: NdArray) => np.linalg.svd(x, { fullMatrices: false }), { inAxes: [2] })(a);
    const [ue, se, vhe] = np.linalg.svd(np.moveaxis(a, 2, 0), { fullMatrices: false });
    expect([maxAbs(u.sub(ue)), maxAbs(s.sub(se)), maxAbs(vh.sub(vhe))]).toEqual([0, 0, 0]);
  });

  it("jvp/vjp of U, s and Vh against finite differences, first and second order, tall/square/wide", () => {
    for (const [m, n] of [
      [4, 2],
      [3, 3],
      [2, 5],
      [1, 1],
    ] as const) {
      const a = rand([m, n], 10 * m + n);
      testing.checkGrads((x: NdArray) => np.linalg.svd(x, { fullMatrices: false }), [a], { order: 2 });
      testing.checkGrads(np.linalg.svdvals, [a], { order: 2 });
    }
  });

  it("the gradient of the largest singular value is u1 v1ᵀ (the spectral norm's)", () => {
    const a = rand([4, 3], 11);
    const [u, , vh] = np.linalg.svd(a, { fullMatrices: false });
    const g = grad((x: NdArray) => np.linalg.svdvals(x).index(0))(a);
    const expected = np.outer(u.index(":", 0), vh.index(0));
    expect(maxAbs(g.sub(expected))).toBeLessThan(1e-14);
  });

  it("repeated singular values: U's tangent is not finite (as JAX), s's still is", () => {
    const a = eyeLike(3);
    const t = rand([3, 3], 12);
    const [, dsVals] = jvp(np.linalg.svdvals, [a], [t]);
    expect(np.all(np.isfinite(dsVals)).item()).toBe(1);
    const [, du] = jvp((x: NdArray) => np.linalg.svd(x)[0], [a], [t]);
    expect(np.all(np.isfinite(du)).item()).toBe(0);
  });
});

describe("golden: torch.linalg in float64 (test/golden/gen_linalg_svd.py), values and vjp", () => {
  /** Full U (Vh): the first k columns (rows) as stored, the rest through their projector, which is unique. */
  function compareFactor(name: string, got: NdArray, ref: GoldenArray, k: number, label: string): void {
    const r = toArray(ref);
    const columns = name === "u";
    const extra = columns ? r.shape[r.ndim - 1]! - k : r.shape[r.ndim - 2]! - k;
    const part = (x: NdArray, range: string) =>
      columns ? x.index("...", range) : x.index("...", range, ":");
    expectClose(part(got, `:${k}`), part(r, `:${k}`), FLOAT64_TOLERANCE, `${label} ${name}[:k]`);
    if (extra === 0) return;
    const projector = (x: NdArray) => {
      const q = part(x, `${k}:`);
      return columns ? np.matmul(q, np.swapaxes(q, -1, -2)) : np.matmul(np.swapaxes(q, -1, -2), q);
    };
    expectClose(projector(got), projector(r), FLOAT64_TOLERANCE, `${label} ${name}[k:] projector`);
  }

  const ops = ["svd", "svdvals", "pinv", "lstsq", "matrix_rank"];
  for (const c of loadLinalgSvdCases(ops)) {
    it(`${c.name}: ${c.torch}`, () => {
      switch (c.op) {
        case "svd": {
          const full = c.attrs["full_matrices"] as boolean;
          const [m, n] = c.inputs["a"]!.shape.slice(-2) as [number, number];
          checkLinalgCase(
            c,
            (a) => {
              const [u, s, vh] = np.linalg.svd(a, { fullMatrices: full });
              return { u, s, vh };
            },
            (name, got, ref) =>
              name === "s"
                ? expectClose(got, ref, FLOAT64_TOLERANCE, `${c.name} s`)
                : compareFactor(name, got, ref, Math.min(m, n), c.name),
          );
          break;
        }
        case "svdvals":
          checkLinalgCase(c, (a) => ({ out: np.linalg.svdvals(a) }));
          break;
        case "pinv":
          checkLinalgCase(c, (a) => ({ out: np.linalg.pinv(a, { rcond: c.attrs["rcond"] as number }) }));
          break;
        case "lstsq":
          checkLinalgCase(c, (a, b) => {
            const [x, residuals, rank, s] = np.linalg.lstsq(a, b);
            return { x, residuals, rank, s };
          });
          break;
        case "matrix_rank": {
          const tol = c.attrs["tol"] as number | null;
          checkLinalgCase(c, (a) => ({ out: np.linalg.matrixRank(a, tol === null ? {} : { tol }) }));
          break;
        }
        default:
          throw new Error(`unexpected op ${c.op}`);
      }
    });
  }
});
