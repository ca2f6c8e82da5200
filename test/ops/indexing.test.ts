import { describe, expect, it } from "vitest";
import { hessian, makeProgram, type NdArray, np, ShapeError, vjp, vmap } from "../../src/index.js";
import {
  scatterAddAlongAxisPrim,
  scatterAddPrim,
  takeAlongAxisPrim,
  takePrim,
} from "../../src/ops/indexing.js";
import { checkGradients, checkVmap, expectError, rand } from "../helpers/op-checks.js";

// ---------------------------------------------------------------------------------------------------
// helpers

const f64 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "float64" });
const i32 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "int32" });

// ---------------------------------------------------------------------------------------------------
// forward values

describe("take", () => {
  const x = np.arange(12).reshape([3, 4]);

  it("indexes the flattened array when no axis is given", () => {
    expect(np.take(x, [0, 5, -1]).toArray()).toEqual([0, 5, 11]);
    expect(np.take(x, 7).toArray()).toBe(7);
  });

  it("gathers along an axis with any index shape", () => {
    expect(np.take(x, i32([2, 0, 2]), { axis: 0 }).toArray()).toEqual([
      [8, 9, 10, 11],
      [0, 1, 2, 3],
      [8, 9, 10, 11],
    ]);
    expect(np.take(x, i32([[-1], [1]]), { axis: -1 }).toArray()).toEqual([
      [[3], [1]],
      [[7], [5]],
      [[11], [9]],
    ]);
    expect(np.take(x, 1, { axis: 1 }).toArray()).toEqual([1, 5, 9]);
    expect(np.take(x, i32([]), { axis: 1 }).shape).toEqual([3, 0]);
    expect(np.take(np.zeros([0, 2]), i32([1, 0]), { axis: 1 }).shape).toEqual([0, 2]);
    expect(np.take(np.ones([1, 1]), i32([0, 0, -1]), { axis: 0 }).toArray()).toEqual([[1], [1], [1]]);
  });

  it("reads transposed and sliced inputs", () => {
    expect(np.take(x.transpose(), [1], { axis: 0 }).toArray()).toEqual([[1, 5, 9]]);
    const sliced = np.slice(x, [{ step: -2 }, { start: 1 }]);
    expect(np.take(sliced, [0, 2], { axis: 1 }).toArray()).toEqual([
      [9, 11],
      [1, 3],
    ]);
  });

  it("keeps the dtype", () => {
    expect(np.take(np.array([true, false]), [1, 0]).toArray()).toEqual([false, true]);
    expect(np.take(f64([1.5, 2.5]), 1).dtype).toBe("float64");
  });

  it("rejects out-of-range and non-integer indices", () => {
    expectError(() => np.take(x, [12]), RangeError, "take", "index 12", "axis 0", "size 12");
    expectError(() => np.take(x, i32([-5]), { axis: 1 }), RangeError, "take", "index -5", "axis 1", "size 4");
    expectError(() => np.take(np.zeros([0]), [0]), RangeError, "take", "size 0");
    expectError(() => np.take(x, np.array([0.5])), TypeError, "take", "int32", "float32");
    expectError(() => np.take(x, [1.5]), TypeError, "take", "integers");
    expectError(() => np.take(x, [0], { axis: 2 }), ShapeError, "take", "axis 2");
    expectError(
      () => takePrim.bind1([x, np.array([0])], { axis: 0 }),
      ShapeError,
      "take",
      "int32",
      "float32[1]",
    );
    expectError(
      () => takePrim.bind1([np.scalar(1), i32([0])], { axis: 0 }),
      ShapeError,
      "take",
      "axis 0",
      "[]",
    );
  });
});

