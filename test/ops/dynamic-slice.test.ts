/**
 * lax-style dynamic slices (issue 18): dynamicSlice, dynamicUpdateSlice and the in-dim forms against a
 * plain reference (nested loops over the window, with JAX's start rule written out independently of the
 * kernel) and against the examples of JAX's documentation; the start rule (negative starts wrap once, then
 * clamp to [0, dim - size]); errors that name the function, the shapes and what was expected; eager and
 * jit with traced starts; gradients against central differences in float64; vmap with a batched operand,
 * batched starts or both; and use inside forLoop and scan with the loop index as the start.
 */
import { describe, expect, it } from "vitest";
import type { DType } from "../../src/core/dtype.js";
import { stridesOf } from "../../src/core/shape.js";
import {
  forLoop,
  grad,
  jit,
  lax,
  makeProgram,
  type NdArray,
  np,
  ShapeError,
  scan,
  vmap,
} from "../../src/index.js";
import { dynamicSlicePrim } from "../../src/ops/dynamic-slice.js";
import { checkGradients, checkVmap, expectClose, expectError, rand } from "../helpers/op-checks.js";

const i32 = (v: number): NdArray => np.scalar(v, "int32");
const ints = (vs: readonly number[]): NdArray => np.array(vs, { dtype: "int32" });
const values = (x: NdArray): number[] => Array.from(x.toTypedArray(), Number);

/** A deterministic stream of integers in [lo, hi]. */
function integers(seed: number): (lo: number, hi: number) => number {
  let s = seed >>> 0 || 1;
  return (lo, hi) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + Math.floor((s / 2 ** 32) * (hi - lo + 1));
  };
}

// ---------------------------------------------------------------------------------------------------
// the reference: JAX's rule written out, and loops over the window

/** jax/_src/lax/slicing.py: `i + d if i < 0` (allow_negative_indices), then XLA's clamp to [0, d - size]. */
function jaxStart(start: number, dim: number, size: number, allowNegative: boolean): number {
  let s = start;
  if (allowNegative && s < 0) s = s + dim;
  if (s > dim - size) s = dim - size;
  if (s < 0) s = 0;
  return s;
}

/** Every multi-index of `shape`, in row-major order. */
function* multiIndices(shape: readonly number[]): Generator<number[]> {
  if (shape.some((d) => d === 0)) return;
  const idx = shape.map(() => 0);
  for (;;) {
    yield [...idx];
    let a = shape.length - 1;
    while (a >= 0) {
      idx[a]!++;
      if (idx[a]! < shape[a]!) break;
      idx[a] = 0;
      a--;
    }
    if (a < 0) return;
  }
}

const flatAt = (strides: readonly number[], idx: readonly number[]): number =>
  idx.reduce((acc, i, a) => acc + i * strides[a]!, 0);

function referenceSlice(
  data: readonly number[],
  shape: readonly number[],
  starts: readonly number[],
  sizes: readonly number[],
  allowNegative: boolean,
): number[] {
  const s = shape.map((d, a) => jaxStart(starts[a]!, d, sizes[a]!, allowNegative));
  const strides = stridesOf(shape);
  return [...multiIndices(sizes)].map(
    (j) =>
      data[
        flatAt(
          strides,
          j.map((v, a) => v + s[a]!),
        )
      ]!,
  );
}

function referenceUpdate(
  data: readonly number[],
  shape: readonly number[],
  update: readonly number[],
  sizes: readonly number[],
  starts: readonly number[],
  allowNegative: boolean,
): number[] {
  const s = shape.map((d, a) => jaxStart(starts[a]!, d, sizes[a]!, allowNegative));
  const strides = stridesOf(shape);
  const out = [...data];
  [...multiIndices(sizes)].forEach((j, k) => {
    out[
      flatAt(
        strides,
        j.map((v, a) => v + s[a]!),
      )
    ] = update[k]!;
  });
  return out;
}

function randomArray(next: (lo: number, hi: number) => number, shape: number[], dtype: DType): NdArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: n }, () =>
    dtype === "bool" ? next(0, 1) : dtype === "int32" ? next(-50, 50) : next(-1000, 1000) / 8,
  );
  return dtype === "bool"
    ? np.array(
        data.map((v) => v === 1),
        { shape, dtype },
      )
    : np.array(data, { shape, dtype });
}

