/**
 * np.index / x.index (issue 18, numpy indexing through one function). The random differential cases
 * against numpy 1.24 (eager and jitted) are in test/differential ("index"); this file holds numpy's
 * answers for the documented forms, Python's slice clamping for every start/stop/step on small sizes
 * (fixtures/slice-indices.json.gz, written by fixtures/slice_indices.py), the errors, gradients
 * against central differences, vmap, and traced indices and masks under jit.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, np, vmap } from "../../src/index.js";
import { checkGradients, checkVmap, expectClose, rand } from "../helpers/op-checks.js";

const x = np.arange(24, undefined, 1, { dtype: "int32" }).reshape([2, 3, 4]);
const i32 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "int32" });

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error, none was thrown");
}

describe("np.index against numpy 1.24", () => {
  // Each expected value printed by /usr/bin/python3 with numpy 1.24 for x = np.arange(24).reshape(2, 3, 4).
  const cases: [string, () => NdArray, number[], unknown][] = [
    ["x[1, -1]", () => np.index(x, 1, -1), [4], [20, 21, 22, 23]],
    [
      "x[::-1, 1:, ::2]",
      () => np.index(x, "::-1", { start: 1 }, "::2"),
      [2, 2, 2],
      [
        [
          [16, 18],
          [20, 22],
        ],
        [
          [4, 6],
          [8, 10],
        ],
      ],
    ],
    [
      "x[..., None, 0]",
      () => np.index(x, "...", null, 0),
      [2, 3, 1],
      [
        [[0], [4], [8]],
        [[12], [16], [20]],
      ],
    ],
    [
      "x[[0, 1], [2, 0]]",
      () => np.index(x, [0, 1], [2, 0]),
      [2, 4],
      [
        [8, 9, 10, 11],
        [12, 13, 14, 15],
      ],
    ],
    [
      "x[:, [[0], [2]], [1, 3]] (adjacent arrays broadcast in place)",
      () => np.index(x, ":", i32([[0], [2]]), [1, 3]),
      [2, 2, 2],
      [
        [
          [1, 3],
          [9, 11],
        ],
        [
          [13, 15],
          [21, 23],
        ],
      ],
    ],
    [
      "x[[1, 0], :, [3, 1]] (separated by a slice: first)",
      () => np.index(x, [1, 0], ":", [3, 1]),
      [2, 3],
      [
        [15, 19, 23],
        [1, 5, 9],
      ],
    ],
    [
      "x[0, :, [1, 2]] (an integer counts as an array)",
      () => np.index(x, 0, ":", i32([1, 2])),
      [2, 3],
      [
        [1, 5, 9],
        [2, 6, 10],
      ],
    ],
    ["x[x % 5 == 0]", () => np.index(x, np.equal(np.mod(x, 5), 0)), [5], [0, 5, 10, 15, 20]],
    [
      "x[:, [True, False, True], 1:3]",
      () => x.index(":", [true, false, true], "1:3"),
      [2, 2, 2],
      [
        [
          [1, 2],
          [9, 10],
        ],
        [
          [13, 14],
          [21, 22],
        ],
      ],
    ],
  ];

  for (const [name, f, shape, expected] of cases) {
    it(name, () => {
      const y = f();
      expect(y.shape).toEqual(shape);
      expect(y.dtype).toBe("int32");
      expect(y.toArray()).toEqual(expected);
    });
  }

  it("no items is the array itself; x[True] and x[False] add an axis of 1 and 0", () => {
    expect(np.index(x).toArray()).toEqual(x.toArray());
    expect(np.index(x, true).shape).toEqual([1, 2, 3, 4]);
    expect(np.index(x, false).shape).toEqual([0, 2, 3, 4]);
    expect(np.index(np.scalar(5), null).toArray()).toEqual([5]);
  });
});

describe("slices follow Python's slice.indices", () => {
  const { cases } = JSON.parse(
    gunzipSync(readFileSync(new URL("./fixtures/slice-indices.json.gz", import.meta.url))).toString("utf8"),
  ) as { cases: [number, number | null, number | null, number | null, number[]][] };

  it(`${cases.length} start/stop/step combinations, as objects and as strings`, () => {
    const bad: string[] = [];
    for (const [n, start, stop, step, expected] of cases) {
      const a = np.arange(n, undefined, 1, { dtype: "int32" });
      const text = `${start ?? ""}:${stop ?? ""}${step === null ? "" : `:${step}`}`;
      const object = {
        ...(start === null ? {} : { start }),
        ...(stop === null ? {} : { stop }),
        ...(step === null ? {} : { step }),
      };
      for (const item of [text, object]) {
        const got = Array.from(np.index(a, item).toTypedArray());
        if (got.join() !== expected.join())
          bad.push(`range(${n})[${text}] via ${JSON.stringify(item)}: [${got}], Python [${expected}]`);
      }
    }
    expect(bad.slice(0, 10)).toEqual([]);
    expect(cases.length).toBe(2800);
  });
});

describe("np.index errors", () => {
  it("an integer out of range is an IndexError at trace time, naming the axis, size and index", () => {
    const e = thrown(() => jit((a: NdArray) => np.index(a, 0, 3))(x));
    expect(e).toBeInstanceOf(np.IndexError);
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe("index: index 3 is out of bounds for axis 1 with size 3");
    expect(thrown(() => np.index(x, -3)).message).toBe(
      "index: index -3 is out of bounds for axis 0 with size 2",
    );
  });

  it("a concrete index array out of range is an IndexError before anything runs", () => {
    const e = thrown(() => np.index(x, ":", [0, 1, -4]));
    expect(e).toBeInstanceOf(np.IndexError);
    expect(e.message).toBe("index: index -4 is out of bounds for axis 1 with size 3");
  });

  it("traced indices out of range are a RangeError when the plan runs, on one axis and on several", () => {
    const one = jit((a: NdArray, i: NdArray) => np.index(a, ":", ":", i));
    expect(one(x, i32([3, -4])).toArray()).toEqual(np.index(x, ":", ":", [3, 0]).toArray());
    const e1 = thrown(() => one(x, i32([1, 4])));
    expect(e1).toBeInstanceOf(RangeError);
    expect(e1.message).toBe("index: index 4 is out of bounds for axis 2 with size 4");
    const several = jit((a: NdArray, i: NdArray, j: NdArray) => np.index(a, i, ":", j));
    expect(several(x, i32([1]), i32([-1])).toArray()).toEqual([[15, 19, 23]]);
    expect(thrown(() => several(x, i32([0, 2]), i32([0]))).message).toBe(
      "index: index 2 is out of bounds for axis 0 with size 2",
    );
    expect(thrown(() => several(x, i32([0]), i32([-5]))).message).toBe(
      "index: index -5 is out of bounds for axis 2 with size 4",
    );
    const batched = vmap((i: NdArray) => np.index(x, i, 0, i), { inAxes: [0] });
    expect(thrown(() => batched(i32([[0], [3]]))).message).toContain("out of bounds for axis");
  });

  it("numpy's IndexErrors for the shape of the index", () => {
    const cases: [() => unknown, string][] = [
      [
        () => np.index(x, 0, 0, 0, 0),
        "index: too many indices for array: array is 3-dimensional, but 4 were indexed",
      ],
      [() => np.index(x, "...", 0, "..."), 'index: an index can only have a single ellipsis ("...")'],
      [
        () => np.index(x, [0, 1], [0, 1, 2]),
        "index: shape mismatch: indexing arrays could not be broadcast together with shapes [2] [3]",
      ],
      [
        () => np.index(x, ":", [true, false]),
        "index: boolean index did not match indexed array along dimension 1; dimension is 3 but corresponding boolean dimension is 2",
      ],
      [
        () => np.index(x, np.array([0.5])),
        "index: arrays used as indices must be of integer or boolean type, got float32[1]",
      ],
    ];
    for (const [f, message] of cases) {
      const e = thrown(f);
      expect(e).toBeInstanceOf(np.IndexError);
      expect(e.message).toContain(message);
    }
  });

  it("malformed items are TypeErrors naming the forms", () => {
    expect(thrown(() => np.index(x, "1:2:3:4")).message).toContain(
      'index: "1:2:3:4" is not an index; strings are "..." or a slice in Python\'s syntax',
    );
    expect(thrown(() => np.index(x, "0")).message).toContain('"0" is not an index');
    expect(thrown(() => np.index(x, 1.5))).toBeInstanceOf(np.IndexError);
    expect(thrown(() => np.index(x, "::0")).message).toBe("index: slice step cannot be zero");
    expect(thrown(() => np.index(x, { step: 0 })).message).toBe("index: slice step cannot be zero");
    expect(thrown(() => np.index(x, { start: 0.5 })).message).toContain("slice start must be an integer");
    expect(thrown(() => np.index(x, { begin: 1 } as never)).message).toContain(
      "a slice object has the keys start, stop and step",
    );
    expect(thrown(() => np.index(x, [0, true] as never)).message).toContain(
      "a list used as an index must hold only integers or only booleans",
    );
    expect(thrown(() => np.index(x, undefined as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => np.index(x, [0], { size: 2 })).message).toBe(
      "index: the options { size, fillValue } apply to boolean masks, and the index has none",
    );
    expect(thrown(() => np.index(x, { size: 2 } as never, [true, false])).message).toBe(
      "index: the options { size, fillValue } must be the last argument",
    );
    expect(thrown(() => np.index(x, [true, false], { size: -1 })).message).toContain(
      "size must be a non-negative integer",
    );
  });
});

describe("boolean masks", () => {
  const values = rand([3, 4], 3);
  const mask = np.greater(values, 0);
  const count = np.sum(np.astype(mask, "int32")).item();

  it("under jit a traced mask needs a static size, and says so", () => {
    const e = thrown(() => jit((a: NdArray, m: NdArray) => np.index(a, m))(values, mask));
    expect(e).toBeInstanceOf(np.IndexError);
    expect(e.message).toContain("mask is not known while tracing; pass { size }");
  });

  it("with { size, fillValue } the first `size` selected elements, then the fill, eager and jitted", () => {
    const eagerSelected = np.index(values, mask).toTypedArray();
    for (const size of [0, count - 1, count, count + 3]) {
      const f = (a: NdArray, m: NdArray) => np.index(a, m, { size, fillValue: -7 });
      const expected = Array.from({ length: size }, (_, k) => (k < count ? eagerSelected[k]! : -7));
      expect(Array.from(f(values, mask).toTypedArray())).toEqual(expected);
      expect(Array.from(jit(f)(values, mask).toTypedArray())).toEqual(expected);
    }
  });

  it("a mask over the middle axes with a size keeps the other axes, default fill 0", () => {
    const m = np.array([true, false, true], { dtype: "bool" });
    const f = jit((y: NdArray, mm: NdArray) => np.index(y, ":", mm, { size: 3 }));
    const out = f(np.astype(x, "float32"), m);
    // x[:, [True, False, True]]: rows 0 and 2 of each block, then a row of the fill.
    expect(out.shape).toEqual([2, 3, 4]);
    expect(out.toArray()).toEqual([
      [
        [0, 1, 2, 3],
        [8, 9, 10, 11],
        [0, 0, 0, 0],
      ],
      [
        [12, 13, 14, 15],
        [20, 21, 22, 23],
        [0, 0, 0, 0],
      ],
    ]);
  });
});

describe("gradients, vmap and jit", () => {
  const a = rand([3, 4, 5], 1);

  it("grad of basic and advanced indexing agrees with central differences (float64)", () => {
    const forms: ((y: NdArray) => NdArray)[] = [
      (y) => np.index(y, -1, "::-2", { start: 1, stop: -1 }),
      (y) => np.index(y, null, "...", 2),
      (y) => np.index(y, [0, 2, 0], ":", [4, 4, 4]), // repeated indices accumulate
      (y) => np.index(y, ":", i32([[1], [2]]), [-1, 0]),
      (y) => np.index(y, 1, ":", i32([3, 3])),
      (y) =>
        np.index(y, [
          [true, false, true, false],
          [false, false, true, true],
          [true, true, true, true],
        ]),
    ];
    for (const f of forms) checkGradients(f, [a]);
  });

  it("grad through a sized mask under jit is the eager gradient, zero at the filled slots", () => {
    const m = np.greater(a, 0.5);
    const loss = (y: NdArray) => np.sum(np.square(np.index(y, m, { size: 40, fillValue: 3 })));
    const eager = grad(loss)(a);
    expectClose(jit(grad(loss))(a), eager, 0);
    expectClose(eager, np.where(m, np.multiply(a, 2), 0), 0);
  });

  it("repeated indices accumulate in the gradient, as a scatter-add", () => {
    const g = grad((y: NdArray) => np.sum(np.index(y, [0, 0, 1], [1, 1, 2])))(rand([2, 3], 5));
    expect(g.toArray()).toEqual([
      [0, 2, 0],
      [0, 0, 1],
    ]);
  });

  it("vmap over the array, over traced index arrays, and over both", () => {
    const idx = i32([
      [0, 2],
      [1, -1],
      [2, 2],
    ]);
    checkVmap((y) => np.index(y, "::-1", [1, 0]), [a], [0]);
    checkVmap((y, i) => np.index(y, ":", i), [a.index(0), idx], [null, 0]);
    checkVmap((y, i) => np.index(y, i, i), [a, idx], [0, 0]);
    checkVmap((y, i) => np.index(y, i, ":", [0, -1]), [rand([3, 3, 4, 5], 2), idx], [0, 0]);
    checkVmap((y, i) => np.index(y, i, 0), [rand([4, 5, 3], 4), idx], [2, 0]);
  });

  it("vmap over masks with a static size: each example its own selection", () => {
    const values = np.arange(12, undefined, 1, { dtype: "float32" }).reshape([3, 4]);
    const masks = np.array([
      [true, false, true, false],
      [false, false, false, true],
      [true, true, true, true],
    ]);
    const out = vmap((v: NdArray, m: NdArray) => np.index(v, m, { size: 3, fillValue: -1 }))(values, masks);
    expect(out.toArray()).toEqual([
      [0, 2, -1],
      [7, -1, -1],
      [8, 9, 10],
    ]);
  });

  it("jit of grad checks traced indices even where only the scatter-add of the gradient reads them", () => {
    const values = rand([3, 4], 9);
    const g = jit(grad((v: NdArray, i: NdArray, j: NdArray) => np.sum(np.index(v, i, j))));
    expect(g(values, i32([0, 2]), i32([1, -1])).toArray()).toEqual([
      [0, 1, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 1],
    ]);
    expect(thrown(() => g(values, i32([0, 3]), i32([1, 1]))).message).toBe(
      "index: index 3 is out of bounds for axis 0 with size 3",
    );
    const one = jit(grad((v: NdArray, i: NdArray) => np.sum(np.index(v, ":", i))));
    expect(thrown(() => one(values, i32([0, 4]))).message).toBe(
      "index: index 4 is out of bounds for axis 1 with size 4",
    );
  });

  it("jitted indexing with traced index arrays equals eager", () => {
    const i = i32([[2], [0]]);
    const j = i32([1, -1, 0]);
    const f = (y: NdArray, ii: NdArray, jj: NdArray) => np.index(y, ii, null, "1:", jj);
    expectClose(jit(f)(a, i, j), f(a, i, j), 0);
    expect(f(a, i, j).shape).toEqual([2, 3, 1, 3]);
  });
});
