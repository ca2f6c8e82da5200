/**
 * Bad input to the creation functions gets a clear typed error naming the function, the bad value and
 * what was expected, before anything is allocated (issue 15, "Bad input"); typed arrays convert by the
 * documented rule and never lose values.
 */
import { describe, expect, it } from "vitest";
import { MAX_ARRAY_BYTES, np, ShapeError } from "../../src/index.js";

describe("creation checks the size before allocating", () => {
  it("throws a ShapeError naming the function and shape past MAX_ARRAY_BYTES", () => {
    expect(MAX_ARRAY_BYTES).toBe(2 ** 31);
    expect(() => np.zeros([1e6, 1e6])).toThrow(ShapeError);
    expect(() => np.zeros([1e6, 1e6])).toThrow(/zeros: shape \[1000000,1000000\] of float32 .*2 GiB limit/);
    expect(() => np.zeros([2 ** 32])).toThrow(/zeros: shape \[4294967296\] of float32/);
    expect(() => np.ones([2 ** 31])).toThrow(/ones: shape \[2147483648\] of float32/);
    expect(() => np.full([2 ** 28 + 1], 1, { dtype: "float64" })).toThrow(/full: .* of float64/);
    expect(() => np.eye(2 ** 16, 2 ** 16)).toThrow(/eye: shape \[65536,65536\]/);
    expect(() => np.arange(2 ** 30)).toThrow(/arange: shape \[1073741824\] of int32/);
    expect(() => np.linspace(0, 1, 2 ** 29 + 1)).toThrow(/linspace: /);
    expect(() => np.array([1, 2], { shape: [2 ** 40, 0, 1] })).not.toThrow(/GiB/);
  });

  it("shapes must be lists of non-negative safe integers, or one size", () => {
    expect(np.zeros(3).shape).toEqual([3]);
    expect(np.full(2, 7).toArray()).toEqual([7, 7]);
    expect(() => np.zeros([2, -1])).toThrow(
      /zeros: invalid shape \[2,-1\]: -1 is not a non-negative integer/,
    );
    expect(() => np.zeros([1.5])).toThrow(ShapeError);
    expect(() => np.zeros([NaN])).toThrow(/NaN is not a non-negative integer/);
    expect(() => np.ones([2 ** 53])).toThrow(/is not a non-negative integer/);
    expect(() => np.zeros("3" as never)).toThrow(/zeros: expected a shape .*got "3"/);
    expect(() => np.zeros(null as never)).toThrow(/zeros: expected a shape .*got null/);
  });
});

describe("bad values get typed errors naming the function, value and expectation", () => {
  it("arange refuses non-finite bounds and a zero step", () => {
    expect(() => np.arange(NaN)).toThrow(RangeError);
    expect(() => np.arange(NaN)).toThrow(/arange: stop must be a finite number, got NaN/);
    expect(() => np.arange(0, Infinity)).toThrow(/arange: stop must be a finite number, got Infinity/);
    expect(() => np.arange(NaN, 3)).toThrow(/arange: start must be a finite number, got NaN/);
    expect(() => np.arange(0, 3, 0)).toThrow(/arange: step must be non-zero/);
    expect(np.arange(3).toArray()).toEqual([0, 1, 2]);
  });

  it("full and scalar take JS numbers and booleans only", () => {
    expect(() => np.full([2], "x" as never)).toThrow(TypeError);
    expect(() => np.full([2], "x" as never)).toThrow(/full: expected a JS number or boolean, got "x"/);
    expect(() => np.scalar(np.ones([2]) as never)).toThrow(
      /scalar: expected a JS number or boolean, got an array of shape \[2\]/,
    );
    expect(() => np.scalar(undefined as never)).toThrow(/scalar: .*got undefined/);
  });

  it("an unknown dtype names the function and the dtypes there are", () => {
    expect(() => np.ones([2]).astype("int64" as never)).toThrow(TypeError);
    expect(() => np.ones([2]).astype("int64" as never)).toThrow(
      /astype: unknown dtype "int64" \(expected one of bool, uint8, int8, uint16, int16, uint32, int32, bfloat16, float16, float32, float64\)/,
    );
    expect(() => np.zeros([2], { dtype: "uint64" as never })).toThrow(/zeros: unknown dtype "uint64"/);
  });

  it("an operand that is not an array, number or boolean names the op and the operand", () => {
    const x = np.ones([2]);
    expect(() => x.mul(null as never)).toThrow(TypeError);
    expect(() => x.mul(null as never)).toThrow(
      /multiply: operand 2 is null; expected an array or a JS number or boolean/,
    );
    expect(() => np.add([1, 2] as never, x)).toThrow(
      /add: operand 1 is a JS array \(wrap it with np.array\)/,
    );
    expect(() => np.where(true, x, undefined as never)).toThrow(/where: operand 2 is undefined/);
  });
});