// ---------------------------------------------------------------------------------------------------

describe("dynamicSlice and dynamicUpdateSlice: JAX's documented examples", () => {
  const x = np.arange(12).reshape([3, 4]);

  it("dynamic_slice(x, (1, 1), (2, 3)) and the overrunning (2, 4) window", () => {
    expect(lax.dynamicSlice(x, [1, 1], [2, 3]).toArray()).toEqual([
      [5, 6, 7],
      [9, 10, 11],
    ]);
    // The window moves back to fit instead of being cut short.
    expect(lax.dynamicSlice(x, [1, 1], [2, 4]).toArray()).toEqual([
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ]);
  });

  it("dynamic_update_slice(zeros(6), ones(3), (2,)), (3,) and (5,)", () => {
    const z = np.zeros([6]);
    expect(values(lax.dynamicUpdateSlice(z, np.ones([3]), [2]))).toEqual([0, 0, 1, 1, 1, 0]);
    expect(values(lax.dynamicUpdateSlice(z, np.ones([3]), [3]))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(values(lax.dynamicUpdateSlice(z, np.ones([3]), [5]))).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it("dynamic_slice_in_dim(arange(5), 1, 3), (.., 4, 3) and axis 1", () => {
    expect(values(lax.dynamicSliceInDim(np.arange(5), 1, 3))).toEqual([1, 2, 3]);
    expect(values(lax.dynamicSliceInDim(np.arange(5), 4, 3))).toEqual([2, 3, 4]);
    expect(lax.dynamicSliceInDim(x, 1, 2, 1).toArray()).toEqual([
      [1, 2],
      [5, 6],
      [9, 10],
    ]);
  });
});

describe("the start rule: negative starts wrap once, then clamp into [0, dim - size]", () => {
  const x = np.arange(10);
  const at = (start: NdArray | number, options = {}) => values(lax.dynamicSlice(x, [start], [3], options));

  it("in-range, past-the-end and negative starts, as JS numbers and as traced int32 scalars", () => {
    const cases: [number, number[]][] = [
      [0, [0, 1, 2]],
      [7, [7, 8, 9]],
      [8, [7, 8, 9]],
      [1000, [7, 8, 9]],
      [-1, [7, 8, 9]], // -1 + 10 = 9, clamped to 7
      [-3, [7, 8, 9]],
      [-5, [5, 6, 7]],
      [-10, [0, 1, 2]],
      [-11, [0, 1, 2]], // wraps once to -1, then clamps to 0
      [-1000, [0, 1, 2]],
    ];
    const traced = jit((s: NdArray) => lax.dynamicSlice(x, [s], [3]));
    for (const [start, want] of cases) {
      expect(at(start), `start ${start}`).toEqual(want);
      expect(at(i32(start)), `start ${start} (eager array)`).toEqual(want);
      expect(values(traced(i32(start))), `start ${start} (jit)`).toEqual(want);
    }
  });

  it("allowNegativeIndices: false clamps a negative start to 0; a list sets it per axis", () => {
    expect(at(-2, { allowNegativeIndices: false })).toEqual([0, 1, 2]);
    expect(at(i32(-2), { allowNegativeIndices: false })).toEqual([0, 1, 2]);
    const m = np.arange(16).reshape([4, 4]);
    const window = lax.dynamicSlice(m, [i32(-1), i32(-1)], [1, 2], { allowNegativeIndices: [true, false] });
    expect(window.toArray()).toEqual([[12, 13]]);
  });

  it("the extremes of int32 and JS numbers beyond it neither overflow nor wrap", () => {
    expect(at(i32(2147483647))).toEqual([7, 8, 9]);
    expect(at(i32(-2147483648))).toEqual([0, 1, 2]);
    expect(at(2 ** 40)).toEqual([7, 8, 9]);
    expect(at(-(2 ** 40))).toEqual([0, 1, 2]);
  });

  it("a window as large as the axis always starts at 0; an empty window is empty", () => {
    expect(values(lax.dynamicSlice(x, [i32(5)], [10]))).toEqual(values(x));
    expect(lax.dynamicSlice(x, [i32(5)], [0]).shape).toEqual([0]);
    expect(values(lax.dynamicUpdateSlice(x, ints([]), [i32(4)]))).toEqual(values(x));
  });

  it("start indices may be given as a 1-D integer array", () => {
    const m = np.arange(12).reshape([3, 4]);
    expect(lax.dynamicSlice(m, ints([1, 1]), [2, 3]).toArray()).toEqual([
      [5, 6, 7],
      [9, 10, 11],
    ]);
    const f = jit((s: NdArray) => lax.dynamicUpdateSlice(np.zeros([2, 3]), np.ones([1, 2]), s));
    expect(f(ints([1, -1])).toArray()).toEqual([
      [0, 0, 0],
      [0, 1, 1],
    ]);
  });
});

describe("random cases against the reference, eager and jitted with traced starts", () => {
  const dtypes: DType[] = ["float32", "float64", "int32", "bool"];
  const next = integers(20261207);
  const cases = Array.from({ length: 60 }, (_, k) => {
    const rank = next(0, 3);
    const shape = Array.from({ length: rank }, () => next(0, 4));
    const sizes = shape.map((d) => next(0, d));
    const starts = shape.map((d) => next(-d - 3, d + 3));
    return { shape, sizes, starts, dtype: dtypes[k % 4]!, allowNegative: next(0, 3) !== 0 };
  });

  it("dynamicSlice", () => {
    for (const { shape, sizes, starts, dtype, allowNegative } of cases) {
      const x = randomArray(next, shape, dtype);
      const want = referenceSlice(values(x), shape, starts, sizes, allowNegative);
      const options = { allowNegativeIndices: allowNegative };
      const label = JSON.stringify({ shape, sizes, starts, dtype, allowNegative });
      const eager = lax.dynamicSlice(x, starts, sizes, options);
      expect(eager.shape, label).toEqual(sizes);
      expect(eager.dtype, label).toBe(dtype);
      expect(values(eager), label).toEqual(want);
      expect(values(lax.dynamicSlice(x, starts.map(i32), sizes, options)), label).toEqual(want);
      const jitted = jit((a: NdArray, ...s: NdArray[]) => lax.dynamicSlice(a, s, sizes, options));
      expect(values(jitted(x, ...starts.map(i32))), label).toEqual(want);
    }
  });

  it("dynamicUpdateSlice", () => {
    for (const { shape, sizes, starts, dtype, allowNegative } of cases) {
      const x = randomArray(next, shape, dtype);
      const u = randomArray(next, sizes, dtype);
      const want = referenceUpdate(values(x), shape, values(u), sizes, starts, allowNegative);
      const options = { allowNegativeIndices: allowNegative };
      const label = JSON.stringify({ shape, sizes, starts, dtype, allowNegative });
      const eager = lax.dynamicUpdateSlice(x, u, starts, options);
      expect(eager.shape, label).toEqual(shape);
      expect(values(eager), label).toEqual(want);
      expect(values(lax.dynamicUpdateSlice(x, u, starts.map(i32), options)), label).toEqual(want);
      const jitted = jit((a: NdArray, b: NdArray, ...s: NdArray[]) =>
        lax.dynamicUpdateSlice(a, b, s, options),
      );
      expect(values(jitted(x, u, ...starts.map(i32))), label).toEqual(want);
    }
  });

  it("one jitted plan serves every start (the starts are traced, not baked in)", () => {
    const x = np.arange(20).reshape([4, 5]);
    const f = jit((s: NdArray) => lax.dynamicSlice(x, [s, s], [2, 2]));
    for (const s of [-7, -1, 0, 1, 2, 3, 9]) {
      expect(values(f(i32(s))), `start ${s}`).toEqual(
        referenceSlice(values(x), [4, 5], [s, s], [2, 2], true),
      );
    }
    const program = makeProgram((s: NdArray) => lax.dynamicSlice(x, [s, s], [2, 2]))(i32(0)).toString();
    expect(program).toContain("dynamic_slice");
  });
});

describe("the in-dim forms", () => {
  const x = np.arange(24).reshape([2, 3, 4]);

  it("dynamicIndexInDim keeps the axis by default (as JAX) and drops it with keepdims: false", () => {
    expect(lax.dynamicIndexInDim(x, 1, 1).shape).toEqual([2, 1, 4]);
    const row = lax.dynamicIndexInDim(x, i32(-1), -1, { keepdims: false });
    expect(row.toArray()).toEqual([
      [3, 7, 11],
      [15, 19, 23],
    ]);
    expect(values(lax.dynamicIndexInDim(np.arange(5), 9, 0, { keepdims: false }))).toEqual([4]);
    expect(lax.dynamicIndexInDim(np.arange(5), 9, 0, { keepdims: false }).shape).toEqual([]);
  });

  it("dynamicUpdateSliceInDim and dynamicUpdateIndexInDim (update with or without the axis)", () => {
    const z = np.zeros([3, 4], { dtype: "int32" });
    expect(lax.dynamicUpdateSliceInDim(z, np.ones([3, 2], { dtype: "int32" }), 3, 1).toArray()).toEqual([
      [0, 0, 1, 1],
      [0, 0, 1, 1],
      [0, 0, 1, 1],
    ]);
    const row = ints([1, 2, 3, 4]);
    const want = [
      [0, 0, 0, 0],
      [1, 2, 3, 4],
      [0, 0, 0, 0],
    ];
    expect(lax.dynamicUpdateIndexInDim(z, row, i32(1), 0).toArray()).toEqual(want);
    expect(lax.dynamicUpdateIndexInDim(z, row.reshape([1, 4]), i32(-2), 0).toArray()).toEqual(want);
  });

  it("np and the package's lax namespace offer the same functions", () => {
    expect(np.dynamicSlice).toBe(lax.dynamicSlice);
    expect(np.dynamicUpdateIndexInDim).toBe(lax.dynamicUpdateIndexInDim);
    expect(lax.scan).toBe(scan);
    expect(lax.forLoop).toBe(forLoop);
  });
});

describe("errors name the function, the shapes and what was expected", () => {
  const x = np.zeros([3, 4]);

  it("wrong number of starts or sizes, a window larger than the operand", () => {
    expectError(
      () => lax.dynamicSlice(x, [0], [1, 1]),
      ShapeError,
      "dynamicSlice",
      "1 start indices",
      "[3,4]",
    );
    expectError(
      () => lax.dynamicSlice(x, [0, 0], [1]),
      ShapeError,
      "dynamicSlice",
      "sliceSizes [1]",
      "[3,4]",
    );
    expectError(() => lax.dynamicSlice(x, [0, 0], [1, 5]), ShapeError, "dynamicSlice", "axis 1", "got 5");
    expectError(() => lax.dynamicSlice(x, [0, 0], [1, -1]), ShapeError, "dynamicSlice", "got -1");
    expectError(() => lax.dynamicSliceInDim(x, 0, 4, 0), ShapeError, "dynamicSliceInDim", "axis 0", "got 4");
    expectError(() => lax.dynamicIndexInDim(np.zeros([0, 2]), 0), ShapeError, "dynamicIndexInDim", "empty");
    expectError(() => lax.dynamicIndexInDim(x, 0, 2), ShapeError, "dynamicIndexInDim", "axis 2");
  });

  it("starts that are not integer scalars", () => {
    expectError(
      () => lax.dynamicSlice(x, [0.5, 0], [1, 1]),
      TypeError,
      "dynamicSlice",
      "start index 0",
      "0.5",
    );
    expectError(() => lax.dynamicSlice(x, [np.scalar(1), 0], [1, 1]), TypeError, "start index 0", "float32");
    expectError(
      () => lax.dynamicSlice(x, [0, ints([1])], [1, 1]),
      ShapeError,
      "start index 1",
      "scalar",
      "[1]",
    );
    expectError(() => lax.dynamicSlice(x, ints([[0, 1]] as never), [1, 1]), ShapeError, "1-D", "[1,2]");
    // The primitive checks its operands at trace time too (for code that binds it directly).
    expectError(
      () =>
        dynamicSlicePrim.bind1([x, np.scalar(0), i32(0)], {
          sliceSizes: [1, 1],
          allowNegativeIndices: [true, true],
        }),
      ShapeError,
      "dynamic_slice",
      "start index 0 must be an int32 scalar",
      "float32",
    );
  });

  it("an update of another dtype, rank or a larger shape", () => {
    expectError(
      () => lax.dynamicUpdateSlice(x, np.ones([1, 1], { dtype: "float64" }), [0, 0]),
      TypeError,
      "dynamicUpdateSlice",
      "float64",
      "float32",
    );
    expectError(
      () => lax.dynamicUpdateSlice(x, np.ones([4]), [0, 0]),
      ShapeError,
      "dynamicUpdateSlice",
      "[4]",
      "[3,4]",
    );
    expectError(() => lax.dynamicUpdateSlice(x, np.ones([4, 1]), [0, 0]), ShapeError, "fit inside", "[4,1]");
    expectError(
      () => lax.dynamicUpdateIndexInDim(x, np.ones([]), 0, 0),
      ShapeError,
      "dynamicUpdateIndexInDim",
      "[]",
      "[3,4]",
    );
  });

  it("options are checked", () => {
    expectError(
      () => lax.dynamicSlice(x, [0, 0], [1, 1], { allowNegative: true } as never),
      TypeError,
      "dynamicSlice",
      "allowNegative",
    );
    expectError(
      () => lax.dynamicSlice(x, [0, 0], [1, 1], { allowNegativeIndices: [true] }),
      ShapeError,
      "allowNegativeIndices",
      "one boolean per axis",
    );
  });

  it("errors are raised while tracing, before anything runs", () => {
    const f = jit((a: NdArray, s: NdArray) => lax.dynamicSlice(a, [s, s], [4, 1]));
    expectError(() => f(x, i32(0)), ShapeError, "dynamicSlice", "got 4");
    expectError(
      () => makeProgram((s: NdArray) => lax.dynamicSlice(x, [s, 0], [1, 1]))(np.scalar(0.5)),
      TypeError,
      "float32",
    );
  });
});

describe("gradients against central differences (float64)", () => {
  it("dynamicSlice in x, at in-range, clamped and negative starts, eager and jitted", () => {
    const x = rand([4, 5], 1);
    for (const [s0, s1] of [
      [1, 2],
      [3, 9],
      [-1, -4],
    ] as const) {
      const f = (a: NdArray) => np.sin(lax.dynamicSlice(a, [i32(s0), i32(s1)], [2, 3]));
      checkGradients(f, [x]);
      const withStarts = (a: NdArray, s: NdArray, t: NdArray) =>
        np.sum(np.sin(lax.dynamicSlice(a, [s, t], [2, 3])));
      const g = grad(withStarts)(x, i32(s0), i32(s1));
      expectClose(jit(grad(withStarts))(x, i32(s0), i32(s1)), g, 1e-12);
      expectClose(grad(jit(withStarts))(x, i32(s0), i32(s1)), g, 1e-12);
    }
  });

  it("dynamicUpdateSlice in the operand and the update jointly", () => {
    const x = rand([4, 5], 2);
    const u = rand([2, 2], 3);
    for (const [s0, s1] of [
      [1, 2],
      [7, -1],
    ] as const) {
      checkGradients((a, b) => np.tanh(lax.dynamicUpdateSlice(np.mul(a, a), b, [i32(s0), i32(s1)])), [x, u]);
    }
    // The overwritten window gets no gradient from the operand; the update gets the window's.
    const g = grad((a: NdArray) => np.sum(lax.dynamicUpdateSlice(a, u, [i32(1), i32(2)])))(x);
    expect(g.toArray()).toEqual([
      [1, 1, 1, 1, 1],
      [1, 1, 0, 0, 1],
      [1, 1, 0, 0, 1],
      [1, 1, 1, 1, 1],
    ]);
  });

  it("second order through dynamicSlice", () => {
    const x = rand([6], 4);
    const f = (a: NdArray) => np.sum(np.pow(lax.dynamicSliceInDim(a, i32(2), 3), 3));
    const h = grad((a: NdArray) => np.sum(np.mul(grad(f)(a), rand([6], 5))))(x);
    // d/dx (3 x^2 v) = 6 x v on the window, 0 elsewhere.
    const xv = values(x);
    const vv = values(rand([6], 5));
    expectClose(
      h,
      np.array(
        xv.map((xi, i) => (i >= 2 && i < 5 ? 6 * xi * vv[i]! : 0)),
        { dtype: "float64" },
      ),
      1e-12,
    );
  });
});

describe("vmap: a batched operand, batched starts, or both", () => {
  const x = rand([3, 5, 4], 6);
  const starts = ints([-1, 2, 9]); // wraps, in range, clamps
  const other = ints([0, 3, -7]);

  it("dynamicSlice", () => {
    const shared = np.arange(20, undefined, 1, { dtype: "float64" }).reshape([5, 4]);
    const f = (a: NdArray, s: NdArray, t: NdArray) => lax.dynamicSlice(a, [s, t], [2, 3]);
    checkVmap(f, [x, i32(1), i32(-1)], [0, null, null]); // batched operand only
    checkVmap(f, [shared, starts, other], [null, 0, 0]); // batched starts only
    checkVmap(f, [shared, starts, i32(1)], [null, 0, null]); // one start batched
    checkVmap(f, [x, starts, other], [0, 0, 0]); // both
    checkVmap(f, [x, i32(2), other], [0, null, 0]);
    checkVmap(f, [np.moveaxis(x, 0, 2), starts, other], [2, 0, 0]); // the batch on another axis
    // A batched start on an axis taken whole never moves the window: every example gets the same one.
    checkVmap(
      (a: NdArray, s: NdArray) => lax.dynamicSlice(a, [i32(1), s], [2, 4]),
      [shared, starts],
      [null, 0],
    );
  });

  it("dynamicUpdateSlice", () => {
    const u = rand([3, 2, 3], 7);
    const base = rand([5, 4], 8);
    const f = (a: NdArray, b: NdArray, s: NdArray, t: NdArray) => lax.dynamicUpdateSlice(a, b, [s, t]);
    checkVmap(f, [x, u, i32(1), i32(-1)], [0, 0, null, null]);
    checkVmap(f, [base, u, i32(4), i32(0)], [null, 0, null, null]);
    checkVmap(f, [x, rand([2, 3], 9), i32(4), i32(0)], [0, null, null, null]);
    checkVmap(f, [base, rand([2, 3], 9), starts, other], [null, null, 0, 0]);
    checkVmap(f, [x, u, starts, other], [0, 0, 0, 0]);
    checkVmap(f, [x, u, starts, i32(2)], [0, 0, 0, null]);
    checkVmap(f, [base, rand([0, 3], 9), starts, other], [null, null, 0, 0]); // an empty update
    checkVmap(f, [base, rand([5, 4], 9), starts, other], [null, null, 0, 0]); // covering the operand
  });

  it("nested vmap: per-example starts at both levels", () => {
    const table = rand([6, 7], 15);
    const rowsAt = ints([-1, 0, 4]);
    const colsAt = ints([2, 9]);
    const f = (r: NdArray, c: NdArray) => lax.dynamicSlice(table, [r, c], [2, 3]);
    const got = vmap(vmap(f, { inAxes: [null, 0] }), { inAxes: [0, null] })(rowsAt, colsAt);
    expect(got.shape).toEqual([3, 2, 2, 3]);
    values(rowsAt).forEach((r, i) => {
      values(colsAt).forEach((c, j) => {
        const want = referenceSlice(values(table), [6, 7], [r, c], [2, 3], true);
        expectClose(
          np.take(np.take(got, i, { axis: 0 }), j, { axis: 0 }),
          np.array(want, { shape: [2, 3], dtype: "float64" }),
          0,
        );
      });
    });
  });

  it("gradients and jit through the batched-start rules", () => {
    const shared = rand([5, 4], 10);
    const sliceEach = (a: NdArray) =>
      vmap((s: NdArray, t: NdArray) => np.sin(lax.dynamicSlice(a, [s, t], [2, 3])))(starts, other);
    checkGradients(sliceEach, [shared]);
    const updateEach = (a: NdArray, b: NdArray) =>
      vmap((s: NdArray, t: NdArray) => np.tanh(lax.dynamicUpdateSlice(np.mul(a, a), b, [s, t])))(
        starts,
        other,
      );
    checkGradients(updateEach, [shared, rand([2, 3], 11)]);
    expectClose(jit(sliceEach)(shared), sliceEach(shared), 1e-12);
    expectClose(jit(updateEach)(shared, rand([2, 3], 11)), updateEach(shared, rand([2, 3], 11)), 1e-12);
  });
});

describe("inside forLoop and scan, with the loop index as the start", () => {
  it("a forLoop writes row i of a buffer, eagerly and under jit", () => {
    const x = rand([4, 3], 12);
    const squares = (a: NdArray) =>
      forLoop(
        4,
        (i, buf: NdArray) =>
          lax.dynamicUpdateIndexInDim(
            buf,
            np.mul(lax.dynamicIndexInDim(a, i, 0, { keepdims: false }), np.astype(i, "float64")),
            i,
            0,
          ),
        np.zeros([4, 3], { dtype: "float64" }),
      );
    const want = np.mul(x, np.array([[0], [1], [2], [3]], { dtype: "float64" }));
    expectClose(squares(x), want, 1e-15);
    expectClose(jit(squares)(x), want, 1e-15);
    checkGradients((a) => np.sin(squares(a)), [x]);
    expectClose(
      jit(grad((a: NdArray) => np.sum(np.sin(squares(a)))))(x),
      grad((a: NdArray) => np.sum(np.sin(squares(a))))(x),
      1e-12,
    );
  });

  it("a scan reads a sliding window: a moving sum, with its gradient", () => {
    const n = 7;
    const w = 3;
    const x = rand([n], 13);
    const movingSums = (a: NdArray) =>
      scan(
        (c: NdArray, i: NdArray) => [c, np.sum(lax.dynamicSliceInDim(a, i, w))],
        np.zeros([]),
        np.arange(n - w + 1),
      )[1];
    const xv = values(x);
    const want = Array.from({ length: n - w + 1 }, (_, i) => xv[i]! + xv[i + 1]! + xv[i + 2]!);
    expectClose(movingSums(x), np.array(want, { dtype: "float64" }), 1e-14);
    expectClose(jit(movingSums)(x), np.array(want, { dtype: "float64" }), 1e-14);
    checkGradients((a) => np.sin(movingSums(a)), [x]);
    // Element j is in min(j + 1, w, n - j) windows (fewer at the ends).
    const g = grad((a: NdArray) => np.sum(movingSums(a)))(x);
    expect(values(g)).toEqual([1, 2, 3, 3, 3, 2, 1]);
    expect(values(jit(grad((a: NdArray) => np.sum(movingSums(a))))(x))).toEqual([1, 2, 3, 3, 3, 2, 1]);
  });

  it("a scan carries a buffer it writes at the index: a running cumulative sum, vmapped over rows", () => {
    const cumsumByLoop = (a: NdArray) =>
      forLoop(
        a.shape[0]!,
        (i, buf: NdArray) => {
          const previous = lax.dynamicIndexInDim(buf, np.subtract(i, 1), 0, { keepdims: false });
          const keep = np.astype(np.greater(i, 0), "float64");
          const value = np.add(np.mul(previous, keep), lax.dynamicIndexInDim(a, i, 0, { keepdims: false }));
          return lax.dynamicUpdateIndexInDim(buf, value, i, 0);
        },
        np.zerosLike(a),
      );
    const x = rand([3, 6], 14);
    const batched = vmap(cumsumByLoop)(x);
    expectClose(batched, np.cumsum(x, { axis: 1 }), 1e-14);
    expectClose(jit(vmap(cumsumByLoop))(x), np.cumsum(x, { axis: 1 }), 1e-14);
    checkGradients((a) => vmap(cumsumByLoop)(a), [x]);
  });
});
