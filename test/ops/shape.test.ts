import { describe, expect, it } from "vitest";
import { makeProgram, type NdArray, np, ShapeError, vjp } from "../../src/index.js";
import { padPrim, revPrim, slicePrim } from "../../src/ops/shape.js";
import { checkGradients, checkVmap, rand } from "../helpers/op-checks.js";

// ---------------------------------------------------------------------------------------------------
// helpers

const i32 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "int32" });

function expectShapeError(f: () => unknown, ...fragments: string[]): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ShapeError);
  for (const s of fragments) expect((error as Error).message).toContain(s);
}

// ---------------------------------------------------------------------------------------------------
// forward values

describe("concatenate", () => {
  const a = np.arange(6).reshape([2, 3]);
  const b = np.arange(6, 9).reshape([1, 3]);

  it("joins along axis 0 by default and along negative axes", () => {
    expect(np.concatenate([a, b]).toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
    ]);
    expect(np.concatenate([a, a], { axis: -1 }).toArray()).toEqual([
      [0, 1, 2, 0, 1, 2],
      [3, 4, 5, 3, 4, 5],
    ]);
  });

  it("promotes dtypes", () => {
    const out = np.concatenate([i32([1, 2]), np.array([0.5])]);
    expect(out.dtype).toBe("float32");
    expect(out.toArray()).toEqual([1, 2, 0.5]);
  });

  it("handles empty operands, a single operand and axis null", () => {
    const empty = np.zeros([0, 3], { dtype: "int32" });
    expect(np.concatenate([empty, a, empty]).toArray()).toEqual(a.toArray());
    expect(np.concatenate([empty, empty]).shape).toEqual([0, 3]);
    expect(np.concatenate([a])).toBe(a);
    expect(np.concatenate([a, b], { axis: null }).toArray()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("reads transposed inputs correctly", () => {
    const out = np.concatenate([a.transpose(), np.full([3, 1], 9, { dtype: "int32" })], { axis: 1 });
    expect(out.toArray()).toEqual([
      [0, 3, 9],
      [1, 4, 9],
      [2, 5, 9],
    ]);
  });

  it("rejects mismatched ranks and sizes, naming the shapes", () => {
    expectShapeError(() => np.concatenate([a, np.arange(3)]), "concatenate", "same rank", "[2,3]", "[3]");
    expectShapeError(
      () => np.concatenate([a, np.arange(4).reshape([1, 4])]),
      "concatenate",
      "[2,3]",
      "[1,4]",
      "axis 0",
    );
    expectShapeError(() => np.concatenate([]), "concatenate");
    expectShapeError(() => np.concatenate([np.scalar(1), np.scalar(2)]), "concatenate", "zero-dimensional");
    expectShapeError(() => np.concatenate([a, a], { axis: 2 }), "concatenate", "axis 2");
  });
});

describe("stack", () => {
  const a = np.array([1, 2]);
  const b = np.array([3, 4]);
  it("adds a new axis at the position asked", () => {
    expect(np.stack([a, b]).toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(np.stack([a, b], { axis: 1 }).toArray()).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect(np.stack([a, b], { axis: -1 }).shape).toEqual([2, 2]);
    expect(np.stack([np.scalar(1), np.scalar(2)]).toArray()).toEqual([1, 2]);
  });
  it("requires equal shapes", () => {
    expectShapeError(() => np.stack([a, np.array([1, 2, 3])]), "stack", "[2]", "[3]");
  });
});

describe("split", () => {
  const x = np.arange(7);
  it("cuts at indices with Python slicing semantics", () => {
    expect(np.split(x, [2, 5]).map((p) => p.toArray())).toEqual([
      [0, 1],
      [2, 3, 4],
      [5, 6],
    ]);
    expect(np.split(x, [-2]).map((p) => p.toArray())).toEqual([
      [0, 1, 2, 3, 4],
      [5, 6],
    ]);
    expect(np.split(x, [3, 1, 10]).map((p) => p.toArray())).toEqual([[0, 1, 2], [], [1, 2, 3, 4, 5, 6], []]);
    expect(np.split(x, []).map((p) => p.toArray())).toEqual([[0, 1, 2, 3, 4, 5, 6]]);
  });
  it("splits into equal sections along an axis", () => {
    const m = np.arange(12).reshape([2, 6]);
    const parts = np.split(m, 3, { axis: 1 });
    expect(parts.map((p) => p.toArray())).toEqual([
      [
        [0, 1],
        [6, 7],
      ],
      [
        [2, 3],
        [8, 9],
      ],
      [
        [4, 5],
        [10, 11],
      ],
    ]);
  });
  it("rejects unequal sections", () => {
    expectShapeError(() => np.split(x, 3), "split", "[7]", "3 equal sections");
    expect(() => np.split(x, 0)).toThrow(RangeError);
  });
});

describe("slice", () => {
  const x = np.arange(12).reshape([3, 4]);
  it("follows Python slicing, including negative bounds and steps", () => {
    expect(np.slice(x, [{ start: 1 }]).toArray()).toEqual([
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ]);
    expect(np.slice(x, [{}, { start: -3, stop: -1 }]).toArray()).toEqual([
      [1, 2],
      [5, 6],
      [9, 10],
    ]);
    expect(np.slice(x, [{ step: -1 }, { step: 2 }]).toArray()).toEqual([
      [8, 10],
      [4, 6],
      [0, 2],
    ]);
    expect(
      np
        .slice(x, [
          { start: 2, stop: 0, step: -2 },
          { start: -1, step: -3 },
        ])
        .toArray(),
    ).toEqual([[11, 8]]);
    expect(np.slice(np.arange(10), [{ start: 8, stop: 1, step: -3 }]).toArray()).toEqual([8, 5, 2]);
  });
  it("clamps out-of-range bounds and gives empty results", () => {
    expect(np.slice(x, [{ start: -100, stop: 100 }]).shape).toEqual([3, 4]);
    expect(np.slice(x, [{ start: 2, stop: 1 }]).shape).toEqual([0, 4]);
    expect(np.slice(x, [{ start: 5 }]).shape).toEqual([0, 4]);
    expect(np.slice(x, [{}, { start: 0, stop: 3, step: -1 }]).shape).toEqual([3, 0]);
    expect(np.slice(np.zeros([0, 2]), [{ step: -1 }]).shape).toEqual([0, 2]);
  });
  it("returns the array itself for a full slice and works on size-1 axes", () => {
    expect(np.slice(x, [{}, {}])).toBe(x);
    expect(np.slice(np.ones([1, 1, 3]), [{ step: -1 }, {}, { start: 1 }]).toArray()).toEqual([[[1, 1]]]);
  });
  it("reads transposed inputs", () => {
    expect(np.slice(x.transpose(), [{ start: 1, stop: 3 }]).toArray()).toEqual([
      [1, 5, 9],
      [2, 6, 10],
    ]);
  });
  it("rejects bad input", () => {
    expectShapeError(() => np.slice(x, [{}, {}, {}]), "slice", "[3,4]", "rank 2");
    expect(() => np.slice(x, [{ step: 0 }])).toThrow(/slice: step on axis 0/);
    expectShapeError(
      () => slicePrim.bind1([x], { start: [0, 0], limit: [4, 4], strides: [1, 1] }),
      "slice",
      "[3,4]",
      "limit",
    );
    expectShapeError(
      () => slicePrim.bind1([x], { start: [0], limit: [1], strides: [1] }),
      "slice",
      "[3,4]",
      "one per axis",
    );
    expectShapeError(
      () => slicePrim.bind1([x], { start: [0, 0], limit: [1, 1], strides: [0, 1] }),
      "slice",
      "strides",
    );
  });
});

describe("pad", () => {
  const x = np.array([
    [1, 2],
    [3, 4],
  ]);
  it("accepts numpy's pad_width forms", () => {
    expect(np.pad(x, 1).toArray()).toEqual([
      [0, 0, 0, 0],
      [0, 1, 2, 0],
      [0, 3, 4, 0],
      [0, 0, 0, 0],
    ]);
    expect(np.pad(x, [1, 0]).shape).toEqual([3, 3]);
    expect(np.pad(x, [[0, 1]]).toArray()).toEqual([
      [1, 2, 0],
      [3, 4, 0],
      [0, 0, 0],
    ]);
    expect(
      np
        .pad(
          x,
          [
            [1, 0],
            [0, 2],
          ],
          { constantValues: -1 },
        )
        .toArray(),
    ).toEqual([
      [-1, -1, -1, -1],
      [1, 2, -1, -1],
      [3, 4, -1, -1],
    ]);
    expect(np.pad(x, 0)).toBe(x);
  });
  it("casts the value to the dtype and pads empty axes", () => {
    const out = np.pad(i32([1]), [1, 1], { constantValues: 2.7 });
    expect(out.dtype).toBe("int32");
    expect(out.toArray()).toEqual([2, 1, 2]);
    expect(
      np
        .pad(
          np.zeros([0, 2]),
          [
            [1, 1],
            [0, 0],
          ],
          { constantValues: 5 },
        )
        .toArray(),
    ).toEqual([
      [5, 5],
      [5, 5],
    ]);
  });
  it("supports interior padding at the primitive level", () => {
    const out = padPrim.bind1([np.array([1, 2, 3])], { lo: [1], hi: [0], interior: [2], value: 0 });
    expect(out.toArray()).toEqual([0, 1, 0, 0, 2, 0, 0, 3]);
  });
  it("rejects negative and ill-shaped widths", () => {
    expectShapeError(() => np.pad(x, -1), "pad", "non-negative");
    expectShapeError(
      () =>
        np.pad(x, [
          [1, 1],
          [1, 1],
          [1, 1],
        ]),
      "pad",
      "[2,2]",
    );
    expectShapeError(() => np.pad(x, [1, 2, 3]), "pad", "[2,2]");
    expectShapeError(
      () => padPrim.bind1([x], { lo: [1], hi: [1, 1], interior: [0, 0], value: 0 }),
      "pad",
      "lo",
      "[2,2]",
    );
  });
});

describe("flip", () => {
  const x = np.arange(6).reshape([2, 3]);
  it("reverses all axes by default, or the ones named", () => {
    expect(np.flip(x).toArray()).toEqual([
      [5, 4, 3],
      [2, 1, 0],
    ]);
    expect(np.flip(x, { axis: -1 }).toArray()).toEqual([
      [2, 1, 0],
      [5, 4, 3],
    ]);
    expect(np.flip(x, { axis: [0] }).toArray()).toEqual([
      [3, 4, 5],
      [0, 1, 2],
    ]);
    expect(np.flip(np.scalar(3)).item()).toBe(3);
    expect(np.flip(np.zeros([0, 2])).shape).toEqual([0, 2]);
  });
  it("rejects bad axes", () => {
    expectShapeError(() => np.flip(x, { axis: 2 }), "flip", "axis 2");
    expectShapeError(() => revPrim.bind1([x], { axes: [1, 1] }), "rev", "[2,3]");
  });
});

describe("tile and repeat", () => {
  it("tile aligns reps and shape at the end", () => {
    const a = np.array([1, 2]);
    expect(np.tile(a, 2).toArray()).toEqual([1, 2, 1, 2]);
    expect(np.tile(a, [2, 1]).toArray()).toEqual([
      [1, 2],
      [1, 2],
    ]);
    const m = np.array([
      [1, 2],
      [3, 4],
    ]);
    expect(np.tile(m, 2).toArray()).toEqual([
      [1, 2, 1, 2],
      [3, 4, 3, 4],
    ]);
    expect(np.tile(m, [2, 1, 1]).shape).toEqual([2, 2, 2]);
    expect(np.tile(m, 0).shape).toEqual([2, 0]);
    expect(np.tile(np.scalar(7), [3]).toArray()).toEqual([7, 7, 7]);
    expect(() => np.tile(m, -1)).toThrow(/tile: reps/);
  });
  it("repeat flattens by default and repeats each element in place", () => {
    const m = np.array([
      [1, 2],
      [3, 4],
    ]);
    expect(np.repeat(m, 2).toArray()).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    expect(np.repeat(m, 2, { axis: 0 }).toArray()).toEqual([
      [1, 2],
      [1, 2],
      [3, 4],
      [3, 4],
    ]);
    expect(np.repeat(m, 3, { axis: -1 }).toArray()).toEqual([
      [1, 1, 1, 2, 2, 2],
      [3, 3, 3, 4, 4, 4],
    ]);
    expect(np.repeat(m, 0, { axis: 1 }).shape).toEqual([2, 0]);
    expect(np.repeat(np.scalar(5), 2).toArray()).toEqual([5, 5]);
    expect(() => np.repeat(m, 1.5)).toThrow(/repeat: repeats/);
    expectShapeError(() => np.repeat(m, 2, { axis: 2 }), "repeat", "axis 2");
  });
});

describe("tracing", () => {
  it("stages the primitives into a program", () => {
    const program = makeProgram((x: NdArray) => np.flip(np.pad(np.slice(x, [{ step: 2 }]), 1)))(
      np.zeros([5]),
    );
    const text = String(program);
    for (const name of ["rev", "pad", "slice"]) expect(text).toContain(name);
  });
});

// ---------------------------------------------------------------------------------------------------
// derivatives (float64)

describe("derivatives", () => {
  const x = rand([3, 4], 1);
  const y = rand([2, 4], 2);

  it("concatenate and stack", () => {
    checkGradients((a, b) => np.concatenate([a, b]), [x, y]);
    checkGradients((a, b) => np.concatenate([np.sin(a), b, a], { axis: 0 }), [x, y]);
    checkGradients(
      (a, b) => np.concatenate([a.transpose(), np.multiply(b, b).transpose()], { axis: 1 }),
      [x, y],
    );
    checkGradients((a) => np.stack([a, np.exp(a)], { axis: 1 }), [x]);
  });

  it("concatenate with a constant operand", () => {
    const c = rand([1, 4], 9);
    checkGradients((a) => np.concatenate([c, a, c]), [x]);
  });

  it("slice with strides, negative steps and empty results", () => {
    checkGradients((a) => np.slice(a, [{ start: 1 }, { step: 2 }]), [x]);
    checkGradients((a) => np.slice(a, [{ step: -2 }, { start: -1, stop: 0, step: -3 }]), [x]);
    checkGradients(
      (a) =>
        np.slice(np.multiply(a, a), [
          { start: 1, stop: 3 },
          { start: 1, stop: 2 },
        ]),
      [x],
    );
    checkGradients((a) => np.add(np.sum(np.slice(a, [{ start: 2, stop: 2 }])), np.sum(a)), [x]);
    checkGradients((a) => slicePrim.bind1([a], { start: [0, 1], limit: [3, 4], strides: [2, 3] }), [x]);
  });

  it("split", () => {
    checkGradients((a) => np.split(a, [1, -1], { axis: 1 })[1]!, [x]);
    checkGradients(
      (a) => {
        const [p, q] = np.split(a, 2, { axis: 1 });
        return np.multiply(p!, q!);
      },
      [x],
    );
  });

  it("pad, including interior padding and empty axes", () => {
    checkGradients(
      (a) =>
        np.pad(
          a,
          [
            [1, 0],
            [2, 3],
          ],
          { constantValues: 4 },
        ),
      [x],
    );
    checkGradients((a) => np.pad(np.tanh(a), 2), [x]);
    checkGradients((a) => padPrim.bind1([a], { lo: [0, 1], hi: [2, 0], interior: [1, 2], value: 0 }), [x]);
    checkGradients((a) => np.add(np.sum(np.pad(np.slice(a, [{ stop: 0 }]), 1)), np.sum(a)), [x]);
  });

  it("flip, tile and repeat", () => {
    checkGradients((a) => np.flip(a), [x]);
    checkGradients((a) => np.flip(np.sin(a), { axis: 1 }), [x]);
    checkGradients((a) => np.tile(a, [2, 1, 3]), [x]);
    checkGradients((a) => np.repeat(a, 2, { axis: 1 }), [x]);
    checkGradients((a) => np.repeat(np.multiply(a, a), 3), [x]);
  });
});

// ---------------------------------------------------------------------------------------------------
// batching

describe("vmap", () => {
  const x = rand([3, 4, 5], 3);
  const y = rand([3, 2, 5], 4);

  it("concatenate with batched and unbatched operands", () => {
    checkVmap((a, b) => np.concatenate([a, b]), [x, y], [0, 0]);
    checkVmap((a, b) => np.concatenate([a, b], { axis: -1 }), [x, rand([4, 3, 3], 5)], [0, 1]);
    checkVmap((a, b) => np.concatenate([a, b]), [x, rand([2, 5], 6)], [0, null]);
    checkVmap((a, b) => np.concatenate([a, b]), [rand([2, 5], 6), rand([2, 5, 3], 7)], [null, 2]);
  });

  it("pad, slice, flip, tile, repeat along any batch axis", () => {
    for (const axis of [0, 1, 2]) {
      checkVmap(
        (a) =>
          np.pad(
            a,
            [
              [1, 0],
              [0, 2],
            ],
            { constantValues: 3 },
          ),
        [x],
        [axis],
      );
      checkVmap((a) => np.slice(a, [{ step: -1 }, { start: 1, step: 2 }]), [x], [axis]);
      checkVmap((a) => np.flip(a, { axis: 0 }), [x], [axis]);
      checkVmap((a) => np.tile(a, [2, 1]), [x], [axis]);
      checkVmap((a) => np.repeat(a, 2, { axis: 1 }), [x], [axis]);
      checkVmap(
        (a) => padPrim.bind1([a], { lo: [0, 1], hi: [1, 0], interior: [1, 1], value: 0 }),
        [x],
        [axis],
      );
    }
  });

  it("per-example gradients through vmap of vjp", () => {
    const perExampleGrad = (a: NdArray) => {
      const [, back] = vjp(
        (v: NdArray) => np.sum(np.multiply(np.slice(np.pad(v, 2), [{ step: 2 }]), np.flip(v))),
        a,
      );
      return back(np.scalar(1, "float64"))[0];
    };
    checkVmap(perExampleGrad, [rand([4, 5], 8)], [0]);
  });
});
