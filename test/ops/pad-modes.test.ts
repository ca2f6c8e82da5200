import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, np, ShapeError, testing, vmap } from "../../src/index.js";

// Expected values from numpy 1.24: np.pad(np.arange(1, 7.).reshape(2, 3), width, mode=mode).
const x = np.arange(1, 7, 1, { dtype: "float64" }).reshape([2, 3]);
type Mode = "edge" | "reflect" | "symmetric" | "wrap";
// biome-ignore format: one numpy reference per line
const NUMPY: [Mode, [[number, number], [number, number]], number[], number[]][] = [
  ["edge", [[1, 2], [2, 1]], [5, 6], [1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6, 4, 4, 4, 5, 6, 6, 4, 4, 4, 5, 6, 6]],
  ["edge", [[3, 0], [0, 5]], [5, 8], [1, 2, 3, 3, 3, 3, 3, 3, 1, 2, 3, 3, 3, 3, 3, 3, 1, 2, 3, 3, 3, 3, 3, 3, 1, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 6, 6, 6, 6, 6]],
  ["edge", [[0, 0], [4, 3]], [2, 10], [1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 6, 6, 6, 6]],
  ["reflect", [[1, 2], [2, 1]], [5, 6], [6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5]],
  ["reflect", [[3, 0], [0, 5]], [5, 8], [4, 5, 6, 5, 4, 5, 6, 5, 1, 2, 3, 2, 1, 2, 3, 2, 4, 5, 6, 5, 4, 5, 6, 5, 1, 2, 3, 2, 1, 2, 3, 2, 4, 5, 6, 5, 4, 5, 6, 5]],
  ["reflect", [[0, 0], [4, 3]], [2, 10], [1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 4, 5, 6, 5, 4, 5, 6, 5, 4, 5]],
  ["symmetric", [[1, 2], [2, 1]], [5, 6], [2, 1, 1, 2, 3, 3, 2, 1, 1, 2, 3, 3, 5, 4, 4, 5, 6, 6, 5, 4, 4, 5, 6, 6, 2, 1, 1, 2, 3, 3]],
  ["symmetric", [[3, 0], [0, 5]], [5, 8], [4, 5, 6, 6, 5, 4, 4, 5, 4, 5, 6, 6, 5, 4, 4, 5, 1, 2, 3, 3, 2, 1, 1, 2, 1, 2, 3, 3, 2, 1, 1, 2, 4, 5, 6, 6, 5, 4, 4, 5]],
  ["symmetric", [[0, 0], [4, 3]], [2, 10], [3, 3, 2, 1, 1, 2, 3, 3, 2, 1, 6, 6, 5, 4, 4, 5, 6, 6, 5, 4]],
  ["wrap", [[1, 2], [2, 1]], [5, 6], [5, 6, 4, 5, 6, 4, 2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4, 2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4]],
  ["wrap", [[3, 0], [0, 5]], [5, 8], [4, 5, 6, 4, 5, 6, 4, 5, 1, 2, 3, 1, 2, 3, 1, 2, 4, 5, 6, 4, 5, 6, 4, 5, 1, 2, 3, 1, 2, 3, 1, 2, 4, 5, 6, 4, 5, 6, 4, 5]],
  ["wrap", [[0, 0], [4, 3]], [2, 10], [3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 6, 4, 5, 6, 4, 5, 6, 4, 5, 6]],
];

