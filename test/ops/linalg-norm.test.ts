/**
 * np.linalg.norm and np.linalg.cond (issue 20): every vector and matrix order, axes and keepdims, numpy's
 * errors, the gradient conventions (2-norm at 0, ord 0), jit and vmap, and agreement with torch.linalg in
 * float64, values and vjp (test/golden/data/linalg_svd.json, made by test/golden/gen_linalg_svd.py).
 */
import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, np, ShapeError, vmap } from "../../src/index.js";
import { checkLinalgCase, goldenOrd, loadLinalgSvdCases } from "../helpers/linalg-golden.js";
import { expectError, rand } from "../helpers/op-checks.js";

const f64 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "float64" });
const INF = Number.POSITIVE_INFINITY;

describe("np.linalg.norm: numpy's orders on small exact cases", () => {
  const v = f64([3, -4, 0, 12]);
  const m = f64([
    [1, -2, 3],
    [-4, 5, -6],
  ]);
  it("vectors: 2 (default), 1, ±inf, 0, p, negative p", () => {
    expect(np.linalg.norm(v).item()).toBe(13);
    expect(np.linalg.norm(v, 2).item()).toBe(13);
    expect(np.linalg.norm(v, 1).item()).toBe(19);
    expect(np.linalg.norm(v, INF).item()).toBe(12);
    expect(np.linalg.norm(v, -INF).item()).toBe(0);
    expect(np.linalg.norm(v, 0).item()).toBe(3);
    expect(np.linalg.norm(f64([1, 2, 2]), 3).item()).toBeCloseTo(17 ** (1 / 3), 15);
    // A negative order: sum(|x|^-1)^-1, infinite terms (x = 0) make it 0, as numpy.
    expect(np.linalg.norm(f64([2, 2]), -1).item()).toBe(1);
    expect(np.linalg.norm(v, -1).item()).toBe(0);
  });

  it("matrices: fro (default), 1 (max column sum), inf (max row sum), -1, -inf, 2, -2, nuc", () => {
    expect(np.linalg.norm(m).item()).toBeCloseTo(Math.sqrt(91), 14);
    expect(np.linalg.norm(m, "fro").item()).toBeCloseTo(Math.sqrt(91), 14);
    expect(np.linalg.norm(m, 1).item()).toBe(9);
    expect(np.linalg.norm(m, -1).item()).toBe(5);
    expect(np.linalg.norm(m, INF).item()).toBe(15);
    expect(np.linalg.norm(m, -INF).item()).toBe(6);
    const s = np.linalg.svdvals(m).toArray() as number[];
    expect(np.linalg.norm(m, 2).item()).toBe(s[0]);
    expect(np.linalg.norm(m, -2).item()).toBe(s[1]);
    expect(np.linalg.norm(m, "nuc").item()).toBeCloseTo(s[0]! + s[1]!, 14);
  });

  it("ord null flattens any rank; axis int is a vector norm, a pair a matrix norm; keepdims", () => {
    const x = rand([2, 3, 4], 1);
    expect(np.linalg.norm(x).item()).toBeCloseTo(Math.sqrt(np.sum(x.mul(x)).item()), 14);
    expect(np.linalg.norm(x, null, { keepdims: true }).shape).toEqual([1, 1, 1]);
    expect(np.linalg.norm(x, 1, { axis: 1 }).shape).toEqual([2, 4]);
    expect(np.linalg.norm(x, 1, { axis: -2, keepdims: true }).shape).toEqual([2, 1, 4]);
    expect(np.linalg.norm(x, "nuc", { axis: [2, 0] }).shape).toEqual([3]);
    expect(np.linalg.norm(x, INF, { axis: [0, 2], keepdims: true }).shape).toEqual([1, 3, 1]);
    // Axes (2, 0): the matrices are x[:, j, :] transposed, so 1 and inf swap.
    const swapped = np.linalg.norm(x, 1, { axis: [2, 0] });
    const direct = np.linalg.norm(x, INF, { axis: [0, 2] });
    expect(swapped.toArray()).toEqual(direct.toArray());
  });

  it("integer input computes in float32", () => {
    expect(np.linalg.norm(np.array([3, 4], { dtype: "int32" })).dtype).toBe("float32");
    expect(np.linalg.norm(np.array([3, 4], { dtype: "int32" })).item()).toBe(5);
  });
});

