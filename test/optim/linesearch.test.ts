/**
 * optax's zoom line search (scaleByZoomLinesearch) and lbfgs with it, checked as optax's
 * linesearch_test.py and lbfgs_test.py do, in float64: at the accepted stepsize the strong Wolfe
 * conditions hold (sufficient decrease with slope_rtol 1e-4, small curvature with curv_rtol 0.9) along a
 * preconditioned descent direction on optax's test problems, the state keeps the objective's value and
 * gradient there, and `lbfgs()` (its default line search) reaches Rosenbrock's minimum from (0, 0) within
 * optax's tolerance 1e-5 in at most optax's 500 steps.
 */
import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, optim, tree, valueAndGrad } from "../../src/index.js";
import type { ZoomLinesearchState } from "../../src/optim/index.js";

const f64 = (xs: number[]): NdArray => np.array(xs, { dtype: "float64" });
const leaf = (x: NdArray, i: number): NdArray => np.take(x, i);
const range = (from: number, to: number): NdArray => np.arange(from, to, 1, { dtype: "int32" });

/** optax's linesearch_test.py get_problem, each with a start (its shape is the problem's input shape). */
const problems: Record<string, { fn: (x: NdArray) => NdArray; size: number }> = {
  polynomial: { fn: (x) => np.add(np.subtract(np.negative(x), np.power(x, 3)), np.power(x, 4)), size: 0 },
  exponential: { fn: (x) => np.add(np.exp(np.multiply(x, -4)), np.square(x)), size: 0 },
  rosenbrock: {
    fn: (x) => {
      const head = np.take(x, range(0, 15));
      const tail = np.take(x, range(1, 16));
      return np.sum(
        np.add(
          np.multiply(np.square(np.subtract(tail, np.square(head))), 100),
          np.square(np.subtract(1, head)),
        ),
      );
    },
    size: 16,
  },
  himmelblau: {
    fn: (p) => {
      const [x, y] = [leaf(p, 0), leaf(p, 1)];
      return np.add(
        np.square(np.subtract(np.add(np.square(x), y), 11)),
        np.square(np.subtract(np.add(x, np.square(y)), 7)),
      );
    },
    size: 2,
  },
  matyas: {
    fn: (p) => {
      const [x, y] = [leaf(p, 0), leaf(p, 1)];
      return np.subtract(
        np.multiply(np.add(np.square(x), np.square(y)), 0.26),
        np.multiply(np.multiply(x, y), 0.48),
      );
    },
    size: 2,
  },
  quadratic: { fn: (x) => np.sum(np.square(np.subtract(x, 3))), size: 6 },
};

/** A reproducible stream of uniform numbers in [0, 1) (a 32-bit LCG) and normals from it. */
function stream(seed: number): { uniform(): number; normal(): number } {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return {
    uniform,
    normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
  };
}

function draw(size: number, next: () => number): NdArray {
  return size === 0 ? np.scalar(next(), "float64") : f64(Array.from({ length: size }, next));
}

const vdot = (a: NdArray, b: NdArray): number => np.sum(np.multiply(a, b)).item();

