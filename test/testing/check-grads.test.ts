/**
 * checkGrads: passes on correct derivatives (trees, float32 inputs, constant integer leaves, several
 * outputs, second order) and catches wrong ones: a customVjp whose backward is off by a factor, a jvp
 * rule that is wrong, and a rule that is right at first order but not differentiable itself.
 */
import { describe, expect, it } from "vitest";
import type { NdArray } from "../../src/core/array.js";
import { type Primitive, primitive } from "../../src/core/primitive.js";
import { customVjp, np, stopGradient, testing } from "../../src/index.js";

const { checkGrads, GradientCheckError } = testing;

const f64 = (data: number[], shape: number[] = [data.length]) => np.array(data, { shape, dtype: "float64" });

function caught(run: () => unknown): InstanceType<typeof GradientCheckError> {
  try {
    run();
  } catch (e) {
    if (e instanceof GradientCheckError) return e;
    throw e;
  }
  throw new Error("expected a GradientCheckError");
}

/** x ↦ x³ with a deliberately wrong forward rule (2x² instead of 3x²). */
const wrongCubePrim: Primitive<Record<string, never>> = primitive<Record<string, never>>({
  name: "test_wrong_cube",
  abstractEval: ([x]) => [x!],
  impl: ([x]) => [np.power(x!, 3).concrete()],
  jvp: ([x], [t]) => ({ primalsOut: [np.power(x!, 3)], tangentsOut: [t!.mul(x!.mul(x!)).mul(2)] }),
  batch: ([x], [d]) => [[wrongCubePrim.bind1([x!], {})], [d!]],
});

/** x ↦ x³ whose first derivative is right but treats 3x² as a constant: its second derivative is 0. */
const flatSecondCubePrim: Primitive<Record<string, never>> = primitive<Record<string, never>>({
  name: "test_flat_second_cube",
  abstractEval: ([x]) => [x!],
  impl: ([x]) => [np.power(x!, 3).concrete()],
  jvp: ([x], [t]) => ({
    primalsOut: [flatSecondCubePrim.bind1([x!], {})],
    tangentsOut: [t!.mul(stopGradient(x!.mul(x!).mul(3)))],
  }),
  batch: ([x], [d]) => [[flatSecondCubePrim.bind1([x!], {})], [d!]],
});

describe("checkGrads accepts correct derivatives", () => {
  it("of a function of a parameter tree", () => {
    const params = { conv1: { weight: f64([0.3, -0.7, 1.1, 0.2], [2, 2]), bias: f64([0.1, -0.4]) } };
    const x = f64([0.5, -1.5]);
    const loss = (p: typeof params, input: NdArray) =>
      np.sum(np.tanh(np.matmul(p.conv1.weight, input).add(p.conv1.bias)).square());
    const report = checkGrads(loss, [params, x]);
    expect(report.comparisons).toBeGreaterThan(0);
  });

  it("converts float32 inputs to float64 and holds integer leaves constant", () => {
    const x = np.array([0.25, 0.5, 1.5], { dtype: "float32" });
    const idx = np.array([2, 0], { dtype: "int32" });
    expect(() => checkGrads((a: NdArray, i: NdArray) => np.take(np.exp(a), i), [x, idx])).not.toThrow();
  });

  it("checks every float output of a tree and ignores integer outputs", () => {
    const x = f64([0.3, -0.2, 0.9]);
    const f = (a: NdArray) => ({ s: np.sin(a), c: np.cos(a).sum(), i: np.argmax(a) });
    expect(() => checkGrads(f, [x], { order: 2 })).not.toThrow();
  });

  it("samples coordinates of large inputs", () => {
    const x = np.array(
      Array.from({ length: 200 }, (_, i) => Math.sin(i)),
      { shape: [10, 20], dtype: "float64" },
    );
    expect(() =>
      checkGrads((a: NdArray) => np.sum(np.exp(a).mul(a)), [x], { maxCoordinates: 8 }),
    ).not.toThrow();
  });

  it("passes at second order for smooth functions", () => {
    const x = f64([0.4, -0.9]);
    const y = f64([1.2, 0.7]);
    expect(() =>
      checkGrads((a: NdArray, b: NdArray) => np.sum(np.sin(a.mul(b)).mul(np.exp(b))), [x, y], { order: 2 }),
    ).not.toThrow();
  });
});

