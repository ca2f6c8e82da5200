import { describe, expect, it } from "vitest";
import { ConcretizationError, jit, makeProgram, type NdArray, np, ShapeError } from "../../src/index.js";

describe("arrays", () => {
  it("creates from nested lists, flat lists with a shape, and typed arrays", () => {
    const a = np.array([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe("float32");
    expect(a.ndim).toBe(2);
    expect(a.size).toBe(6);
    expect(np.array([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const i = np.array(new Int32Array([1, 2]));
    expect(i.dtype).toBe("int32");
    expect(np.array([true, false]).dtype).toBe("bool");
    expect(np.array([[]]).shape).toEqual([1, 0]);
    expect(np.array(3).shape).toEqual([]);
  });

  it("rejects ragged data and size mismatches with a clear error", () => {
    expect(() => np.array([[1, 2], [3]] as number[][])).toThrow(/ragged/);
    expect(() => np.array([1, 2, 3], { shape: [2, 2] })).toThrow(/3 values do not fill shape \[2,2\]/);
  });

  it("is immutable: toTypedArray is a copy", () => {
    const a = np.array([1, 2, 3]);
    const copy = a.toTypedArray();
    copy[0] = 100;
    expect(a.toArray()).toEqual([1, 2, 3]);
  });

  it("prints like numpy, summarizing long arrays", () => {
    expect(
      np
        .array([
          [1, 2],
          [3, 4],
        ])
        .toString(),
    ).toBe("array([[1., 2.],\n       [3., 4.]], shape=[2,2], dtype=float32)");
    const long = np.arange(2000).toString();
    expect(long).toContain("...");
    expect(long).toContain("1999");
    expect(np.array([true]).toString()).toContain("true");
  });

  it("item needs exactly one element", () => {
    expect(np.array([[7]]).item()).toBe(7);
    expect(() => np.array([1, 2]).item()).toThrow(/2 elements/);
  });

  it("creation helpers", () => {
    expect(np.zeros([2, 2]).toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(np.ones([3], { dtype: "int32" }).dtype).toBe("int32");
    expect(np.full([2], 7).toArray()).toEqual([7, 7]);
    expect(np.arange(1, 7, 2).toArray()).toEqual([1, 3, 5]);
    expect(np.arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(np.linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(np.eye(2, 3, { k: 1 }).toArray()).toEqual([
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(np.zerosLike(np.array([1, 2], { dtype: "float64" })).dtype).toBe("float64");
  });

  it("values of traced arrays cannot be read, with an explanation", () => {
    const f = (x: ReturnType<typeof np.array>) => (x.item() > 0 ? x : x.neg());
    expect(() => makeProgram(f)(np.array(1))).toThrow(ConcretizationError);
    expect(() => jit(f)(np.array(1))).toThrow(/cannot read the value/);
  });
});

describe("dtypes and broadcasting", () => {
  it("keeps float32 with JS numbers (weak typing) and promotes int32 + float32 to float32", () => {
    const x = np.array([1, 2]);
    expect(x.mul(2).dtype).toBe("float32");
    const i = np.array(new Int32Array([1, 2]));
    expect(i.mul(2).dtype).toBe("int32");
    expect(i.mul(2.5).dtype).toBe("float32");
    expect(i.add(x).dtype).toBe("float32");
    expect(x.astype("float64").add(x).dtype).toBe("float64");
    expect(np.divide(i, i).dtype).toBe("float32");
    expect(np.array([1.7, -1.7]).astype("int32").toArray()).toEqual([1, -1]);
  });

  it("broadcasts like numpy", () => {
    const a = np.array([[1], [2], [3]]);
    const b = np.array([10, 20]);
    expect(a.add(b).toArray()).toEqual([
      [11, 21],
      [12, 22],
      [13, 23],
    ]);
    expect(np.add(np.ones([2, 1, 4]), np.ones([3, 1])).shape).toEqual([2, 3, 4]);
    expect(np.add(np.ones([0, 3]), np.ones([3])).shape).toEqual([0, 3]);
  });

  it("shape mismatches name the op and both shapes", () => {
    expect(() => np.add(np.ones([2, 3]), np.ones([4, 5]))).toThrow(/add: shapes \[2,3\] and \[4,5\]/);
    expect(() => np.multiply(np.ones([2]), np.ones([3]))).toThrow(/multiply: shapes \[2\] and \[3\]/);
    expect(() => np.matmul(np.ones([2, 3]), np.ones([4, 5]))).toThrow(
      "matmul: contracting dims differ: [2,3] @ [4,5] (3 != 4)",
    );
    expect(() => np.reshape(np.ones([2, 3]), [4])).toThrow(
      /reshape: cannot reshape \[2,3\] \(6 elements\) into \[4\]/,
    );
    expect(() => np.sum(np.ones([2]), { axis: 3 })).toThrow(/sum: axis 3 is out of bounds/);
    expect(() => np.broadcastTo(np.ones([3]), [4])).toThrow(ShapeError);
    expect(() => np.transpose(np.ones([2, 3]), [0, 0])).toThrow(/transpose/);
  });
});

describe("elementwise and reductions", () => {
  it("computes unary and binary ops", () => {
    const x = np.array([-1.5, 0, 2.5], { dtype: "float64" });
    expect(np.abs(x).toArray()).toEqual([1.5, 0, 2.5]);
    expect(np.sign(x).toArray()).toEqual([-1, 0, 1]);
    expect(np.round(np.array([0.5, 1.5, 2.5, -0.5])).toArray()).toEqual([0, 2, 2, -0]);
    expect(np.mod(np.array([-3, 3]), np.array([2, -2])).toArray()).toEqual([1, -1]);
    expect(np.rem(np.array([-3, 3]), np.array([2, -2])).toArray()).toEqual([-1, 1]);
    expect(np.maximum(np.array([1, NaN]), 0).toArray()).toEqual([1, NaN]);
    expect(np.clip(np.array([-2, 0.5, 3]), 0, 1).toArray()).toEqual([0, 0.5, 1]);
    expect(np.isnan(np.array([NaN, 1])).toArray()).toEqual([true, false]);
    expect(np.logicalXor(np.array([true, false]), np.array([true, true])).toArray()).toEqual([false, true]);
    expect(np.power(np.array([2, 3]), 2).toArray()).toEqual([4, 9]);
    expect(np.erf(np.array([0.5], { dtype: "float64" })).item()).toBeCloseTo(0.5204998778130465, 15);
  });

  it("reduces over axes with keepdims and negative axes", () => {
    const x = np.arange(24).reshape([2, 3, 4]).astype("float64");
    expect(np.sum(x).item()).toBe(276);
    expect(np.sum(x, { axis: [0, 2] }).toArray()).toEqual([60, 92, 124]);
    expect(np.sum(x, { axis: -1, keepdims: true }).shape).toEqual([2, 3, 1]);
    expect(np.mean(x, { axis: 1 }).shape).toEqual([2, 4]);
    expect(np.max(x, { axis: 0 }).toArray()).toEqual((x.toArray() as number[][][])[1]);
    expect(
      np
        .argmax(
          np.array([
            [1, 5, 5],
            [7, 0, 7],
          ]),
          { axis: 1 },
        )
        .toArray(),
    ).toEqual([1, 0]);
    expect(np.prod(np.array([1, 2, 3, 4])).item()).toBe(24);
    expect(np.variance(np.array([1, 2, 3, 4], { dtype: "float64" })).item()).toBe(1.25);
    expect(np.std(np.array([1, 2, 3, 4], { dtype: "float64" }), { ddof: 1 }).item()).toBeCloseTo(
      Math.sqrt(5 / 3),
      14,
    );
    expect(
      np
        .cumsum(
          np.array([
            [1, 2],
            [3, 4],
          ]),
          { axis: 0 },
        )
        .toArray(),
    ).toEqual([
      [1, 2],
      [4, 6],
    ]);
    expect(np.any(np.array([false, true])).item()).toBe(1);
    expect(np.all(np.array([false, true])).item()).toBe(0);
    expect(np.sum(np.zeros([0, 3]), { axis: 0 }).toArray()).toEqual([0, 0, 0]);
    expect(() => np.max(np.zeros([0]))).toThrow(/zero-size reduction/);
  });

  it("handles transposed (non-contiguous) results and size-1 dims", () => {
    const x = np.arange(6).reshape([2, 3]);
    expect(x.T.toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    expect(x.T.add(np.array([[1], [1], [1]])).toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(np.transpose(np.arange(24).reshape([2, 3, 4]), [2, 0, 1]).shape).toEqual([4, 2, 3]);
    expect(np.squeeze(np.ones([1, 3, 1])).shape).toEqual([3]);
    expect(np.expandDims(np.ones([3]), -1).shape).toEqual([3, 1]);
    expect(np.flatten(np.ones([2, 3, 4]), 1).shape).toEqual([2, 12]);
  });

  it("matmul follows numpy for vectors and batches", () => {
    const a = np.arange(6).reshape([2, 3]).astype("float64");
    const v = np.array([1, 1, 1], { dtype: "float64" });
    expect(np.matmul(a, v).toArray()).toEqual([3, 12]);
    expect(np.matmul(v, a.T).toArray()).toEqual([3, 12]);
    expect(np.matmul(v, v).shape).toEqual([]);
    expect(np.matmul(np.ones([5, 2, 3]), np.ones([3, 4])).shape).toEqual([5, 2, 4]);
    expect(np.matmul(np.ones([2, 1, 2, 3]), np.ones([3, 3, 4])).shape).toEqual([2, 3, 2, 4]);
    expect(np.outer(np.array([1, 2]), np.array([3, 4, 5])).shape).toEqual([2, 3]);
  });
});

describe("arrays in a numeric context (Symbol.toPrimitive)", () => {
  it("a concrete size-1 array is its number, as numpy's float(x)", () => {
    // TypeScript wants a number on each side of `<`; plain JS (and `+x`) converts the same way.
    expect((np.array([0.5]).sum() as unknown as number) < 1).toBe(true);
    expect(+np.array([[2.5]])).toBe(2.5);
    expect(Number(np.scalar(3, "int32"))).toBe(3);
    expect(Number(np.array([true]))).toBe(1);
    expect((np.scalar(2) as unknown as number) * 3).toBe(6);
  });

  it("any other size throws a TypeError naming the shape", () => {
    expect(() => +np.ones([2])).toThrow(TypeError);
    expect(() => (np.ones([2, 3]) as unknown as number) > 1).toThrow(
      /array of shape \[2,3\] \(6 elements\) was used as a JS number/,
    );
    expect(() => +np.zeros([0])).toThrow(/shape \[0\]/);
  });

  it("a traced array throws a ConcretizationError, as item() does", () => {
    const f = jit((x: NdArray) => ((x.sum() as unknown as number) > 100 ? x.neg() : x));
    expect(() => f(np.ones([2]))).toThrow(ConcretizationError);
    expect(() => f(np.ones([2]))).toThrow(/use np.where \/ cond instead of JS control flow/);
  });

  it("a string context still prints the array", () => {
    expect(`${np.array([1, 2])}`).toBe("array([1., 2.], shape=[2], dtype=float32)");
    expect(String(np.ones([1]))).toBe("array([1.], shape=[1], dtype=float32)");
  });
});

describe("await x.data(): the values of any array, asynchronously", () => {
  it("gives a copy of a host array's storage, and rejects for a traced one", async () => {
    const x = np.array([1.5, -2, 3], { dtype: "float32" });
    const values = await x.data();
    expect(values).toBeInstanceOf(Float32Array);
    expect(Array.from(values)).toEqual([1.5, -2, 3]);
    values[0] = 99; // a copy: the array is unchanged
    expect(x.toArray()).toEqual([1.5, -2, 3]);
    expect(Array.from(await np.array([true, false]).data())).toEqual([1, 0]);
    let traced: Promise<unknown> | null = null;
    jit((t: NdArray) => {
      traced = t.data();
      traced.catch(() => {});
      return t;
    })(x);
    await expect(traced).rejects.toThrow(ConcretizationError);
  });
});