describe("scaleByZoomLinesearch (optax's zoom line search)", () => {
  const cases = Object.keys(problems).flatMap((name) => [0, 1, 2].map((seed) => [name, seed] as const));
  it.each(cases)("%s, seed %d: the strong Wolfe conditions hold at the accepted step", (name, seed) => {
    const { fn, size } = problems[name] ?? { fn: np.sum, size: 0 };
    const random = stream(seed + 17);
    const params = draw(size, random.normal);
    const precond = draw(size, random.uniform);
    const [valueInit, gradInit] = valueAndGrad(fn)(params);
    // A diagonally preconditioned descent direction, as optax's test.
    const updates = np.negative(np.multiply(precond, gradInit));
    const opt = optim.scaleByZoomLinesearch({ maxLinesearchSteps: 30, initialGuessStrategy: "one" });
    const [stepped, state] = opt.update(updates, opt.init(params), params, {
      value: valueInit,
      grad: gradInit,
      valueFn: fn,
    });
    const finalParams = optim.applyUpdates(params, stepped);
    const [valueFinal, gradFinal] = valueAndGrad(fn)(finalParams);
    const lr = state.learningRate.item();
    const slopeInit = vdot(updates, gradInit);
    const slopeFinal = vdot(updates, gradFinal);
    expect(lr).toBeGreaterThan(0);
    expect(state.info.numLinesearchSteps.item()).toBeLessThanOrEqual(30);
    // Sufficient decrease and small curvature (optax's _check_linesearch_conditions, tol 0).
    expect(valueFinal.item()).toBeLessThanOrEqual(valueInit.item() + 1e-4 * lr * slopeInit);
    expect(Math.abs(slopeFinal)).toBeLessThanOrEqual(0.9 * Math.abs(slopeInit));
    // The state keeps the value and gradient at the new params (optax's _check_value_and_grad_in_zoom_state).
    expect(Math.abs(state.value.item() - valueFinal.item())).toBeLessThanOrEqual(
      1e-12 * (1 + Math.abs(valueFinal.item())),
    );
    const kept = state.grad as NdArray;
    expect(np.max(np.abs(np.subtract(kept, gradFinal))).item()).toBeLessThanOrEqual(1e-9);
  });

  it("has work to do: the unit step breaks the conditions on Rosenbrock, the accepted one does not", () => {
    const { fn } = problems["rosenbrock"] ?? { fn: np.sum };
    const params = f64(Array.from({ length: 16 }, () => 0.5));
    const [value, g] = valueAndGrad(fn)(params);
    const updates = np.negative(g);
    const slope = vdot(updates, g);
    expect(fn(np.add(params, updates)).item()).toBeGreaterThan(value.item() + 1e-4 * slope);
    const opt = optim.scaleByZoomLinesearch({ maxLinesearchSteps: 15 });
    const [stepped, state] = opt.update(updates, opt.init(params), params, { value, grad: g, valueFn: fn });
    const lr = state.learningRate.item();
    expect(lr).toBeLessThan(1);
    expect(fn(optim.applyUpdates(params, stepped)).item()).toBeLessThanOrEqual(
      value.item() + 1e-4 * lr * slope,
    );
  });

  it("starts from the state's inf value and 1, as optax's init", () => {
    const opt = optim.scaleByZoomLinesearch({ maxLinesearchSteps: 5 });
    const s: ZoomLinesearchState = opt.init({ w: np.zeros([2], { dtype: "float64" }) });
    expect(s.value.item()).toBe(Number.POSITIVE_INFINITY);
    expect(s.learningRate.item()).toBe(1);
    const fn = (p: { w: NdArray }): NdArray => np.sum(np.square(p.w));
    const params = { w: f64([1, 2]) };
    const [value, g] = valueAndGrad(fn)(params);
    const [u, next] = opt.update(tree.scale(-1, g), s, params, { value, grad: g, valueFn: fn });
    expect(Number.isFinite(next.value.item())).toBe(true);
    // On sum(w^2) along -grad the exact minimizer is t = 1/2, which the search finds.
    expect(Array.from(optim.applyUpdates(params, u).w.toTypedArray())).toEqual([0, 0]);
  });

  it("passes through chain, which other transformations ignore", () => {
    const fn = (p: NdArray): NdArray => np.sum(np.square(np.subtract(p, 2)));
    const opt = optim.chain(optim.sgd({ lr: 1 }), optim.scaleByZoomLinesearch({ maxLinesearchSteps: 15 }));
    let params = f64([0, 0, 0]);
    let state = opt.init(params);
    for (let k = 0; k < 3; k++) {
      const [value, g] = valueAndGrad(fn)(params);
      const [u, s] = opt.update(g, state, params, { value, grad: g, valueFn: fn });
      [params, state] = [optim.applyUpdates(params, u), s];
    }
    Array.from(params.toTypedArray()).forEach((x) => expect(Math.abs(x - 2)).toBeLessThan(1e-12));
  });

  it("names what is missing, and says it cannot run under jit yet", () => {
    const fn = (p: NdArray): NdArray => np.sum(np.square(p));
    const opt = optim.scaleByZoomLinesearch({ maxLinesearchSteps: 5 });
    const p = f64([1, 2]);
    const s = opt.init(p);
    expect(() => opt.update(p, s, p)).toThrow(
      /scaleByZoomLinesearch\.update: the line search needs value, grad, valueFn/,
    );
    expect(() => opt.update(p, s, p, { value: fn(p), grad: p })).toThrow(/needs valueFn/);
    const step = jit(
      (x: NdArray) => opt.update(np.negative(x), s, x, { value: fn(x), grad: x, valueFn: fn })[0],
    );
    expect(() => step(p)).toThrow(/cannot run under jit or vmap \(it is not yet written with whileLoop\)/);
    expect(() => optim.scaleByZoomLinesearch({ maxLinesearchSteps: 0 })).toThrow(
      /scaleByZoomLinesearch: maxLinesearchSteps must be/,
    );
  });
});

