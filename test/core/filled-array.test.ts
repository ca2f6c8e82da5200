/**
 * Constant arrays (`ConcreteArray.filled`): an eager broadcast of one element keeps the value and writes
 * no storage until something reads `data`; elementwise kernels read the constant instead. Neither may
 * change a value: every case is checked against the same op on an ordinary array of the same elements.
 */
import { describe, expect, it } from "vitest";
import { ConcreteArray, type NdArray } from "../../src/core/array.js";
import type { DType } from "../../src/core/dtype.js";
import { jit, np } from "../../src/index.js";

/** The same elements in ordinary storage (a copy of the data, never a constant). */
function materialized(x: NdArray): ConcreteArray {
  const c = x.concrete();
  return new ConcreteArray(c.shape, c.dtype, c.storage.slice());
}

function bits(x: NdArray): number[] {
  const data = x.concrete().storage;
  if (data instanceof Float32Array)
    return Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length));
  if (data instanceof Float64Array)
    return Array.from(new Uint32Array(data.buffer, data.byteOffset, 2 * data.length));
  return Array.from(data as ArrayLike<number>);
}

describe("constant arrays", () => {
  it("an eager broadcast of one element is a constant, written out on the first read", () => {
    const x = np.full([2, 3], -0, { dtype: "float32" }).concrete();
    expect(x.constantFill).toBe(-0);
    expect(x.isDonated).toBe(false);
    expect(Object.is(x.storage[4], -0)).toBe(true);
    expect(x.storage.length).toBe(6);
    // Once its storage was handed out it is an ordinary array.
    expect(x.constantFill).toBeUndefined();
    const big = np.broadcastTo(np.array([7]), [3, 4]).concrete();
    expect(big.constantFill).toBe(7);
    expect(Array.from(big.storage)).toEqual(new Array(12).fill(7));
    expect(np.broadcastTo(np.array([1, 2]), [3, 2]).concrete().constantFill).toBeUndefined();
  });

  const dtypes: DType[] = ["float32", "float64", "int32", "uint8", "float16", "bool"];
  it.each(dtypes)(
    "elementwise ops on constants give the bits of the same ops on stored arrays (%s)",
    (dtype) => {
      const x = np.astype(
        np.array([
          [-2.5, -0, 0, 1.5],
          [3, Number.NaN, -1, 2],
        ]),
        dtype,
      );
      const values = [0, -0, 1.5, -3, Number.NaN, Number.POSITIVE_INFINITY];
      for (const v of values) {
        const c = np.full([2, 4], v, { dtype }).concrete();
        const stored = materialized(np.full([2, 4], v, { dtype }));
        expect(c.constantFill).toBeDefined();
        const cases: [string, (a: NdArray, b: NdArray) => NdArray][] = [
          ["add", (a, b) => np.add(a, b)],
          ["maximum", (a, b) => np.maximum(a, b)],
          ["lessEqual", (a, b) => np.lessEqual(a, b)],
          ["where", (a, b) => np.where(np.lessEqual(a, b), b, a)],
        ];
        for (const [name, op] of cases) {
          expect(bits(op(x, c)), `${name}(x, ${v})`).toEqual(bits(op(x, stored)));
          expect(bits(op(c, x)), `${name}(${v}, x)`).toEqual(bits(op(stored, x)));
          const both = op(c, np.full([2, 4], 2, { dtype }));
          expect(bits(both), `${name}(${v}, 2)`).toEqual(
            bits(op(stored, materialized(np.full([2, 4], 2, { dtype })))),
          );
        }
      }
    },
  );

  it("a constant donated to a jitted call is gone afterwards, as any donated array", () => {
    const step = jit((a: NdArray) => np.add(a, 1), { donateArgnums: [0] });
    const a = np.zeros([4]).concrete();
    expect(a.constantFill).toBe(0);
    expect(Array.from(step(a).concrete().storage)).toEqual([1, 1, 1, 1]);
    expect(a.isDonated).toBe(true);
    expect(() => a.storage).toThrow(/donated/);
  });
});
