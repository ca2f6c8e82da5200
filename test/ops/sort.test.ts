/**
 * Sorting (issue 18): the kernel's order on every dtype and both paths (insertion for short lanes, radix
 * for long ones) against a comparison sort, the semantics numpy and torch leave open (descending ties,
 * topK ties, kthValue's index), errors that name the function and shapes, jit and vmap, gradients.
 * Agreement with numpy on random cases is test/ops/numpy-differential.test.ts.
 */
import { describe, expect, it } from "vitest";
import { stableOrderOfUint32 } from "../../src/backend/js/sort.js";
import type { DType } from "../../src/core/dtype.js";
import { grad, jit, makeProgram, type NdArray, np, random, ShapeError, vmap } from "../../src/index.js";
import { checkGradients, expectError, rand } from "../helpers/op-checks.js";

const f64 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "float64" });
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());

/** numpy's order as a comparator: NaN last, -0 equal to +0. */
const numpyLess = (a: number, b: number): boolean => a < b || (Number.isNaN(b) && !Number.isNaN(a));

/** The stable argsort by a plain comparison sort (Array.prototype.sort is stable). */
function referenceArgsort(data: readonly number[], descending: boolean): number[] {
  const idx = data.map((_, i) => i);
  return idx.sort((i, j) => {
    const [a, b] = [data[i]!, data[j]!];
    const before = descending ? numpyLess(b, a) : numpyLess(a, b);
    const after = descending ? numpyLess(a, b) : numpyLess(b, a);
    return before ? -1 : after ? 1 : 0;
  });
}

/** Values with many ties, both zeros, NaN and infinities, in the dtype's range. */
function awkward(n: number, dtype: DType, seed: number): number[] {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const special = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-310, -1e30];
  return Array.from({ length: n }, () => {
    const u = next();
    if (dtype === "bool") return u < 0.5 ? 0 : 1;
    if (dtype === "int32")
      return u < 0.1 ? [-2147483648, 2147483647, 0][Math.floor(u * 30)]! : Math.floor((u - 0.5) * 40);
    if (u < 0.15) return special[Math.floor(u * 46.7)]!;
    return u < 0.5 ? Math.round((u - 0.3) * 20) / 4 : (u - 0.7) * 1e6;
  });
}

