/**
 * cumprod, cummax, cummin and logcumsumexp (issue 18): gradients against PyTorch 1.13 (stored below,
 * with the script that printed them), at zeros, ties and NaN; stability; dtypes; reverse; errors; jit and
 * vmap. Agreement with numpy 1.24 on random cases is test/differential/numpy-differential.test.ts.
 */
import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, np, ShapeError, vmap } from "../../src/index.js";
import { checkGradients } from "../helpers/op-checks.js";

const f64 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "float64" });
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const weighted = (f: (x: NdArray) => NdArray, w: NdArray) => (x: NdArray) => np.sum(np.multiply(f(x), w));

// PyTorch 1.13 (float64), w = arange(1, n + 1):
//   x = [2, 0, 3, 0, -1.5, 4]: (cumprod(x) * w).sum().backward()             -> [1, 22, 0, 0, 0, 0]
//                              (flip(cumprod(flip(x))) * w).sum().backward() -> [0, 0, 0, -78, 20, -1.5]
//   y = [1, 3, 3, 2, 5, 5, nan, 7]: cummax(y).values * w  -> [1, 2, 7, 0, 5, 6, 15, 0]
//                                   cummin(y).values * w  -> [21, 0, 0, 0, 0, 0, 15, 0]
//   z = [-1000, 0, 1000, -3, 2]: logcumsumexp(z) * w      -> [1, 2, 12, 0, 0]
describe("gradients against PyTorch", () => {
  it("cumprod: exact where elements are zero, forward and reverse", () => {
    const x = f64([2, 0, 3, 0, -1.5, 4]);
    const w = f64([1, 2, 3, 4, 5, 6]);
    expect(values(grad(weighted((a) => np.cumprod(a), w))(x))).toEqual([1, 22, 0, 0, 0, 0]);
    expect(values(grad(weighted((a) => np.cumprod(a, { reverse: true }), w))(x))).toEqual([
      0, 0, 0, -78, 20, -1.5,
    ]);
  });

  it("cummax and cummin: to the latest element holding the running extremum, to the first NaN", () => {
    const y = f64([1, 3, 3, 2, 5, 5, Number.NaN, 7]);
    const w = np.arange(1, 9, 1, { dtype: "float64" });
    expect(values(np.cummax(y))).toEqual([1, 3, 3, 3, 5, 5, Number.NaN, Number.NaN]);
    expect(values(grad(weighted((a) => np.cummax(a), w))(y))).toEqual([1, 2, 7, 0, 5, 6, 15, 0]);
    expect(values(grad(weighted((a) => np.cummin(a), w))(y))).toEqual([21, 0, 0, 0, 0, 0, 15, 0]);
  });

  it("logcumsumexp: stable values and gradient over a span of 2000", () => {
    const z = f64([-1000, 0, 1000, -3, 2]);
    // numpy: np.logaddexp.accumulate(z) = [-1000, 0, 1000, 1000, 1000]
    expect(values(np.logcumsumexp(z))).toEqual([-1000, 0, 1000, 1000, 1000]);
    const g = values(grad(weighted((a) => np.logcumsumexp(a), f64([1, 2, 3, 4, 5])))(z));
    [1, 2, 12, 0, 0].forEach((want, i) => expect(g[i]).toBeCloseTo(want, 12));
  });

  it("match central differences along any axis, both directions (distinct elements)", () => {
    const x = f64([
      [0.5, -1.25, 2, 0.75],
      [1.5, 0.25, -0.5, 3],
      [-2, 1, 0.125, -0.75],
    ]);
    for (const f of [np.cumprod, np.cummax, np.cummin, np.logcumsumexp]) {
      for (const axis of [0, 1, null]) {
        for (const reverse of [false, true]) checkGradients((a) => f(a, { axis, reverse }), [x]);
      }
    }
  });
});

