/**
 * threefry2x32 exported in integer ops (random_bits, random_fold_in) and the samplers built on it, run in
 * ONNX Runtime with the key as a model input: the bits, splits and folded keys equal tracegrad's bit for
 * bit, and the samples agree to the dtype's rounding.
 */
import { describe, it } from "vitest";
import { type NdArray, nn, np, random, vmap } from "../../src/index.js";
import { expectSameInOrt } from "./ort.js";

const KEYS = [random.key(0), random.key(42), random.foldIn(random.key(7), 123456789)];

describe("onnx export of threefry2x32, run in ONNX Runtime with the key as an input", () => {
  it("random.bits: even and odd sizes, several shapes, equal bit for bit", async () => {
    for (const key of KEYS) {
      await expectSameInOrt((k) => [random.bits(k!, [6]), random.bits(k!, [3, 5]), random.bits(k!)], [key]);
    }
  });

  it("random.split and random.foldIn (a traced datum and a constant one)", async () => {
    for (const key of KEYS) {
      const data = np.array([-1, 0, 2 ** 31 - 1, 17], { dtype: "int32" });
      await expectSameInOrt(
        (k, d) => [
          random.split(k!, 3),
          random.foldIn(k!, 99),
          vmap((x: NdArray) => random.foldIn(k!, x))(d!),
        ],
        [key, data],
      );
    }
  });

  it("batched keys (vmap of a sampler over split keys)", async () => {
    await expectSameInOrt(
      (k) => vmap((kk: NdArray) => random.bits(kk, [5]))(random.split(k!, 4)),
      [random.key(3)],
    );
  });

  for (const dtype of ["float32", "float64"] as const)
    it(`random.uniform and random.randint from a key input, ${dtype}`, async () => {
      await expectSameInOrt(
        (k) => [random.uniform(k!, [4, 3], { dtype }), random.randint(k!, [7], -5, 1000)],
        [random.key(11)],
      );
    });
});

describe("onnx export of erf and erf_inv (float64 loops that stop where the scalar loops break)", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`random.normal from a key input, ${dtype}`, async () => {
      await expectSameInOrt((k) => [random.normal(k!, [50], { dtype })], [random.key(13)]);
    });

    it(`erf (series, continued fraction and saturated ranges) and erfInv, with edge values, ${dtype}`, async () => {
      const x = np.array(
        [-30, -6.5, -3, -1.5, -1.49, -0.3, -0, 0, 1e-300, 0.2, 1.2, 1.5, 2.7, 5.9, 6.1, 40, Number.NaN],
        { dtype },
      );
      const y = np.array(
        [-1, -0.999999, -0.9, -0.51, -0.5, -0.1, 0, 1e-8, 0.3, 0.5, 0.7, 0.99999999, 1, 1.5, Number.NaN],
        { dtype },
      );
      await expectSameInOrt((a, b) => [np.erf(a!), random.erfInv(b!), nn.gelu(a!)], [x, y]);
    });
  }
});