describe("np.pad modes", () => {
  it.each(NUMPY)("%s with widths %j gives numpy's values", (mode, width, shape, values) => {
    const y = np.pad(x, width, { mode });
    expect(y.shape).toEqual(shape);
    expect(Array.from(y.toTypedArray())).toEqual(values);
  });

  it("mirrors repeatedly for pads wider than the axis, as numpy", () => {
    const y = np.array([1, 2, 3]);
    // np.pad([1., 2., 3.], (7, 8), mode=...)
    expect(Array.from(np.pad(y, [7, 8], { mode: "reflect" }).toTypedArray())).toEqual([
      2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3,
    ]);
    expect(Array.from(np.pad(y, [7, 8], { mode: "symmetric" }).toTypedArray())).toEqual([
      1, 1, 2, 3, 3, 2, 1, 1, 2, 3, 3, 2, 1, 1, 2, 3, 3, 2,
    ]);
    expect(Array.from(np.pad(np.array([5]), [2, 3], { mode: "reflect" }).toTypedArray())).toEqual([
      5, 5, 5, 5, 5, 5,
    ]);
  });

  it("mirrors off the pad already written for uneven wide pads, numpy's iteration", () => {
    // numpy 1.24: np.pad(np.arange(3), (1, 8), "reflect"), np.pad(np.arange(2), (9, 1), "symmetric");
    // a periodic mirror would end the first in 2, not 0 (numpy's later rounds reflect off the pad).
    const ints = (n: number) => np.arange(0, n, 1, { dtype: "int32" });
    expect(Array.from(np.pad(ints(3), [1, 8], { mode: "reflect" }).toTypedArray())).toEqual([
      1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 0,
    ]);
    expect(Array.from(np.pad(ints(2), [9, 1], { mode: "symmetric" }).toTypedArray())).toEqual([
      1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1,
    ]);
  });

  it("wraps periodically for pads wider than the axis (numpy 1.25 and JAX; 1.24 is irregular there)", () => {
    // numpy 1.24 gives [1, 2, 0, 1, 2, 0, 1, 2, 1, 2, 0, 1] (numpy/numpy#22464, fixed in 1.25)
    const y = np.pad(np.arange(0, 3, 1, { dtype: "int32" }), [2, 7], { mode: "wrap" });
    expect(Array.from(y.toTypedArray())).toEqual([1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
  });

  it("has gradients (checked against finite differences) and is the same under jit and vmap", () => {
    for (const mode of ["edge", "reflect", "symmetric", "wrap"] as const) {
      const f = (a: NdArray) =>
        np.pad(
          a,
          [
            [2, 1],
            [3, 4],
          ],
          { mode },
        );
      const w = np.arange(1, 51, 1, { dtype: "float64" }).reshape([5, 10]);
      const loss = (a: NdArray) => np.sum(np.multiply(f(a), w));
      expect(testing.checkGrads(loss, [x]).comparisons).toBeGreaterThan(0);
      expect(jit(f)(x).toArray()).toEqual(f(x).toArray());
      const batch = np.stack([x, x.mul(2)]);
      expect(vmap(f)(batch).toArray()).toEqual(np.stack([f(x), f(x.mul(2))]).toArray());
      // Every input element's gradient counts how often the pad copies it.
      const counts = grad((a: NdArray) => np.sum(f(a)))(x);
      expect(np.sum(counts).item()).toBe(5 * 10);
    }
  });

  it("takes constant values per side and axis, broadcast as numpy's constant_values", () => {
    const a = np.arange(0, 6, 1, { dtype: "int32" }).reshape([2, 3]);
    const flat = (y: NdArray) => Array.from(y.toTypedArray());
    // numpy 1.24: np.pad(a, ((1, 2), (3, 1)), constant_values=((1, 2), (3, 4))): the later axis takes the corners
    const widths: [[number, number], [number, number]] = [
      [1, 2],
      [3, 1],
    ];
    const perSide = np.pad(a, widths, {
      constantValues: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(perSide.shape).toEqual([5, 7]);
    expect(flat(perSide)).toEqual([
      3, 3, 3, 1, 1, 1, 4, 3, 3, 3, 0, 1, 2, 4, 3, 3, 3, 3, 4, 5, 4, 3, 3, 3, 2, 2, 2, 4, 3, 3, 3, 2, 2, 2, 4,
    ]);
    // np.pad(a, 1, constant_values=[[7], [9]]) and constant_values=(5, 6)
    expect(flat(np.pad(a, 1, { constantValues: [[7], [9]] }))).toEqual([
      9, 7, 7, 7, 9, 9, 0, 1, 2, 9, 9, 3, 4, 5, 9, 9, 7, 7, 7, 9,
    ]);
    expect(flat(np.pad(a, 1, { constantValues: [5, 6] }))).toEqual([
      5, 5, 5, 5, 6, 5, 0, 1, 2, 6, 5, 3, 4, 5, 6, 5, 6, 6, 6, 6,
    ]);
    // Python's bool(nan) is true: np.pad([True, False], 1, constant_values=nan)
    expect(flat(np.pad(np.array([true, false]), 1, { constantValues: Number.NaN }))).toEqual([1, 1, 0, 1]);
    // The gradient of a per-side pad is the slice back.
    const g = grad((v: NdArray) => np.sum(np.multiply(np.pad(v, 1, { constantValues: [2, 3] }), 2)))(x);
    expect(Array.from(g.toTypedArray())).toEqual([2, 2, 2, 2, 2, 2]);
    expect(
      jit((v: NdArray) =>
        np.pad(v, widths, {
          constantValues: [
            [1, 2],
            [3, 4],
          ],
        }),
      )(x).toArray(),
    ).toEqual(
      np
        .pad(x, widths, {
          constantValues: [
            [1, 2],
            [3, 4],
          ],
        })
        .toArray(),
    );
  });

  it("rejects constant values of the wrong shape or that the dtype cannot hold", () => {
    expect(() => np.pad(x, 1, { constantValues: [1, 2, 3] })).toThrow(
      /pad: constantValues \[1,2,3\] does not fit shape \[2,3\]; expected a number, \[before, after\], or 2 pairs/,
    );
    expect(() =>
      np.pad(x, 1, {
        constantValues: [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
      }),
    ).toThrow(ShapeError);
    const ints = np.array([1], { dtype: "int32" });
    expect(() => np.pad(ints, 1, { constantValues: Number.NaN })).toThrow(
      /pad: constant value NaN does not fit the int32 operand/,
    );
    expect(() => np.pad(ints, 1, { constantValues: 2 ** 40 })).toThrow(RangeError);
  });

  it("rejects an unknown mode, a value with a non-constant mode, and empty axes", () => {
    expect(() => np.pad(x, 1, { mode: "mean" as never })).toThrow(
      /pad: option mode must be one of "constant", "edge", "reflect", "symmetric", "wrap", got "mean"/,
    );
    expect(() => np.pad(x, 1, { mode: "edge", constantValues: 3 })).toThrow(
      /constantValues applies to mode 'constant' only/,
    );
    expect(() => np.pad(np.zeros([0, 2]), 1, { mode: "reflect" })).toThrow(ShapeError);
    expect(
      np.pad(
        np.zeros([0, 2]),
        [
          [0, 0],
          [1, 1],
        ],
        { mode: "reflect" },
      ).shape,
    ).toEqual([0, 4]);
  });
});
