/** assertAllClose over pytrees: tolerance rule, NaN handling, and messages naming path and index. */
import { describe, expect, it } from "vitest";
import { np, testing } from "../../src/index.js";

const { assertAllClose, AllCloseError } = testing;
const f64 = (data: number[], shape: number[] = [data.length]) => np.array(data, { shape, dtype: "float64" });

function message(run: () => void): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(AllCloseError);
    return (e as Error).message;
  }
  throw new Error("expected an AllCloseError");
}

describe("assertAllClose", () => {
  it("accepts values within atol + rtol·|expected|", () => {
    expect(() =>
      assertAllClose(f64([1, 2]), f64([1 + 1e-9, 2 - 1e-6]), { rtol: 1e-6, atol: 1e-9 }),
    ).not.toThrow();
    expect(() => assertAllClose({ a: [f64([0]), 3] }, { a: [f64([0]), 3] })).not.toThrow();
  });

  it("names the path, the index and both values of the worst differences", () => {
    const actual = { conv1: { weight: f64([1, 2, 3, 4], [2, 2]) }, bias: f64([0.5]) };
    const expected = { conv1: { weight: f64([1, 2, 3.5, 4], [2, 2]) }, bias: f64([0.5001]) };
    const text = message(() => assertAllClose(actual, expected, { name: "grads" }));
    expect(text).toContain("2 of 5 elements differ");
    expect(text).toMatch(/grads\.conv1\.weight\[1, 0\]: actual 3, expected 3\.5/);
    expect(text).toMatch(/grads\.bias\[0\]: actual 0\.5, expected 0\.5001/);
    // Worst first.
    expect(text.indexOf("weight[1, 0]")).toBeLessThan(text.indexOf("bias[0]"));
  });

  it("reports different structures and shapes", () => {
    expect(message(() => assertAllClose({ a: f64([1]) }, { b: f64([1]) }))).toContain("structures differ");
    expect(message(() => assertAllClose(f64([1, 2]), f64([1, 2], [2, 1])))).toContain(
      "has shape [2] but [2,1]",
    );
  });

  it("treats NaN as equal to NaN unless told otherwise, and never close to a number", () => {
    expect(() => assertAllClose(f64([Number.NaN]), f64([Number.NaN]))).not.toThrow();
    expect(() => assertAllClose(f64([Number.NaN]), f64([Number.NaN]), { equalNan: false })).toThrow(
      AllCloseError,
    );
    expect(() => assertAllClose(f64([Number.NaN]), f64([1]))).toThrow(AllCloseError);
    expect(() =>
      assertAllClose(f64([Number.POSITIVE_INFINITY]), f64([Number.POSITIVE_INFINITY])),
    ).not.toThrow();
    expect(() => assertAllClose(f64([Number.POSITIVE_INFINITY]), f64([Number.NEGATIVE_INFINITY]))).toThrow(
      AllCloseError,
    );
  });
});