describe("sort and argsort: numpy's order on every dtype and both kernel paths", () => {
  for (const dtype of ["float32", "float64", "int32", "bool"] as const) {
    for (const n of [0, 1, 7, 48, 49, 3000]) {
      it(`${dtype}, lanes of ${n}, ascending and descending`, () => {
        const data = awkward(n, dtype, 17 + n);
        const x = np.array(data, { dtype, shape: [n] });
        const stored = values(x);
        for (const descending of [false, true]) {
          const expected = referenceArgsort(stored, descending);
          expect(values(np.argsort(x, { descending }))).toEqual(expected);
          const sorted = values(np.sort(x, { descending }));
          // Object.is: the zeros keep their signs in their stable positions, NaN equals NaN.
          const bad = expected.filter((from, j) => !Object.is(sorted[j], stored[from]));
          expect(bad).toEqual([]);
        }
      });
    }
  }

  it("sorts along any axis and flattens with axis null", () => {
    const x = f64([
      [3, 1, 2],
      [0, 5, -1],
    ]);
    expect(np.sort(x, { axis: 0 }).toArray()).toEqual([
      [0, 1, -1],
      [3, 5, 2],
    ]);
    expect(np.argsort(x, { axis: -1 }).toArray()).toEqual([
      [1, 2, 0],
      [2, 0, 1],
    ]);
    expect(np.sort(x, { axis: null }).toArray()).toEqual([-1, 0, 1, 2, 3, 5]);
    expect(x.sort({ descending: true }).toArray()).toEqual([
      [3, 2, 1],
      [5, 0, -1],
    ]);
    expect(x.argsort({ axis: 0 }).toArray()).toEqual([
      [1, 0, 1],
      [0, 1, 0],
    ]);
  });

  it("descending keeps ties in their original order and puts NaN first (torch's stable descending sort)", () => {
    const x = f64([1, Number.NaN, 2, 2, Number.NaN, -0, 0]);
    expect(values(np.argsort(x, { descending: true }))).toEqual([1, 4, 2, 3, 0, 5, 6]);
  });

  it("keeps the random module's permutations (sort_by_key sorts with the same kernel)", () => {
    const keys = new Int32Array([-1, 5, 5, 0, -2147483648, 2147483647, 5]);
    // Unsigned order: 0, 5, 5, 5, 2147483647, 2147483648, 4294967295.
    expect(Array.from(stableOrderOfUint32(keys, 0, keys.length))).toEqual([3, 1, 2, 6, 5, 4, 0]);
    const p = random.permutation(random.key(0), 100);
    expect([...values(p)].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("names the function, the shape and what was expected on a bad axis", () => {
    expectError(
      () => np.sort(np.zeros([2, 3]), { axis: 2 }),
      ShapeError,
      "sort",
      "axis 2",
      "[2,3]",
      "[-2, 2)",
    );
    expectError(() => np.argsort(np.scalar(1)), ShapeError, "argsort", "[]");
    expectError(() => np.sort(np.zeros([2]), { kind: "heap" } as never), TypeError, "sort", "kind");
  });
});

describe("topK", () => {
  it("gives the k largest, largest first, ties by lower index, NaN largest", () => {
    const x = f64([1, Number.NaN, 2, 2, Number.NaN, -0, 0, 2]);
    const [v, i] = np.topK(x, 5);
    expect(values(i)).toEqual([1, 4, 2, 3, 7]);
    expect(values(v).slice(2)).toEqual([2, 2, 2]);
    const [, zeros] = np.topK(f64([-0, 0, -0]), 2);
    expect(values(zeros)).toEqual([0, 1]);
  });

  it("agrees with a stable descending argsort on both kernel paths, per row", () => {
    for (const [n, k] of [
      [1000, 10],
      [1000, 300],
      [5, 5],
      [9, 0],
    ] as const) {
      const x = np.array(awkward(2 * n, "float32", n + k), { dtype: "float32", shape: [2, n] });
      const [v, i] = np.topK(x, k);
      const expected = np.slice(np.argsort(x, { descending: true }), [{}, { stop: k }]);
      expect(values(i)).toEqual(values(expected));
      expect(values(v)).toEqual(values(np.takeAlongAxis(x, expected, { axis: 1 })));
    }
  });

  it("works on int32 and bool", () => {
    expect(values(np.topK(np.array([3, 3, 3, 1, 3], { dtype: "int32" }), 2)[1])).toEqual([0, 1]);
    expect(values(np.topK(np.array([false, true, true]), 1)[1])).toEqual([1]);
  });

  it("rejects k outside [0, n] with the shape", () => {
    expectError(() => np.topK(np.zeros([2, 3]), 4), ShapeError, "topK", "k = 4", "[2,3]", "0 <= k <= 3");
    expectError(() => np.topK(np.scalar(1), 1), ShapeError, "topK", "rank >= 1");
  });
});

describe("kthValue", () => {
  it("is the k-th smallest with the index of the stable sort", () => {
    const [v, i] = np.kthValue(f64([2, 1, 2, 2, 1]), 3);
    expect(v.item()).toBe(2);
    expect(i.item()).toBe(0);
    const [v2, i2] = np.kthValue(
      f64([
        [4, 1],
        [0, 3],
      ]),
      1,
      { axis: 0, keepdims: true },
    );
    expect(v2.toArray()).toEqual([[0, 1]]);
    expect(i2.toArray()).toEqual([[1, 0]]);
  });

  it("rejects k outside [1, n]", () => {
    expectError(
      () => np.kthValue(np.zeros([2, 3]), 0),
      ShapeError,
      "kthValue",
      "k = 0",
      "[2,3]",
      "1 <= k <= 3",
    );
    expectError(() => np.kthValue(np.zeros([2, 3]), 1, { axis: 5 }), ShapeError, "kthValue", "axis 5");
  });
});

describe("median, quantile, percentile", () => {
  it("take numpy's methods by name and reject others", () => {
    const x = f64([1, 2, 3, 4]);
    expect(np.quantile(x, 0.5).item()).toBe(2.5);
    expect(np.quantile(x, 0.5, { method: "lower" }).item()).toBe(2);
    expect(np.quantile(x, 0.5, { method: "higher" }).item()).toBe(3);
    expect(np.percentile(x, [50, 100], { method: "nearest" }).toArray()).toEqual([3, 4]);
    expectError(
      () => np.quantile(x, 0.5, { method: "interpolate" as never }),
      RangeError,
      "quantile",
      "method",
      "linear",
    );
    expectError(() => np.quantile(x, 1.5), RangeError, "quantile", "[0, 1]", "1.5");
    expectError(() => np.percentile(x, [50, -1]), RangeError, "percentile", "[0, 100]");
    expectError(
      () => np.quantile(np.zeros([2, 0]), 0.5, { axis: 1 }),
      ShapeError,
      "quantile",
      "empty",
      "[2,0]",
    );
  });

  it("median of an empty lane is NaN, of a lane with NaN is NaN", () => {
    expect(values(np.median(np.zeros([0, 2]), { axis: 0 }))).toEqual([Number.NaN, Number.NaN]);
    expect(
      values(
        np.median(
          f64([
            [1, Number.NaN, 2],
            [3, 1, 2],
          ]),
          { axis: 1 },
        ),
      ),
    ).toEqual([Number.NaN, 2]);
  });

  it("q's axis comes first, keepdims keeps the reduced axes", () => {
    const x = rand([2, 3, 4], 3);
    expect(np.quantile(x, [0.1, 0.5], { axis: [0, 2], keepdims: true }).shape).toEqual([2, 1, 3, 1]);
    expect(np.median(x, { axis: 1 }).shape).toEqual([2, 4]);
    expect(np.median(np.array([1, 2], { dtype: "int32" })).dtype).toBe("float32");
  });

  it("differentiate through the selected elements", () => {
    const x = f64([3, 1, 2, 5]);
    // 0.3 quantile of [1, 2, 3, 5]: index 0.9 between 1 (x[1]) and 2 (x[2]).
    expect(
      values(grad((a: NdArray) => np.quantile(a, 0.3))(x)).map((v) => Math.round(v * 1e12) / 1e12),
    ).toEqual([0, 0.1, 0.9, 0]);
    checkGradients((a) => np.median(a, { axis: 1 }), [rand([3, 4], 5)]);
    checkGradients((a) => np.quantile(a, [0.2, 0.9], { axis: 0, method: "midpoint" }), [rand([5, 2], 6)]);
  });
});

describe("searchsorted", () => {
  it("finds left and right insertion points, NaN after every number", () => {
    const a = f64([1, 2, 2, 3, Number.NaN]);
    const v = f64([2, Number.NaN, 0, 4, -0]);
    expect(values(np.searchsorted(a, v))).toEqual([1, 4, 0, 4, 0]);
    expect(values(np.searchsorted(a, v, { side: "right" }))).toEqual([3, 5, 0, 4, 0]);
    expect(np.searchsorted(a, 2.5).item()).toBe(3);
  });

  it("compares int32 with float32 exactly", () => {
    const big = 16777217; // 2**24 + 1 is not a float32
    const a = np.array([16777216, big], { dtype: "int32" });
    expect(
      np.searchsorted(a, np.array([16777216], { dtype: "float32" }), { side: "right" }).toArray(),
    ).toEqual([1]);
  });

  it("rejects a sorted array that is not 1-D, and bad sides", () => {
    expectError(() => np.searchsorted(np.zeros([2, 2]), 1), ShapeError, "searchsorted", "1-D", "[2,2]");
    expectError(() => np.searchsorted(np.zeros([2]), 1, { side: "middle" as never }), RangeError, "side");
  });
});

describe("jit and vmap", () => {
  it("jit runs the lowered kernels and equals eager", () => {
    const f = (x: NdArray, s: NdArray) => {
      const [v, i] = np.topK(x, 3);
      return [
        np.sort(x, { axis: 0 }),
        np.argsort(x, { descending: true }),
        v,
        i,
        np.searchsorted(s, x.reshape([x.size])),
      ];
    };
    const x = np.array(awkward(60, "float32", 9), { dtype: "float32", shape: [6, 10] });
    const s = np.sort(np.array(awkward(50, "float32", 10), { dtype: "float32" }));
    const eager = f(x, s);
    const jitted = jit(f)(x, s);
    jitted.forEach((y, k) => expect(values(y)).toEqual(values(eager[k]!)));
    const names = makeProgram(f)(x, s).program.equations.map((e) => e.primitive.name);
    expect(names).toEqual(expect.arrayContaining(["sort", "top_k", "searchsorted"]));
  });

  it("vmap over any axis equals a loop", () => {
    const x = rand([3, 4, 5], 11);
    const perExample = (a: NdArray) => np.topK(np.sort(a, { axis: 0 }), 2)[1];
    const batched = vmap(perExample, { inAxes: [1] })(x);
    const looped = np.stack([0, 1, 2, 3].map((i) => perExample(np.take(x, i, { axis: 1 }))));
    expect(batched.toArray()).toEqual(looped.toArray());
    const a = np.sort(rand([2, 6], 12), { axis: 1 });
    const v = rand([2, 3], 13);
    const found = vmap((s: NdArray, w: NdArray) => np.searchsorted(s, w))(a, v);
    expect(found.toArray()).toEqual(
      [0, 1].map((i) => np.searchsorted(np.take(a, i, { axis: 0 }), np.take(v, i, { axis: 0 })).toArray()),
    );
  });

  it("gradients of sort and topK route cotangents through the permutation", () => {
    checkGradients((a) => np.sort(a, { axis: 0, descending: true }), [rand([4, 3], 21)]);
    checkGradients((a) => np.topK(a, 2)[0], [rand([3, 5], 22)]);
    const g = grad((a: NdArray) => np.topK(a, 1)[0].sum())(f64([1, 5, 3]));
    expect(values(g)).toEqual([0, 1, 0]);
  });
});