describe("np.linalg.norm errors (numpy's ValueErrors)", () => {
  it("names the function and what was expected", () => {
    expectError(() => np.linalg.norm(rand([2, 2, 2], 1), 2), ShapeError, "norm", "[2,2,2]", "1-D or 2-D");
    expectError(() => np.linalg.norm(rand([3], 1), "fro"), RangeError, "norm", '"fro"', "vectors");
    expectError(() => np.linalg.norm(rand([3, 3], 1), 3), RangeError, "norm", "3", "matrices");
    expectError(() => np.linalg.norm(rand([3, 3], 1), 0), RangeError, "norm", "0", "matrices");
    expectError(() => np.linalg.norm(rand([3, 3], 1), null, { axis: [1, -1] }), ShapeError, "duplicate axes");
    expectError(() => np.linalg.norm(rand([3, 3], 1), null, { axis: 2 }), ShapeError, "axis 2", "[3,3]");
    expectError(() => np.linalg.norm(rand([3], 1), "max" as never), RangeError, "norm", "ord");
    expectError(() => np.linalg.norm(rand([3], 1), null, { axes: 0 } as never), Error, "norm", "axes");
  });
});

describe("np.linalg.norm derivatives", () => {
  it("the 2-norm's gradient is x / |x|, and NaN at 0 (as JAX; torch gives 0)", () => {
    const x = f64([3, -4]);
    const g = grad((y: NdArray) => np.linalg.norm(y))(x).toArray() as number[];
    expect(g[0]).toBeCloseTo(0.6, 15);
    expect(g[1]).toBeCloseTo(-0.8, 15);
    const g0 = grad((y: NdArray) => np.linalg.norm(y))(f64([0, 0]));
    expect(np.all(np.isnan(g0)).item()).toBe(1);
  });

  it("ord 0 counts nonzeros: zero gradient", () => {
    const g = grad((y: NdArray) => np.linalg.norm(y, 0))(f64([1, 0, -2]));
    expect(g.toArray()).toEqual([0, 0, 0]);
  });
});

describe("np.linalg.norm and cond under jit and vmap", () => {
  it("jit gives eager's values; vmap stacks", () => {
    const x = rand([3, 4, 5], 2);
    for (const ord of [null, 1, 2, -2, INF, "nuc", "fro"] as const) {
      const f = (y: NdArray) => np.linalg.norm(y, ord, { axis: [1, 2] });
      expect(jit(f)(x).toArray()).toEqual(f(x).toArray());
      const stacked = np.stack([0, 1, 2].map((i) => np.linalg.norm(x.index(i), ord)));
      expect(vmap((y: NdArray) => np.linalg.norm(y, ord))(x).toArray()).toEqual(stacked.toArray());
    }
    const c = (y: NdArray) => np.linalg.cond(y);
    const sq = rand([2, 3, 3], 3);
    expect(jit(c)(sq).toArray()).toEqual(c(sq).toArray());
  });
});

describe("np.linalg.cond: numpy's special cases", () => {
  it("a singular matrix has condition number inf, a NaN matrix NaN", () => {
    // An exactly zero singular value (numpy: inf). [[1, 2], [2, 4]] is not one: its smallest singular
    // value is a rounding error (numpy gives cond 4.8e16), as it is here.
    const singular = f64([
      [1, 2],
      [0, 0],
    ]);
    expect(np.linalg.cond(singular).item()).toBe(INF);
    expect(np.linalg.cond(np.zeros([2, 2], { dtype: "float64" })).item()).toBe(INF);
    expect(
      Number.isNaN(
        np.linalg
          .cond(
            f64([
              [1, Number.NaN],
              [0, 1],
            ]),
          )
          .item(),
      ),
    ).toBe(true);
  });

  it("-2 is the reciprocal of 2, non-square matrices only for None/2/-2", () => {
    const a = rand([4, 3], 5);
    expect(np.linalg.cond(a, -2).item()).toBeCloseTo(1 / np.linalg.cond(a, 2).item(), 14);
    expectError(() => np.linalg.cond(a, 1), ShapeError, "cond", "[4,3]", "square");
    expectError(() => np.linalg.cond(np.zeros([0, 0], { dtype: "float64" })), ShapeError, "cond", "empty");
    expectError(() => np.linalg.cond(rand([3], 1)), ShapeError, "cond", "[3]");
  });
});

describe("golden: torch.linalg.norm and cond in float64, values and vjp", () => {
  for (const c of loadLinalgSvdCases(["norm", "cond"])) {
    it(`${c.name}: ${c.torch}`, () => {
      if (c.op === "norm") {
        const dim = c.attrs["dim"] as number | [number, number] | null;
        const keepdims = c.attrs["keepdim"] as boolean;
        checkLinalgCase(c, (x) => ({
          out: np.linalg.norm(x, goldenOrd(c.attrs["ord"]), { axis: dim, keepdims }),
        }));
      } else {
        checkLinalgCase(c, (a) => ({ out: np.linalg.cond(a, goldenOrd(c.attrs["p"])) }));
      }
    });
  }
});