describe("takeAlongAxis", () => {
  const x = np.array([
    [10, 30, 20],
    [60, 40, 50],
  ]);
  it("gathers per position along the last axis by default", () => {
    const order = i32([
      [0, 2, 1],
      [1, 2, 0],
    ]);
    expect(np.takeAlongAxis(x, order).toArray()).toEqual([
      [10, 20, 30],
      [40, 50, 60],
    ]);
    expect(np.takeAlongAxis(x, i32([[1], [-1]]), { axis: 1 }).toArray()).toEqual([[30], [50]]);
    expect(np.takeAlongAxis(x, i32([[1, 0, 1]]), { axis: 0 }).toArray()).toEqual([[60, 30, 50]]);
  });
  it("broadcasts x and indices in the other axes", () => {
    expect(np.takeAlongAxis(x, i32([[2, 0]]), { axis: 1 }).toArray()).toEqual([
      [20, 10],
      [50, 60],
    ]);
    const row = np.array([[1, 2, 3]]);
    expect(np.takeAlongAxis(row, i32([[0], [2]]), { axis: 1 }).toArray()).toEqual([[1], [3]]);
  });
  it("flattens with axis null", () => {
    expect(np.takeAlongAxis(x, i32([5, 0]), { axis: null }).toArray()).toEqual([50, 10]);
  });
  it("rejects bad ranks, shapes and indices", () => {
    expectError(
      () => np.takeAlongAxis(x, i32([0, 1])),
      ShapeError,
      "takeAlongAxis",
      "[2]",
      "[2,3]",
      "same rank",
    );
    expectError(
      () => np.takeAlongAxis(x, i32([[0], [1], [0]])),
      ShapeError,
      "takeAlongAxis",
      "[3,1]",
      "[2,3]",
    );
    expectError(
      () => np.takeAlongAxis(x, i32([[3], [0]])),
      RangeError,
      "takeAlongAxis",
      "index 3",
      "axis 1",
      "size 3",
    );
    expectError(
      () => takeAlongAxisPrim.bind1([x, i32([[0], [1], [0]])], { axis: 1 }),
      ShapeError,
      "take_along_axis",
      "[3,1]",
      "[2,3]",
    );
  });
});

describe("scatterAdd", () => {
  it("adds at the flattened positions, accumulating duplicates", () => {
    const out = np.scatterAdd(np.zeros([2, 2]), [0, 3, 0, -1], np.array([1, 2, 3, 4]));
    expect(out.toArray()).toEqual([
      [4, 0],
      [0, 6],
    ]);
  });
  it("adds rows along an axis and broadcasts updates", () => {
    const x = np.ones([3, 2], { dtype: "int32" });
    expect(
      np
        .scatterAdd(
          x,
          i32([2, 2]),
          i32([
            [1, 2],
            [3, 4],
          ]),
          { axis: 0 },
        )
        .toArray(),
    ).toEqual([
      [1, 1],
      [1, 1],
      [5, 7],
    ]);
    expect(np.scatterAdd(x, [1], 10, { axis: 1 }).toArray()).toEqual([
      [1, 11],
      [1, 11],
      [1, 11],
    ]);
    expect(np.scatterAdd(x, i32([]), 5, { axis: 0 }).toArray()).toEqual(x.toArray());
  });
  it("keeps the operand's dtype and does not change the operand", () => {
    const x = f64([1, 2]);
    const out = np.scatterAdd(x, 0, 0.25);
    expect(out.dtype).toBe("float64");
    expect(out.toArray()).toEqual([1.25, 2]);
    expect(x.toArray()).toEqual([1, 2]);
  });
  it("rejects bad input", () => {
    expectError(() => np.scatterAdd(np.zeros([3]), [3], 1), RangeError, "scatterAdd", "index 3", "size 3");
    expectError(() => np.scatterAdd(np.array([true]), [0], true), ShapeError, "scatter_add", "bool");
    expectError(
      () => np.scatterAdd(np.zeros([3, 2]), [0], np.ones([3]), { axis: 0 }),
      ShapeError,
      "scatterAdd",
      "[3]",
      "[1,2]",
    );
    expectError(
      () => scatterAddPrim.bind1([np.zeros([3, 2]), i32([0]), np.ones([2, 2])], { axis: 0 }),
      ShapeError,
      "scatter_add",
      "[2,2]",
      "[1,2]",
      "[3,2]",
    );
    expectError(
      () => scatterAddPrim.bind1([np.zeros([3]), i32([0]), f64([1])], { axis: 0 }),
      ShapeError,
      "scatter_add",
      "float64",
      "float32",
    );
    expectError(
      () => scatterAddAlongAxisPrim.bind1([np.zeros([3, 2]), i32([[0, 1]]), np.ones([1, 3])], { axis: 0 }),
      ShapeError,
      "scatter_add_along_axis",
      "[1,3]",
      "[1,2]",
    );
  });
});

