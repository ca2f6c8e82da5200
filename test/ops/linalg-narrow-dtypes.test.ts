/**
 * The factorization primitives take float16/bfloat16 (computed in float32, rounded once) and refuse
 * narrow integer operands with a DTypeError: widening uint32 to float64 and writing the factors back as
 * uint32 was a silent wrong answer (lax.linalg.svd of a uint32 matrix gave s = [5, 1] and U = 0).
 */
import { describe, expect, it } from "vitest";
import type { NdArray } from "../../src/core/array.js";
import { DTypeError } from "../../src/core/dtype.js";
import { lax, np } from "../../src/index.js";
import { choleskyPrim } from "../../src/ops/linalg-cholesky.js";
import { eighPrim } from "../../src/ops/linalg-eigh.js";
import { qrPrim } from "../../src/ops/linalg-qr.js";
import { svdPrim } from "../../src/ops/linalg-svd.js";
import { triangularSolvePrim } from "../../src/ops/linalg-triangular.js";

const spd = [
  [4, 2],
  [2, 3],
];
const NARROW_INTS = ["uint8", "int8", "uint16", "int16", "uint32"] as const;

const binds: [string, (a: NdArray) => NdArray[]][] = [
  ["cholesky", (a) => choleskyPrim.bind([a], {})],
  ["qr", (a) => qrPrim.bind([a], { fullMatrices: false })],
  ["eigh", (a) => eighPrim.bind([a], { lower: true, vectors: true })],
  ["svd", (a) => svdPrim.bind([a], { fullMatrices: false, computeUv: true })],
  [
    "triangular_solve",
    (a) =>
      triangularSolvePrim.bind([a, a], {
        leftSide: true,
        lower: true,
        transposeA: false,
        unitDiagonal: false,
      }),
  ],
];

describe("linalg primitives and narrow dtypes", () => {
  for (const [name, bind] of binds) {
    for (const dtype of NARROW_INTS) {
      it(`${name} refuses ${dtype} operands`, () => {
        expect(() => bind(np.array(spd, { dtype }))).toThrow(DTypeError);
        expect(() => bind(np.array(spd, { dtype }))).toThrow(new RegExp(`${name}: ${dtype} operands`));
      });
    }
  }

  it("lax.linalg.svd of a uint32 matrix is a DTypeError, not uint32 factors", () => {
    expect(() => lax.linalg.svd(np.array(spd, { dtype: "uint32" }))).toThrow(DTypeError);
  });

  it("float16 factors are the float32 ones rounded once", () => {
    const l16 = choleskyPrim.bind([np.array(spd, { dtype: "float16" })], {})[0]!;
    const l32 = choleskyPrim.bind([np.array(spd, { dtype: "float32" })], {})[0]!;
    expect(l16.dtype).toBe("float16");
    expect(Array.from(l16.astype("float32").toTypedArray())).toEqual(
      Array.from(l32.astype("float16").astype("float32").toTypedArray()),
    );
  });
});