describe("values", () => {
  it("cummax and cummin: NaN propagates; on ties the later element is taken, as numpy", () => {
    // numpy: np.maximum.accumulate([0., -0., 0.]) = [0, -0, 0]; minimum the same
    const zeros = f64([0, -0, 0]);
    expect(values(np.cummax(zeros)).map((v) => Object.is(v, -0))).toEqual([false, true, false]);
    expect(values(np.cummin(zeros)).map((v) => Object.is(v, -0))).toEqual([false, true, false]);
    expect(values(np.cummin(f64([3, Number.NaN, 1])))).toEqual([3, Number.NaN, Number.NaN]);
  });

  it("axis null flattens, reverse accumulates from the end", () => {
    const x = np.array(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: "int32" },
    );
    expect(values(np.cumprod(x))).toEqual([1, 2, 6, 24]);
    expect(np.cumprod(x).shape).toEqual([4]);
    expect(values(np.cumprod(x, { axis: 0, reverse: true }))).toEqual([3, 8, 3, 4]);
    expect(values(np.cummin(x, { axis: -1, reverse: true }))).toEqual([1, 2, 3, 4]);
  });

  it("dtypes: bool by BOOL_OPERANDS (cumprod int32, cummax/cummin bool), int32 wraps, logcumsumexp float", () => {
    const b = np.array([true, false, true]);
    expect(np.cumprod(b).dtype).toBe("int32");
    expect(values(np.cummax(np.array([false, true, false])))).toEqual([0, 1, 1]);
    expect(np.cummax(b).dtype).toBe("bool");
    expect(values(np.cummin(b))).toEqual([1, 0, 0]);
    expect(np.logcumsumexp(b).dtype).toBe("float32");
    expect(np.logcumsumexp(np.array([1, 2], { dtype: "int32" })).dtype).toBe("float32");
    // numpy: np.cumprod(np.int32([65536, 65536, 3]), dtype=np.int32) = [65536, 0, 0]
    expect(values(np.cumprod(np.array([65536, 65536, 3], { dtype: "int32" })))).toEqual([65536, 0, 0]);
    // float32 products round at every step: numpy np.cumprod(np.float32([1.1, 1.1, 1.1]))
    expect(values(np.cumprod(np.array([1.1, 1.1, 1.1])))).toEqual([
      Math.fround(1.1),
      Math.fround(Math.fround(1.1) * Math.fround(1.1)),
      Math.fround(Math.fround(Math.fround(1.1) * Math.fround(1.1)) * Math.fround(1.1)),
    ]);
  });

  it("a 0-d array accumulates as the 1-d array of its element (numpy: np.cumsum(np.array(3.), axis=0) is [3.])", () => {
    for (const f of [np.cumsum, np.cumprod, np.cummax, np.cummin, np.logcumsumexp]) {
      expect(f(np.array(3, { dtype: "float64" }), { axis: 0 }).toArray()).toEqual([3]);
      expect(f(np.array(3, { dtype: "float64" })).shape).toEqual([1]);
      expect(() => f(np.array(3), { axis: 1 })).toThrow(ShapeError);
    }
  });

  it("empty and size-1 axes", () => {
    expect(np.cumprod(np.zeros([2, 0]), { axis: 1 }).shape).toEqual([2, 0]);
    expect(np.logcumsumexp(np.zeros([0])).shape).toEqual([0]);
    expect(values(np.cummax(f64([[7]]), { axis: 0 }))).toEqual([7]);
  });
});

describe("transforms", () => {
  const x = f64([
    [0.5, -1.25, 2, 0],
    [1.5, 0.25, -0.5, 3],
  ]);
  for (const [name, f] of [
    ["cumprod", np.cumprod],
    ["cummax", np.cummax],
    ["cummin", np.cummin],
    ["logcumsumexp", np.logcumsumexp],
  ] as const) {
    it(`${name}: jit equals eager bit for bit, vmap equals stacking`, () => {
      const g = (a: NdArray) => f(a, { axis: 1, reverse: true });
      expect(values(jit(g)(x))).toEqual(values(g(x)));
      const h = (a: NdArray) => f(a, { axis: 0 });
      expect(vmap(h, { inAxes: 1, outAxes: 1 })(x).toArray()).toEqual(h(x).toArray());
    });
  }
});

describe("errors", () => {
  it("name the function, the axis and the shape", () => {
    expect(() => np.cumprod(np.zeros([2, 3]), { axis: 2 })).toThrow(
      new ShapeError("cumprod: axis 2 is out of bounds for an array of rank 2"),
    );
    expect(() => np.cummax(np.zeros([2]), { axes: 0 } as never)).toThrow(
      /cummax: unknown option 'axes'; the options are 'axis', 'reverse'/,
    );
    expect(() => np.logcumsumexp(np.zeros([2]), { reverse: 1 } as never)).toThrow(
      /logcumsumexp: option reverse must be a boolean, got 1/,
    );
  });
});