describe("oneHot", () => {
  it("encodes labels along a new trailing axis", () => {
    const out = np.oneHot(i32([2, 0, 5, -1]), 3);
    expect(out.dtype).toBe("float32");
    expect(out.toArray()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(np.oneHot(i32([[1], [0]]), 2, { dtype: "int32" }).toArray()).toEqual([[[0, 1]], [[1, 0]]]);
    expect(np.oneHot(i32([]), 4).shape).toEqual([0, 4]);
    expect(() => np.oneHot(i32([0]), -1)).toThrow(/oneHot/);
  });
});

describe("tracing", () => {
  it("stages the primitives; out-of-range indices are found only when run", () => {
    const program = makeProgram((x: NdArray) => np.scatterAdd(x, [5], np.take(x, [0]), { axis: 0 }))(
      np.zeros([3]),
    );
    const text = String(program);
    expect(text).toContain("take");
    expect(text).toContain("scatter_add");
  });
});

// ---------------------------------------------------------------------------------------------------
// derivatives (float64)

describe("derivatives", () => {
  const x = rand([4, 3], 1);
  const idx = i32([
    [3, -1],
    [0, 0],
    [2, 1],
  ]);

  it("take, with duplicate and negative indices", () => {
    checkGradients((a) => np.take(a, idx, { axis: 0 }), [x]);
    checkGradients((a) => np.take(np.sin(a), i32([2, 2, -3]), { axis: 1 }), [x]);
    checkGradients((a) => np.take(np.multiply(a, a), [11, 0, 5, 5]), [x]);
    checkGradients((a) => np.take(a.transpose(), 1, { axis: 0 }), [x]);
  });

  it("scatterAdd in the operand and the updates", () => {
    const updates = rand([3, 2, 3], 5);
    checkGradients((a, u) => np.scatterAdd(a, idx, u, { axis: 0 }), [x, updates]);
    checkGradients(
      (a, u) => np.scatterAdd(np.exp(a), [1, 1, -1], np.multiply(u, u), { axis: 1 }),
      [x, rand([4, 3], 6)],
    );
    checkGradients((u) => np.scatterAdd(np.zeros([5], { dtype: "float64" }), [4, 0, 4], u), [rand([3], 7)]);
  });

  it("takeAlongAxis and its transpose", () => {
    const order = i32([
      [2, 0, 0],
      [1, 1, -1],
      [0, 2, 1],
      [2, 2, 2],
    ]);
    checkGradients((a) => np.takeAlongAxis(a, order, { axis: 1 }), [x]);
    checkGradients((a) => np.takeAlongAxis(np.tanh(a), i32([[3, 0, 3]]), { axis: 0 }), [x]);
    const updates = rand([4, 3], 9);
    checkGradients((a, u) => scatterAddAlongAxisPrim.bind1([a, order, u], { axis: 1 }), [x, updates]);
  });

  it("second order: the hessian of a gather", () => {
    const f = (a: NdArray) => np.sum(np.power(np.take(a, i32([0, 2, 2])), 3));
    expect(hessian(f)(f64([1, 2, 3])).toArray()).toEqual([
      [6, 0, 0],
      [0, 0, 0],
      [0, 0, 36],
    ]);
  });

  it("oneHot as a constant mask in a loss", () => {
    const labels = i32([2, 0, 1, 1]);
    checkGradients(
      (a) => np.sum(np.multiply(np.oneHot(labels, 3, { dtype: "float64" }), np.exp(a)), { axis: 1 }),
      [x],
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// batching

describe("vmap", () => {
  const x = rand([3, 4, 5], 3);
  const batchedIdx = i32([
    [0, -1, 2],
    [4, 4, 1],
    [3, 0, 0],
  ]);
  const sharedIdx = i32([
    [1, 3],
    [-2, 0],
  ]);

  it("take with the operand, the indices, or both batched", () => {
    for (const axis of [0, 1, 2]) {
      checkVmap((a) => np.take(a, sharedIdx, { axis: 1 }), [x], [axis]);
      checkVmap((a) => np.take(a, sharedIdx), [x], [axis]);
    }
    const shared = rand([4, 5], 4);
    checkVmap((i) => np.take(shared, i, { axis: 1 }), [batchedIdx], [0]);
    checkVmap(
      (i) => np.take(shared, i, { axis: 0 }),
      [
        i32([
          [0, 3],
          [1, 1],
          [2, -4],
        ]),
      ],
      [1],
    );
    checkVmap((a, i) => np.take(a, i, { axis: 1 }), [x, batchedIdx], [0, 0]);
    checkVmap(
      (a, i) => np.take(a, i, { axis: 0 }),
      [
        x,
        i32([
          [0, 1, 2, -1, 0],
          [2, -3, 1, 1, 0],
        ]),
      ],
      [2, 1],
    );
    checkVmap(
      (a, i) => np.take(a, i),
      [
        x,
        i32([
          [19, 0],
          [5, -20],
          [7, 7],
        ]),
      ],
      [0, 0],
    );
  });

  it("take with both batched still checks every index", () => {
    expect(() =>
      vmap((a: NdArray, i: NdArray) => np.take(a, i, { axis: 1 }))(x, i32([[0], [5], [1]])),
    ).toThrow(/take: index 5 is out of bounds for axis 2 with size 5/);
  });

  it("scatterAdd with every combination of batched arguments", () => {
    const base = rand([4, 5], 10);
    const updates = rand([4, 2], 11);
    const idx = i32([3, 3]);
    const cases: [NdArray, NdArray, NdArray, (number | null)[]][] = [
      [x, idx, updates, [0, null, null]],
      [base, idx, rand([3, 4, 2], 12), [null, null, 0]],
      [x, idx, rand([3, 2, 4], 12), [1, null, 2]],
      [
        base,
        i32([
          [0, 1],
          [4, 4],
          [-1, 2],
        ]),
        updates,
        [null, 0, null],
      ],
      [
        x,
        i32([
          [0, 1],
          [4, 4],
          [-1, 2],
        ]),
        updates,
        [0, 0, null],
      ],
      [
        base,
        i32([
          [0, 4, -1],
          [1, 4, 2],
        ]),
        rand([4, 3, 2], 13),
        [null, 1, 1],
      ],
      [
        rand([4, 5, 3], 14),
        i32([
          [0, 1],
          [4, 4],
          [-1, 2],
        ]),
        rand([3, 4, 2], 13),
        [2, 0, 0],
      ],
    ];
    for (const [a, i, u, inAxes] of cases) {
      checkVmap((aa, ii, uu) => np.scatterAdd(aa, ii, uu, { axis: 1 }), [a, i, u], inAxes);
    }
  });

  it("takeAlongAxis and scatter_add_along_axis with batched and shared arguments", () => {
    const order = i32([
      [0, 4, 4],
      [2, -1, 1],
      [3, 3, 0],
      [1, 0, 2],
    ]);
    checkVmap((a) => np.takeAlongAxis(a, order, { axis: 1 }), [x], [0]);
    checkVmap(
      (i) => np.takeAlongAxis(rand([4, 5], 17), i, { axis: 1 }),
      [
        i32([
          [[0], [1], [2], [3]],
          [[4], [-1], [0], [2]],
        ]),
      ],
      [0],
    );
    checkVmap(
      (a, i) => np.takeAlongAxis(a, i, { axis: 0 }),
      [x, i32([[[0, 1, 2, 3, 0]], [[3, 3, 3, 3, 3]], [[1, 0, 1, 0, 1]]])],
      [0, 0],
    );
    const updates = rand([4, 3], 14);
    checkVmap((a, u) => scatterAddAlongAxisPrim.bind1([a, order, u], { axis: 1 }), [x, updates], [0, null]);
    checkVmap(
      (a, i, u) => scatterAddAlongAxisPrim.bind1([a, i, u], { axis: 1 }),
      [rand([4, 5], 15), np.stack([order, np.flip(order)]), rand([2, 4, 3], 16)],
      [null, 0, 0],
    );
  });

  it("per-example gradients of a gather (vmap of vjp)", () => {
    const perExampleGrad = (a: NdArray, i: NdArray) => {
      const [, back] = vjp((v: NdArray) => np.sum(np.square(np.take(v, i, { axis: 0 }))), a);
      return back(np.scalar(1, "float64"))[0];
    };
    checkVmap(
      perExampleGrad,
      [
        x,
        i32([
          [0, -1],
          [3, 3],
          [2, 0],
        ]),
      ],
      [0, 0],
    );
    checkVmap(perExampleGrad, [x, i32([1, 1, 3])], [0, null]);
  });
});
