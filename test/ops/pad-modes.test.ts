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

  it("rejects an unknown mode, a value with a non-constant mode, and empty axes", () => {
    expect(() => np.pad(x, 1, { mode: "mean" as never })).toThrow(
      /pad: option mode must be one of "constant", "edge", "reflect", "symmetric", "wrap", got "mean"/,
    );
    expect(() => np.pad(x, 1, { mode: "edge", value: 3 })).toThrow(/value applies to mode 'constant' only/);
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