describe("checkGrads catches wrong derivatives", () => {
  it("a customVjp whose backward pass is off by a factor, with the path and both values in the message", () => {
    const sinWrongBwd = customVjp(
      (x: NdArray) => np.sin(x),
      (x: NdArray) => [np.sin(x), x],
      (x: NdArray, ct: NdArray) => [ct.mul(np.cos(x)).mul(2)],
    );
    const weight = f64([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [2, 3]);
    const params = { conv1: { weight } };
    const error = caught(() =>
      checkGrads((p: typeof params) => np.sum(sinWrongBwd(p.conv1.weight)), [params], { modes: ["rev"] }),
    );
    expect(error.worst.path).toMatch(/^args\.0\.conv1\.weight\[\d, \d\]$/);
    expect(error.worst.check).toContain("reverse mode");
    // The analytic value is twice the true derivative cos(w).
    expect(error.worst.analytic / error.worst.numeric).toBeCloseTo(2, 6);
    expect(error.worst.relativeError).toBeCloseTo(1, 6);
    const [i, j] = error.worst.path
      .match(/\[(\d), (\d)\]/)!
      .slice(1)
      .map(Number) as [number, number];
    expect(error.worst.numeric).toBeCloseTo(Math.cos(weight.toTypedArray()[i * 3 + j]!), 6);
    expect(error.message).toContain(error.worst.path);
    expect(error.message).toMatch(/analytic: -?\d/);
    expect(error.message).toMatch(/numeric: +-?\d/);
    expect(error.message).toContain("relative error");
  });

  it("a factor too small as well (a backward pass that loses half the gradient)", () => {
    const halfGrad = customVjp(
      (x: NdArray) => x.square(),
      (x: NdArray) => [x.square(), x],
      (x: NdArray, ct: NdArray) => [ct.mul(x)],
    );
    const error = caught(() =>
      checkGrads((x: NdArray) => halfGrad(x).sum(), [f64([1, -2, 3])], { modes: ["rev"] }),
    );
    expect(error.worst.analytic * 2).toBeCloseTo(error.worst.numeric, 6);
  });

  it("a wrong forward-mode rule, in both modes", () => {
    const x = f64([0.5, 1.5, -1]);
    const f = (a: NdArray) => wrongCubePrim.bind1([a], {});
    const fwd = caught(() => checkGrads(f, [x], { modes: ["fwd"] }));
    expect(fwd.worst.check).toContain("forward mode");
    expect(fwd.worst.path).toMatch(/^args\.0\[\d\]$/);
    expect(fwd.worst.analytic / fwd.worst.numeric).toBeCloseTo(2 / 3, 6);
    // Reverse mode is linearize + transpose of the same rule: also wrong.
    expect(() => checkGrads(f, [x], { modes: ["rev"] })).toThrow(GradientCheckError);
  });

  it("a rule that is right at first order and wrong at second order", () => {
    const x = f64([0.5, 1.5, -1]);
    const f = (a: NdArray) => flatSecondCubePrim.bind1([a], {});
    expect(() => checkGrads(f, [x])).not.toThrow();
    const error = caught(() => checkGrads(f, [x], { order: 2 }));
    expect(error.worst.check).toContain("second order");
    expect(error.worst.analytic).toBe(0);
  });

  it("tolerances are honoured", () => {
    const slightlyOff = customVjp(
      (x: NdArray) => x.mul(3),
      (x: NdArray) => [x.mul(3), null],
      (_: null, ct: NdArray) => [ct.mul(3 + 1e-4)],
    );
    const f = (x: NdArray) => slightlyOff(x).sum();
    expect(() => checkGrads(f, [f64([1, 2])], { modes: ["rev"] })).toThrow(GradientCheckError);
    expect(() => checkGrads(f, [f64([1, 2])], { modes: ["rev"], rtol: 1e-3 })).not.toThrow();
  });
});
