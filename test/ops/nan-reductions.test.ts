/**
 * NaN-ignoring reductions, ptp, average, countNonzero (issue 18): gradients (NaN entries get zero, the
 * others match central differences), the all-NaN conventions, and errors. Agreement with numpy on random
 * cases is test/differential/numpy-differential.test.ts.
 */
import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, np, ShapeError } from "../../src/index.js";
import { checkGradients } from "../helpers/op-checks.js";

const f64 = (data: Parameters<typeof np.array>[0]) => np.array(data, { dtype: "float64" });
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const withNaN = f64([
  [0.5, Number.NaN, -1.25, 2],
  [Number.NaN, 3, 0.75, -0.5],
  [1.5, -2, Number.NaN, 0.25],
]);

describe("gradients", () => {
  const cases: [string, (x: NdArray) => NdArray][] = [
    ["nansum", (x) => np.nansum(x, { axis: 1 })],
    ["nanmean", (x) => np.nanmean(x, { axis: 0 })],
    ["nanvar", (x) => np.nanvar(x, { axis: 1, ddof: 1 })],
    ["nanstd", (x) => np.nanstd(x, { axis: [0, 1] })],
    ["nanmax", (x) => np.nanmax(x, { axis: 1 })],
    ["nanmin", (x) => np.nanmin(x, { axis: 0, keepdims: true })],
    ["ptp", (x) => np.ptp(x, { axis: 1 })],
    ["average", (x) => np.average(x, { axis: 1, weights: f64([1, 2, 3, 4]) })],
  ];
  for (const [name, f] of cases) {
    it(`${name}: jvp and vjp against central differences`, () => {
      checkGradients(f, [
        name === "ptp" || name === "average" ? np.where(np.isnan(withNaN), 1, withNaN) : withNaN,
      ]);
    });
  }

  it("NaN entries get a zero gradient, the others a finite one", () => {
    const g = grad((x: NdArray) => np.sum(np.nanmean(x, { axis: 1 })))(withNaN);
    const isNaN = values(np.isnan(withNaN));
    values(g).forEach((v, i) => {
      expect(Number.isFinite(v)).toBe(true);
      if (isNaN[i]) expect(v).toBe(0);
      else expect(v).toBeCloseTo(1 / 3, 15); // every row keeps 3 of its 4 entries
    });
  });
});

describe("all-NaN slices", () => {
  const allNaNRow = f64([
    [Number.NaN, Number.NaN],
    [1, Number.NaN],
  ]);
  it("give NaN from nanmax, nanmin, nanmean, nanvar and 0 from nansum, eager and jitted", () => {
    for (const run of [
      (f: (x: NdArray) => NdArray) => f(allNaNRow),
      (f: (x: NdArray) => NdArray) => jit(f)(allNaNRow),
    ]) {
      expect(values(run((x) => np.nanmax(x, { axis: 1 })))).toEqual([Number.NaN, 1]);
      expect(values(run((x) => np.nanmin(x, { axis: 1 })))).toEqual([Number.NaN, 1]);
      expect(values(run((x) => np.nanmean(x, { axis: 1 })))).toEqual([Number.NaN, 1]);
      expect(values(run((x) => np.nanvar(x, { axis: 1 })))).toEqual([Number.NaN, 0]);
      expect(values(run((x) => np.nansum(x, { axis: 1 })))).toEqual([0, 1]);
    }
  });
  it("give -1 from nanargmax and nanargmin (as jax.numpy; numpy raises)", () => {
    expect(values(np.nanargmax(allNaNRow, { axis: 1 }))).toEqual([-1, 0]);
    expect(values(jit((x: NdArray) => np.nanargmin(x, { axis: 1 }))(allNaNRow))).toEqual([-1, 0]);
  });
  it("nanargmax picks a -inf over an earlier NaN", () => {
    expect(values(np.nanargmax(f64([Number.NaN, Number.NEGATIVE_INFINITY])))).toEqual([1]);
  });
});

describe("errors", () => {
  it("name the function and the shapes", () => {
    expect(() => np.nanmax(np.zeros([0, 2]), { axis: 0 })).toThrow(ShapeError);
    expect(() => np.average(np.zeros([2, 3]), { axis: 1, weights: np.ones([2]) })).toThrow(
      /average: 1-D weights of length 2 .* axis 1 of \[2,3\]/,
    );
    expect(() => np.nansum(np.zeros([2]), { axes: 0 } as never)).toThrow(/nansum/);
  });
});
