/**
 * Shape and construction functions and nonzero/argwhere/unique (issue 18): the errors for bad input
 * (naming the function, the shapes and what was expected), vmap of the sized data-dependent functions,
 * and what numpy does not define (JAX's size and fillValue). Agreement with numpy on random cases is
 * test/differential/numpy-differential.test.ts; gradients are the function rows of laws/registry-table.ts.
 */
import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, ShapeError, vmap } from "../../src/index.js";

const values = (x: NdArray): number[] => Array.from(x.toTypedArray());

describe("errors name the function and what was expected", () => {
  const m = np.zeros([2, 3, 4]);
  it.each([
    ["diag of a 3-d array", () => np.diag(m), /diag: expected a 1-d or 2-d array, got shape \[2, ?3, ?4\]/],
    ["tril of a 0-d array", () => np.tril(np.scalar(1)), /tril: expected an array of rank 1 or more/],
    [
      "diagonal on one axis twice",
      () => np.diagonal(m, { axis1: 1, axis2: -2 }),
      /diagonal: axis1 and axis2/,
    ],
    ["trace of a 1-d array", () => np.trace(np.zeros([3])), /trace: expected an array of rank 2 or more/],
    [
      "roll with shifts and axes of other lengths",
      () => np.roll(m, [1, 2], { axis: [0, 1, 2] }),
      /roll: shift/,
    ],
    ["vstack of nothing", () => np.vstack([]), /vstack: expected at least one array/],
    [
      "hstack of rows of other lengths",
      () => np.hstack([np.zeros([2, 2]), np.zeros([3, 1])]),
      /hstack: cannot join arrays of shapes/,
    ],
    [
      "geomspace through zero",
      () => np.geomspace(0, 1),
      /geomspace: a geometric sequence cannot include zero/,
    ],
    ["geomspace across signs", () => np.geomspace(-1, 1), /geomspace: start -1 and stop 1 differ in sign/],
    ["tril's unknown option", () => np.tril(m, { kk: 1 } as never), /tril: unknown option 'kk'/],
    ["nonzero of a 0-d array", () => np.nonzero(np.scalar(1)), /nonzero: a 0-d array/],
    [
      "unique with a negative size",
      () => np.unique(m, { size: -1 }),
      /unique: size must be a non-negative integer/,
    ],
  ])("%s", (_, f, message) => {
    expect(f).toThrow(message);
  });

  it("nonzero, argwhere and unique under jit without size ask for one", () => {
    for (const f of [np.nonzero, np.argwhere, np.unique] as ((x: NdArray) => unknown)[]) {
      expect(() => jit((x: NdArray) => f(x) as NdArray)(np.ones([3]))).toThrow(ShapeError);
      expect(() => jit((x: NdArray) => f(x) as NdArray)(np.ones([3]))).toThrow(/pass \{ size \}/);
    }
  });
});

describe("the sized data-dependent functions batch", () => {
  const rows = np.array(
    [
      [0, 3, 0, 3],
      [2, 0, 1, 1],
    ],
    { dtype: "float64" },
  );

  it("vmap of nonzero with size pads each row with fillValue", () => {
    const idx = vmap((r: NdArray) => np.nonzero(r, { size: 3, fillValue: -1 })[0]!)(rows) as NdArray;
    expect(idx.shape).toEqual([2, 3]);
    expect(values(idx)).toEqual([1, 3, -1, 0, 2, 3]);
  });

  it("vmap of unique with size and counts", () => {
    const [u, counts] = vmap((r: NdArray) => np.unique(r, { size: 3, returnCounts: true, fillValue: 9 }))(
      rows,
    ) as NdArray[];
    expect(values(u!)).toEqual([0, 3, 9, 0, 1, 2]);
    expect(values(counts!)).toEqual([2, 2, 0, 1, 2, 1]);
  });
});
