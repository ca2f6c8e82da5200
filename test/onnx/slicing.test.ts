/**
 * Slicing and joining exported to ONNX and run in ONNX Runtime against tracegrad: slice (strided and
 * reversed), rev, pad (edges and interior, from a strided slice's gradient), concatenate and stack, and
 * the dynamic slices with traced starts (negative starts counted from the end, out-of-range starts
 * clamped) inside and outside a scan.
 */
import { describe, it } from "vitest";
import { type DType, grad, lax, type NdArray, np, random } from "../../src/index.js";
import { expectSameInOrt } from "./ort.js";

type Float = "float32" | "float64";
const normal = (seed: number, shape: number[], dtype: Float) =>
  random.normal(random.key(seed), shape, { dtype });
const scalar = (value: number, dtype: DType = "int32"): NdArray => np.array(value, { dtype });

describe("onnx export of slicing, padding and joining, run in ONNX Runtime", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`slice (steps, negative steps), flip, and a strided slice's gradient (interior pad), ${dtype}`, async () => {
      const f = (x: NdArray) => [
        np.slice(x, [{ start: 1 }, { start: 0, stop: 4, step: 2 }]),
        np.slice(x, [{ step: -1 }, { start: -2, step: -3 }]),
        np.flip(x, { axis: 1 }),
        np.flip(x),
        grad((a: NdArray) =>
          np.sum(
            np.sin(
              np.slice(a, [
                { start: 1, step: 2 },
                { start: 1, stop: 5, step: 3 },
              ]),
            ),
          ),
        )(x),
      ];
      await expectSameInOrt(f, [normal(1, [4, 6], dtype)]);
    });

    it(`pad (constant values, edges) and concatenate/stack with their gradients, ${dtype}`, async () => {
      const f = (x: NdArray, y: NdArray) => [
        np.pad(
          x,
          [
            [1, 2],
            [0, 3],
          ],
          { constantValues: 2.5 },
        ),
        np.concatenate([x, y, x], { axis: 1 }),
        np.stack([x, x], { axis: 2 }),
        grad((a: NdArray) =>
          np.sum(
            np.square(
              np.concatenate(
                [
                  a,
                  np.pad(a, [
                    [0, 0],
                    [1, 1],
                  ]),
                ],
                { axis: 1 },
              ),
            ),
          ),
        )(x),
      ];
      await expectSameInOrt(f, [normal(2, [3, 2], dtype), normal(3, [3, 4], dtype)]);
    });

    it(`dynamicSlice and dynamicUpdateSlice with traced starts (negative, clamped), ${dtype}`, async () => {
      const f = (x: NdArray, u: NdArray, i: NdArray, j: NdArray) => [
        lax.dynamicSlice(x, [i, j], [2, 3]),
        lax.dynamicUpdateSlice(x, u, [i, j]),
        lax.dynamicSlice(x, [j, i], [3, 1], { allowNegativeIndices: false }),
        grad((a: NdArray) => np.sum(np.exp(lax.dynamicSlice(a, [i, j], [2, 3]))))(x),
      ];
      for (const [i, j] of [
        [0, 0],
        [1, 2],
        [-1, -2],
        [7, -9],
      ])
        await expectSameInOrt(f, [
          normal(4, [4, 5], dtype),
          normal(5, [2, 3], dtype),
          scalar(i!),
          scalar(j!),
        ]);
    });

    it(`dynamic slices driven by a scan's index (writing rows into a buffer), ${dtype}`, async () => {
      const f = (x: NdArray) => {
        const [buf] = lax.scan(
          (acc: NdArray, i: NdArray) =>
            [
              lax.dynamicUpdateSlice(acc, np.multiply(lax.dynamicSlice(x, [i, scalar(0)], [1, 3]), 2), [
                np.subtract(3, i),
                scalar(0),
              ]),
              i,
            ] as [NdArray, NdArray],
          np.zeros([4, 3], { dtype }),
          np.arange(4).astype("int32"),
        );
        return buf;
      };
      await expectSameInOrt(f, [normal(6, [4, 3], dtype)]);
    });
  }
});
