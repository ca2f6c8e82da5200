/**
 * unique's axis and returnIndex (issue 18) against numpy 1.24 references (stored below with the calls
 * that printed them), eager and under jit with JAX's size; the errors. Random cases against numpy are
 * in test/differential/numpy-differential.test.ts.
 */
import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, ShapeError, vmap } from "../../src/index.js";

const n = Number.NaN;
const rows = np.array(
  [
    [n, 1],
    [n, 1],
    [0, 2],
    [-0, 2],
  ],
  { dtype: "float64" },
);
const all = { returnIndex: true, returnInverse: true, returnCounts: true } as const;
const lists = (xs: NdArray[]) => xs.map((x) => x.toArray());

describe("unique with axis", () => {
  it("compares whole slices, sorted lexicographically; a slice with NaN equals no other (numpy)", () => {
    // np.unique(rows, axis=0, return_index=True, return_inverse=True, return_counts=True)
    //   -> [[0, 2], [nan, 1], [nan, 1]], [2, 0, 1], [1, 2, 0, 0], [2, 1, 1]
    const out = np.unique(rows, { axis: 0, ...all });
    expect(lists(out)).toEqual([
      [
        [0, 2],
        [n, 1],
        [n, 1],
      ],
      [2, 0, 1],
      [1, 2, 0, 0],
      [2, 1, 1],
    ]);
    expect(out.slice(1).map((o) => o.dtype)).toEqual(["int32", "int32", "int32"]);
  });

  it("along a later axis, and on empty slices (numpy: one unique empty slice)", () => {
    const x = np.array(
      [
        [1, 0, 1],
        [2, 5, 2],
      ],
      { dtype: "int32" },
    );
    // np.unique(x, axis=1, return_inverse=True) -> [[0, 1], [5, 2]], [1, 0, 1]
    expect(lists(np.unique(x, { axis: -1, returnInverse: true }))).toEqual([
      [
        [0, 1],
        [5, 2],
      ],
      [1, 0, 1],
    ]);
    // np.unique(np.zeros((0, 3)), axis=1, ...) -> shape (0, 1), [0], [0, 0, 0], [3]
    const [v, index, inverse, counts] = np.unique(np.zeros([0, 3]), { axis: 1, ...all });
    expect(v!.shape).toEqual([0, 1]);
    expect(lists([index!, inverse!, counts!])).toEqual([[0], [0, 0, 0], [3]]);
  });

  it("under jit with size: padded with the smallest slice, its index, and zero counts (JAX)", () => {
    const f = jit((a: NdArray) => np.unique(a, { axis: 0, size: 4, returnIndex: true, returnCounts: true }));
    expect(lists(f(rows))).toEqual([
      [
        [0, 2],
        [n, 1],
        [n, 1],
        [0, 2],
      ],
      [2, 0, 1, 2],
      [2, 1, 1, 0],
    ]);
    const filled = np.unique(rows, { axis: 0, size: 4, fillValue: 7 });
    expect(filled.toArray()).toEqual([
      [0, 2],
      [n, 1],
      [n, 1],
      [7, 7],
    ]);
  });

  it("vmaps with size", () => {
    const batch = np.array([
      [
        [1, 2],
        [1, 2],
      ],
      [
        [3, 0],
        [1, 2],
      ],
    ]);
    const out = vmap((a: NdArray) => np.unique(a, { axis: 0, size: 2 }))(batch);
    expect(out.toArray()).toEqual([
      [
        [1, 2],
        [1, 2],
      ],
      [
        [1, 2],
        [3, 0],
      ],
    ]);
  });
});

describe("unique with returnIndex", () => {
  it("gives the first occurrence of each value, NaNs as one (numpy 1.24)", () => {
    // np.unique([3, 1, nan, 3, 2, 1, nan], return_index=True) -> [1, 2, 3, nan], [1, 4, 0, 2]
    const [values, index] = np.unique(np.array([3, 1, n, 3, 2, 1, n]), { returnIndex: true });
    expect(values!.toArray()).toEqual([1, 2, 3, n]);
    expect(index!.toArray()).toEqual([1, 4, 0, 2]);
  });
});

describe("errors", () => {
  it("name unique, the axis and the rank", () => {
    expect(() => np.unique(rows, { axis: 2 })).toThrow(
      new ShapeError("unique: axis 2 is out of bounds for an array of rank 2"),
    );
    expect(() => np.unique(rows, { fillValue: "0" as never, size: 5 })).toThrow(
      /unique: fillValue must be a number, got "0"/,
    );
    expect(() => np.unique(rows, { returnIdx: true } as never)).toThrow(/unique: unknown option 'returnIdx'/);
  });
});
