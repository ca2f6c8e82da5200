import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { type DType, grad, jit, NdArray, np, ShapeError, vjp, vmap } from "../../src/index.js";
import { gatherFlatPrim, scatterPrim } from "../../src/ops/scatter.js";
import { checkGradients, checkVmap, expectError, rand } from "../helpers/op-checks.js";

const f64 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "float64" });
const i32 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "int32" });
const rowOf = (a: NdArray, k: number): number[] => (a.toArray() as number[][])[k]!;

// ---------------------------------------------------------------------------------------------------
// numpy references (test/ops/scatter_reference.py)

type Encoded = number | boolean | "nan" | "inf" | "-inf";
type IndexSpec =
  | number
  | null
  | "..."
  | { start?: number; stop?: number; step?: number }
  | { array: number[]; shape: number[] };

interface ReferenceCase {
  dtype: DType;
  shape: number[];
  x: Encoded[];
  index: IndexSpec[];
  op: "set" | "add" | "mul" | "min" | "max" | "get";
  mode: "none" | "drop" | "clip";
  values: Encoded[];
  valuesShape: number[];
  expected: Encoded[];
  expectedShape: number[];
}

const reference = JSON.parse(
  gunzipSync(readFileSync(new URL("./scatter-reference.json.gz", import.meta.url))).toString("utf8"),
) as {
  numpy: string;
  cases: ReferenceCase[];
};

const decode = (v: Encoded): number =>
  v === "nan" ? Number.NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : Number(v);

function arrayOf(values: Encoded[], shape: number[], dtype: DType): NdArray {
  return np.reshape(np.array(values.map(decode), { dtype }), shape);
}

/** The index items of a case; int arrays as NdArrays (traced under jit when `arrays` are given). */
function indexOf(spec: IndexSpec[]): { items: (IndexSpec | NdArray)[]; arrays: NdArray[] } {
  const arrays: NdArray[] = [];
  const items = spec.map((s) => {
    if (s !== null && typeof s === "object" && "array" in s) {
      const a = np.reshape(i32(s.array), s.shape);
      arrays.push(a);
      return a;
    }
    return s;
  });
  return { items, arrays };
}

type AtItem = np.IndexItem;

function apply(c: ReferenceCase, x: NdArray, items: readonly AtItem[], values: NdArray): NdArray {
  const ref = np.at(x, ...items);
  if (c.op === "get") return ref.get(c.mode === "none" ? {} : { mode: c.mode === "drop" ? "fill" : "clip" });
  const options = c.mode === "none" ? {} : { mode: c.mode };
  return ref[c.op](values, options);
}

function expectMatches(c: ReferenceCase, actual: NdArray): void {
  expect(actual.shape).toEqual(c.expectedShape);
  expect(actual.dtype).toBe(c.dtype);
  const got = Array.from(actual.toTypedArray());
  const want = c.expected.map(decode);
  // Exact: numpy applies the updates in the same order (float32 sums round the same way).
  expect(got.map((v) => (Number.isNaN(v) ? "nan" : v))).toEqual(
    want.map((v) => (Number.isNaN(v) ? "nan" : v)),
  );
}

