/**
 * Gathers and scatters exported to ONNX and run in ONNX Runtime against tracegrad: take (Gather) and its
 * gradient scatter_add (ScatterND), take_along_axis (GatherElements) and its gradient
 * (ScatterElements), and the flat gather/scatter of `x.at[...]` with every mode, dropped out-of-range
 * positions, fills, and repeated positions in a set (the last update wins).
 */
import { describe, it } from "vitest";
import { grad, type NdArray, np, random } from "../../src/index.js";
import { expectSameInOrt } from "./ort.js";

type Float = "float32" | "float64";
const normal = (seed: number, shape: number[], dtype: Float) =>
  random.normal(random.key(seed), shape, { dtype });
const i32 = (values: number[] | number[][]) => np.array(values, { dtype: "int32" });

describe("onnx export of gathers and scatters, run in ONNX Runtime", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`take on each axis (negative and repeated indices) and its gradient, ${dtype}`, async () => {
      const f = (x: NdArray, i: NdArray, j: NdArray) => [
        np.take(x, i, { axis: 0 }),
        np.take(x, j, { axis: 1 }),
        np.take(x, j, { axis: 2 }),
        grad((a: NdArray) =>
          np.sum(np.multiply(np.take(a, j, { axis: 1 }), np.arange(4).astype(dtype).reshape([1, 4, 1]))),
        )(x),
        grad((a: NdArray) => np.sum(np.sin(np.take(a, i, { axis: 0 }))))(x),
      ];
      await expectSameInOrt(f, [
        normal(1, [3, 4, 5], dtype),
        i32([
          [2, -1],
          [0, 0],
        ]),
        i32([1, -2, 1, 3]),
      ]);
    });

    it(`takeAlongAxis and its gradient, ${dtype}`, async () => {
      const f = (x: NdArray, i: NdArray) => [
        np.takeAlongAxis(x, i, { axis: 1 }),
        grad((a: NdArray) => np.sum(np.square(np.takeAlongAxis(a, i, { axis: 1 }))))(x),
      ];
      await expectSameInOrt(f, [
        normal(2, [3, 4], dtype),
        i32([
          [0, 3, 3],
          [1, -1, 2],
          [2, 2, 2],
        ]),
      ]);
    });

    it(`x.at[...]: set (repeated positions: the last wins), add, mul, min, max, get with a fill, ${dtype}`, async () => {
      const f = (x: NdArray, i: NdArray, u: NdArray) => [
        np.at(x, i).set(u),
        np.at(x, i).add(u),
        np.at(x, i).mul(u),
        np.at(x, i).min(u),
        np.at(x, i).max(u),
        np.at(x, i).get({ mode: "fill", fillValue: -7 }),
      ];
      await expectSameInOrt(f, [normal(3, [6], dtype), i32([1, 4, 1, 9, 0, 1]), normal(4, [6], dtype)]);
    });
  }

  it("x.at[...] on int32 and bool operands", async () => {
    const f = (x: NdArray, b: NdArray, i: NdArray) => [
      np.at(x, i).add(np.array([5, 6, 7], { dtype: "int32" })),
      np.at(x, i).set(np.array([5, 6, 7], { dtype: "int32" })),
      np.at(b, i).set(np.array([true, false, true])),
      np.at(b, i).add(np.array([true, false, true])),
    ];
    await expectSameInOrt(f, [i32([1, 2, 3, 4]), np.array([false, true, false, true]), i32([3, 0, 3])]);
  });
});