describe("lbfgs with its default line search (optax.lbfgs())", () => {
  /** lbfgs_test.py's _run_opt: update until the gradient norm is below tol or maxiter steps. */
  function runOpt(
    opt: optim.GradientTransformation,
    fn: (x: NdArray) => NdArray,
    start: NdArray,
    tol: number,
  ) {
    let params = start;
    let state = opt.init(params);
    let steps = 0;
    const values: number[] = [];
    for (; steps < 500; steps++) {
      const [value, g] = valueAndGrad(fn)(params);
      values.push(value.item());
      if (Math.sqrt(vdot(g, g)) < tol) break;
      const [u, s] = opt.update(g, state, params, { value, grad: g, valueFn: fn });
      [params, state] = [optim.applyUpdates(params, u), s];
    }
    return { params, steps, values };
  }

  const rosenbrock = (p: NdArray): NdArray => {
    const [x, y] = [leaf(p, 0), leaf(p, 1)];
    return np.add(np.square(np.subtract(1, x)), np.multiply(np.square(np.subtract(y, np.square(x))), 100));
  };

  it("reaches Rosenbrock's minimum (1, 1) from (0, 0) within 1e-5 (optax's test_against_scipy)", () => {
    const { params, steps } = runOpt(optim.lbfgs(), rosenbrock, f64([0, 0]), 1e-5);
    expect(steps).toBeLessThan(500);
    Array.from(params.toTypedArray()).forEach((x) =>
      expect(Math.abs(x - 1)).toBeLessThanOrEqual(1e-5 + 1e-5),
    );
    expect(rosenbrock(params).item()).toBeLessThanOrEqual(1e-5);
  });

  it("decreases the objective at every step, which full steps (linesearch: null) do not", () => {
    const searched = runOpt(optim.lbfgs(), rosenbrock, f64([0, 0]), 1e-5).values;
    searched.slice(1).forEach((v, i) => expect(v).toBeLessThanOrEqual(searched[i] ?? Number.NaN));
    const full = runOpt(optim.lbfgs({ linesearch: null }), rosenbrock, f64([0, 0]), 1e-5).values;
    expect(full.slice(1).some((v, i) => v > (full[i] ?? Number.NaN))).toBe(true);
  });

  it("keeps the line search's state and needs update's extras", () => {
    const opt = optim.lbfgs();
    const p = f64([0, 0]);
    const s = opt.init(p);
    expect((s.linesearch as ZoomLinesearchState).learningRate.item()).toBe(1);
    expect(() => opt.update(p, s, p)).toThrow(/scaleByZoomLinesearch\.update: the line search needs value/);
    expect(() => optim.lbfgs({ linesearch: 3 as never })).toThrow(/lbfgs: linesearch must be/);
  });
});