describe(`x.at(...) against numpy ${reference.numpy} (${reference.cases.length} cases)`, () => {
  it("has cases of every op, mode and dtype", () => {
    const seen = new Set(reference.cases.map((c) => `${c.op} ${c.mode} ${c.dtype}`));
    for (const op of ["set", "add", "mul", "min", "max", "get"])
      for (const dtype of ["float32", "float64", "int32", "bool"])
        expect([...seen].some((s) => s.startsWith(`${op} `) && s.endsWith(dtype))).toBe(true);
  });

  it("eager", () => {
    for (const c of reference.cases) {
      const x = arrayOf(c.x, c.shape, c.dtype);
      const values = arrayOf(c.values, c.valuesShape, c.dtype);
      const { items } = indexOf(c.index);
      expectMatches(c, apply(c, x, items as AtItem[], values));
    }
  });

  it("jitted, the index arrays traced", () => {
    for (const c of reference.cases) {
      const x = arrayOf(c.x, c.shape, c.dtype);
      const values = arrayOf(c.values, c.valuesShape, c.dtype);
      const { items, arrays } = indexOf(c.index);
      const f = jit((xx: NdArray, vv: NdArray, ...traced: NdArray[]) => {
        let k = 0;
        const replaced = items.map((it) => (it instanceof NdArray ? traced[k++]! : it));
        return apply(c, xx, replaced as AtItem[], vv);
      });
      expectMatches(c, f(x, values, ...arrays));
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// semantics

describe("x.at(...) semantics", () => {
  const x = f64([
    [0, 1, 2],
    [3, 4, 5],
  ]);

  it("accumulates repeated indices for add and mul, keeps the extreme for min and max", () => {
    expect(
      x
        .at([0, 0, 1], 0)
        .add(f64([1, 2, 3]))
        .toArray(),
    ).toEqual([
      [3, 1, 2],
      [6, 4, 5],
    ]);
    expect(
      x
        .at(1, [2, 2])
        .mul(f64([2, 3]))
        .toArray(),
    ).toEqual([
      [0, 1, 2],
      [3, 4, 30],
    ]);
    expect(rowOf(x.at(0, [1, 1, 1]).min(f64([5, -2, 0])), 0)).toEqual([0, -2, 2]);
    expect(rowOf(x.at(0, [1, 1, 1]).max(f64([5, -2, 7])), 0)).toEqual([0, 7, 2]);
  });

  it("set with repeated indices keeps the last update (and so does its gradient)", () => {
    expect(rowOf(x.at(0, [2, 2, 2]).set(f64([7, 8, 9])), 0)).toEqual([0, 1, 9]);
    const g = grad((u: NdArray) =>
      np.sum(
        np.multiply(
          x.at(0, [2, 0, 2]).set(u),
          f64([
            [1, 10, 100],
            [0, 0, 0],
          ]),
        ),
      ),
    );
    expect(g(f64([7, 8, 9])).toArray()).toEqual([0, 1, 100]);
  });

  it("broadcasts the values and casts them to x's dtype (float to int truncates)", () => {
    expect(rowOf(x.at({ start: 1 }).set(f64([7, 8, 9])), 1)).toEqual([7, 8, 9]);
    expect(x.at("...", 0).add(1).toArray()).toEqual([
      [1, 1, 2],
      [4, 4, 5],
    ]);
    const ints = i32([1, 2, 3]);
    const out = ints.at([0, 2]).add(f64([1.9, -1.9]));
    expect(out.dtype).toBe("int32");
    expect(out.toArray()).toEqual([2, 2, 2]);
  });

  it("drops out-of-bounds updates by default, clamps them with mode clip", () => {
    expect(x.at([2, -3], 0).set(9).toArray()).toEqual(x.toArray());
    expect(x.at(0, [5]).add(1).toArray()).toEqual(x.toArray());
    expect(
      x
        .at([2, -3], 0)
        .set(f64([8, 9]), { mode: "clip" })
        .toArray(),
    ).toEqual([
      [9, 1, 2],
      [8, 4, 5],
    ]);
    expect(rowOf(x.at(0, [1, 5]).add(1, { mode: "fill" }), 0)).toEqual([0, 2, 2]);
    // An index past the last example under vmap stays dropped (does not spill into the next example).
    const batched = vmap((row: NdArray) => row.at(3).set(99))(x);
    expect(batched.toArray()).toEqual(x.toArray());
  });

  it("get clamps by default and fills with mode fill", () => {
    expect(x.at(1, [0, 7, -9]).get().toArray()).toEqual([3, 5, 3]);
    expect(x.at(1, [0, 7]).get({ mode: "fill" }).toArray()).toEqual([3, Number.NaN]);
    expect(x.at(1, [0, 7]).get({ mode: "fill", fillValue: -1 }).toArray()).toEqual([3, -1]);
    expect(i32([1, 2]).at([5]).get({ mode: "fill" }).toArray()).toEqual([-(2 ** 31)]);
    expect(x.at(null, [1, 0]).get().shape).toEqual([1, 2, 3]);
  });

  it("takes np.index's forms: string slices, masks (eager), nested lists; a static index out of range is dropped", () => {
    expect(
      x
        .at("::-1", "1:")
        .set(f64([[7, 8]]))
        .toArray(),
    ).toEqual([
      [0, 7, 8],
      [3, 7, 8],
    ]);
    expect(x.at(x.greater(3)).mul(10).toArray()).toEqual([
      [0, 1, 2],
      [3, 40, 50],
    ]);
    expect(
      x
        .at([[1], [0]], [0, 2])
        .get()
        .toArray(),
    ).toEqual([
      [3, 5],
      [0, 2],
    ]);
    expect(x.at(7).set(1).toArray()).toEqual(x.toArray());
    expect(x.at(1, -9).set(1, { mode: "clip" }).toArray()).toEqual([
      [0, 1, 2],
      [1, 4, 5],
    ]);
    expect(x.at(x.greater(3)).get().toArray()).toEqual(np.index(x, x.greater(3)).toArray());
    // Under jit a mask takes np.index's { size, fillValue }: padding positions are dropped by updates.
    const masked = jit((a: NdArray) => a.at(a.greater(3), { size: 3 }).set(0));
    expect(masked(x).toArray()).toEqual([
      [0, 1, 2],
      [3, 0, 0],
    ]);
    const read = jit((a: NdArray) => a.at(a.greater(3), { size: 3, fillValue: 7 }).get());
    expect(read(x).toArray()).toEqual([4, 5, 7]);
  });

  it("is the same function as np.at and leaves x unchanged", () => {
    const before = x.toArray();
    expect(np.at(x, 1, 1).set(0).toArray()).toEqual(x.at(1, 1).set(0).toArray());
    expect(x.toArray()).toEqual(before);
  });

  it("works on bool: add is OR, mul is AND", () => {
    const b = np.array([true, false, false]);
    expect(b.at([1, 1]).add(true).toArray()).toEqual([true, true, false]);
    expect(
      b
        .at([0, 1])
        .mul(np.array([false, true]))
        .toArray(),
    ).toEqual([false, false, false]);
  });

  it("int32 add and mul wrap around", () => {
    expect(
      i32([2 ** 31 - 1])
        .at(0)
        .add(1)
        .toArray(),
    ).toEqual([-(2 ** 31)]);
    expect(i32([65536]).at([0, 0]).mul(65536).toArray()).toEqual([0]);
    expect(i32([46341]).at(0).mul(46341).toArray()).toEqual([(46341 * 46341) | 0]);
  });
});

// ---------------------------------------------------------------------------------------------------
// derivatives: central differences (float64) and the vjp dot-product test

describe("x.at(...) derivatives", () => {
  const x = rand([3, 4], 1);
  const rows = i32([2, 0, 2, 1, 2]);

  it("add, with repeated indices", () => {
    checkGradients((a, u) => np.at(a, rows).add(u), [x, rand([5, 4], 2)]);
    checkGradients((a, u) => np.at(a, rows, i32([3, 3, 3, 0, 3])).add(u), [x, rand([5], 3)]);
  });

  it("set, with repeated indices", () => {
    checkGradients((a, u) => np.at(a, rows).set(u), [x, rand([5, 4], 4)]);
    checkGradients((a, u) => np.at(a, { step: 2 }, [1, -1]).set(u), [x, rand([2, 2], 5)]);
  });

  it("mul, with repeated indices and zero updates", () => {
    checkGradients((a, u) => np.at(a, rows).mul(u), [x, rand([5, 4], 6)]);
    const withZeros = np.where(np.greater(rand([5, 4], 7), 0.3), 0, rand([5, 4], 8));
    checkGradients((a, u) => np.at(a, rows).mul(u), [x, withZeros]);
    const g = grad((u: NdArray) => np.sum(f64([1, 1, 1]).at([0, 0, 0]).mul(u)));
    // d(u0 u1 u2)/du = [u1 u2, u0 u2, u0 u1], zeros included.
    expect(g(f64([2, 3, 4])).toArray()).toEqual([12, 8, 6]);
    expect(g(f64([0, 3, 4])).toArray()).toEqual([12, 0, 0]);
    expect(g(f64([0, 0, 4])).toArray()).toEqual([0, 0, 0]);
  });

  it("min and max: the winner's tangent, ties split evenly as JAX", () => {
    checkGradients((a, u) => np.at(a, rows).max(u), [x, np.add(rand([5, 4], 9), 0.001)]);
    checkGradients((a, u) => np.at(a, rows).min(u), [x, np.add(rand([5, 4], 10), 0.001)]);
    // x[0] = 1 ties with both updates of value 1: each of the three gets a third.
    const [, back] = vjp((a: NdArray, u: NdArray) => a.at([0, 0, 1]).max(u), f64([1, 0]), f64([1, 1, -5]));
    const [ga, gu] = back(f64([1, 1]));
    expect(ga!.toArray()).toEqual([1 / 3, 1]);
    expect(gu!.toArray()).toEqual([1 / 3, 1 / 3, 0]);
  });

  it("get", () => {
    checkGradients((a) => np.at(a, rows, { start: 1 }).get(), [x]);
    checkGradients((a) => np.at(a, [0, 9]).get({ mode: "fill", fillValue: 0 }), [x]);
  });

  it("second order through mul with repeated indices", () => {
    const h = grad((u: NdArray) => np.sum(grad((v: NdArray) => np.sum(f64([2]).at([0, 0]).mul(v)))(u)));
    // sum of d/du_k of d(2 u0 u1)/du = [2 u1, 2 u0] -> [2, 2].
    expect(h(f64([3, 5])).toArray()).toEqual([2, 2]);
  });
});

// ---------------------------------------------------------------------------------------------------
// vmap

describe("x.at(...) under vmap", () => {
  const xs = rand([3, 4, 2], 11);
  const idx = i32([
    [0, 3, 3],
    [1, 1, 2],
    [-1, 0, 3],
  ]);
  const us = rand([3, 3, 2], 12);

  for (const op of ["set", "add", "mul", "min", "max"] as const) {
    it(op, () => {
      const f = (a: NdArray, i: NdArray, u: NdArray) => np.at(a, i)[op](u);
      checkVmap(f, [xs, idx, us], [0, 0, 0]);
      checkVmap(f, [xs, np.take(idx, 0, { axis: 0 }), us], [0, null, 0]);
      checkVmap(f, [np.take(xs, 0, { axis: 0 }), idx, us], [null, 0, 0]);
      checkVmap(f, [xs, idx, np.take(us, 0, { axis: 0 })], [0, 0, null]);
      checkVmap(f, [np.moveaxis(xs, 0, 2), idx, us], [2, 0, 0]);
    });
  }

  it("get", () => {
    const f = (a: NdArray, i: NdArray) => np.at(a, i, 1).get({ mode: "fill", fillValue: 0 });
    checkVmap(f, [xs, np.add(idx, 1)], [0, 0]);
    checkVmap(f, [np.take(xs, 0, { axis: 0 }), idx], [null, 0]);
  });

  it("grad of a vmapped scatter", () => {
    const f = (a: NdArray) => np.sum(vmap((row: NdArray) => row.at([0, 0, 1]).mul(row))(a));
    const a = rand([2, 3], 13);
    const g = grad(f)(a);
    const eps = 1e-6;
    const data = a.toTypedArray();
    for (let k = 0; k < data.length; k++) {
      const plus = Float64Array.from(data);
      const minus = Float64Array.from(data);
      plus[k] = data[k]! + eps;
      minus[k] = data[k]! - eps;
      const num =
        (f(np.reshape(f64(Array.from(plus)), [2, 3])).item() -
          f(np.reshape(f64(Array.from(minus)), [2, 3])).item()) /
        (2 * eps);
      expect(Math.abs(g.toTypedArray()[k]! - num)).toBeLessThan(1e-6);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// errors

describe("x.at(...) errors", () => {
  const x = f64([
    [0, 1, 2],
    [3, 4, 5],
  ]);

  it("names the function, the shapes and what was expected", () => {
    expectError(() => x.at(0).set(f64([1, 2])), ShapeError, "at(...).set", "[2]", "[3]");
    expectError(
      () =>
        x.at([0, 1]).add(
          f64([
            [1, 2],
            [3, 4],
          ]),
        ),
      ShapeError,
      "at(...).add",
      "[2,3]",
    );
    // The index forms and their errors are np.index's (one parser), named after the at() method.
    expectError(() => x.at(0, 0, 0).get(), np.IndexError, "at(...).get", "too many indices");
    expectError(() => x.at("...", "...").add(1), np.IndexError, "at(...).add", "ellipsis");
    expectError(() => x.at(0.5).get(), np.IndexError, "0.5");
    expectError(() => x.at(f64([0])).set(1), np.IndexError, "at(...).set", "integer or boolean");
    expectError(() => x.at(0).set(1, { mode: "wrap" as never }), Error, "mode");
    expectError(() => x.at(0).set(1, { unknown: 1 } as never), Error, "unknown");
    expectError(() => x.at(0).get({ mode: "clip", fillValue: 0 }), TypeError, "fillValue");
  });

  it("the primitives check positions and updates at trace time", () => {
    expectError(() => scatterPrim.bind1([x, f64([0]), f64([1])], { mode: "add" }), ShapeError, "int32");
    expectError(
      () => scatterPrim.bind1([x, i32([0, 1]), f64([1])], { mode: "add" }),
      ShapeError,
      "[1]",
      "[2]",
    );
    expectError(
      () => scatterPrim.bind1([x, i32([0]), np.array([1], { dtype: "float32" })], { mode: "set" }),
      ShapeError,
      "float32",
      "float64",
    );
    expectError(
      () => scatterPrim.bind1([x, i32([0]), f64([1])], { mode: "sub" as never }),
      ShapeError,
      "mode",
    );
    expectError(() => gatherFlatPrim.bind1([x, f64([0])], { fill: 0 }), ShapeError, "int32");
  });
});