describe("np.array names what is wrong with its data", () => {
  it("a value that is not a number or boolean is a TypeError naming it; raggedness stays a ShapeError", () => {
    expect(() => np.array([1, "2"] as never)).toThrow(TypeError);
    expect(() => np.array([1, "2"] as never)).toThrow(
      /array: expected nested lists of JS numbers or booleans, got "2" at depth 1/,
    );
    expect(() => np.array(null as never)).toThrow(/got null at depth 0/);
    expect(() => np.array({} as never)).toThrow(/got an Object/);
    expect(() => np.array([np.ones([2])] as never)).toThrow(
      /an array of shape \[2\] inside a list \(use np.stack\)/,
    );
    expect(() => np.array([[1, 2], [3]])).toThrow(ShapeError);
  });

  it("eye's k must be an integer, and broadcasts past the limit are refused before allocating", () => {
    expect(() => np.eye(2, 2, { k: 0.5 })).toThrow(/eye: k must be an integer, got 0.5/);
    expect(() => np.broadcastTo(np.ones([1]), [2 ** 31])).toThrow(ShapeError);
    expect(() => np.outer(np.ones([70000]), np.ones([70000]))).toThrow(
      /shape \[70000,70000\] of float32 needs 18.3 GiB/,
    );
  });
});

describe("typed arrays keep their values (documented rule in np.array)", () => {
  it("8-, 16- and 32-bit integer arrays keep their dtype, exactly (Uint8ClampedArray is uint8)", () => {
    for (const [data, dtype] of [
      [new Uint8Array([1, 2, 255]), "uint8"],
      [new Int8Array([1, -2, 127]), "int8"],
      [new Uint8ClampedArray([1, 2, 255]), "uint8"],
      [new Int16Array([1, -2, -32768]), "int16"],
      [new Uint16Array([1, 2, 65535]), "uint16"],
      [new Uint32Array([1, 2 ** 32 - 1]), "uint32"],
    ] as const) {
      const x = np.array(data);
      expect(x.dtype).toBe(dtype);
      expect(x.toArray()).toEqual(Array.from(data));
    }
    expect(np.array(new Uint32Array([2 ** 32 - 1]), { dtype: "float64" }).toArray()).toEqual([2 ** 32 - 1]);
  });

  it("64-bit integer arrays and DataViews throw", () => {
    expect(() => np.array(new BigInt64Array([1n]) as never)).toThrow(
      /array: a BigInt64Array is not supported/,
    );
    expect(() => np.array(new BigUint64Array([1n]) as never)).toThrow(TypeError);
    expect(() => np.array(new DataView(new ArrayBuffer(4)) as never)).toThrow(
      /array: a DataView is not supported/,
    );
  });

  it("float and int32 arrays keep their dtype", () => {
    expect(np.array(new Float64Array([0.1])).dtype).toBe("float64");
    expect(np.array(new Float32Array([0.5])).dtype).toBe("float32");
    expect(np.array(new Int32Array([-1])).dtype).toBe("int32");
  });
});
