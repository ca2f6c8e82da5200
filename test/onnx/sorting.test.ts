/**
 * Sorting and accumulating exported to ONNX and run in ONNX Runtime against tracegrad: sort and argsort
 * (stable both ways, NaN last ascending and first descending, ties and signed zeros in their original
 * order), topK, searchsorted on both sides, the key sort of random.permutation, cumsum (CumSum), and
 * cumprod, cummax and cummin (a Loop of the kernel's steps), forward, reversed and on int32.
 */
import { describe, it } from "vitest";
import { grad, type NdArray, np, random } from "../../src/index.js";
import { expectSameInOrt } from "./ort.js";

type Float = "float32" | "float64";

/** Values with ties, signed zeros, infinities and NaNs, [3, 6]. */
function awkward(dtype: Float): NdArray {
  const v = [
    3,
    Number.NaN,
    -0,
    1,
    0,
    3,
    -Infinity,
    2,
    2,
    Number.NaN,
    Infinity,
    -1,
    0.5,
    -0,
    0,
    0.5,
    Number.NaN,
    -2,
  ];
  return np.reshape(np.array(v, { dtype }), [3, 6]);
}

describe("onnx export of sorting and cumulative ops, run in ONNX Runtime", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`sort and argsort along each axis, ascending and descending, with NaN, ties and -0, ${dtype}`, async () => {
      const f = (x: NdArray) => [
        np.sort(x),
        np.argsort(x),
        np.sort(x, { axis: 0 }),
        np.argsort(x, { axis: 0, descending: true }),
        np.sort(x, { descending: true }),
        np.argsort(x, { axis: null }),
      ];
      await expectSameInOrt(f, [awkward(dtype)]);
    });

    it(`topK (ties by the lower index, NaN largest) and the gradient of a sort, ${dtype}`, async () => {
      const x = random.normal(random.key(1), [4, 7], { dtype });
      await expectSameInOrt((a: NdArray) => np.topK(a, 3), [awkward(dtype)]);
      await expectSameInOrt(
        (a: NdArray) => [
          ...np.topK(a, 7),
          grad((b: NdArray) =>
            np.sum(np.multiply(np.sort(b, { axis: 0 }), np.arange(4).astype(dtype).reshape([4, 1]))),
          )(a),
        ],
        [x],
      );
    });

    it(`searchsorted, left and right, with NaN values, ${dtype}`, async () => {
      const sorted = np.array([-1, 0, 0, 2.5, 4, Number.NaN], { dtype });
      const values = np.array([-2, 0, 1, 4, 9, Number.NaN, -0], { dtype });
      await expectSameInOrt(
        (s: NdArray, v: NdArray) => [np.searchsorted(s, v), np.searchsorted(s, v, { side: "right" })],
        [sorted, values],
      );
    });

    it(`cumsum, cumprod, cummax, cummin along each axis, forward and reversed, ${dtype}`, async () => {
      const f = (x: NdArray) => [
        np.cumsum(x, { axis: 1 }),
        np.cumsum(x, { axis: 0, reverse: true }),
        np.cumprod(x, { axis: 1 }),
        np.cumprod(x, { axis: 0, reverse: true }),
        np.cummax(x, { axis: 1 }),
        np.cummin(x, { axis: 1, reverse: true }),
        np.cummax(x, { axis: 0 }),
      ];
      await expectSameInOrt(f, [awkward(dtype)]);
      await expectSameInOrt(f, [random.normal(random.key(2), [3, 5, 2], { dtype })]);
    });
  }

  it("int32: sort, topK, cumsum and cumprod (wrapping), cummax", async () => {
    const x = np.array(
      [
        [5, -3, 5, 0, 100000, -7],
        [2, 2, 1, 70000, 3, -1],
      ],
      { dtype: "int32" },
    );
    const f = (a: NdArray) => [
      np.sort(a),
      np.argsort(a, { descending: true }),
      ...np.topK(a, 2),
      np.cumsum(a, { axis: 1 }),
      np.cumprod(a, { axis: 1 }),
      np.cummax(a, { axis: 0 }),
    ];
    await expectSameInOrt(f, [x]);
  });

  it("random.permutation (sort_by_key on uint32 keys) from a key input", async () => {
    const x = np.reshape(np.arange(24), [4, 6]).astype("float32");
    await expectSameInOrt(
      (k: NdArray, a: NdArray) => [
        random.permutation(k, a),
        random.permutation(k, a, { axis: 1 }),
        random.permutation(k, 9),
      ],
      [random.key(5), x],
    );
  });

  for (const dtype of ["float32", "float64"] as const)
    it(`logcumsumexp (npy_logaddexp steps: equal terms, infinities, NaN), forward and reversed, ${dtype}`, async () => {
      const x = np.array(
        [
          [0.5, 0.5, -Infinity, 3, -2, Infinity],
          [-Infinity, -Infinity, 1, Number.NaN, 2, 40],
        ],
        { dtype },
      );
      await expectSameInOrt(
        (a: NdArray) => [np.logcumsumexp(a, { axis: 1 }), np.logcumsumexp(a, { axis: 0, reverse: true })],
        [x],
      );
      await expectSameInOrt(
        (a: NdArray) => np.logcumsumexp(a, { axis: 1, reverse: true }),
        [random.normal(random.key(4), [3, 9], { dtype })],
      );
    });
});
