/**
 * optax semantics of the wrapper transformations, each against values worked out by hand from optax's
 * formulas (not from this implementation): multiSteps (gradient accumulation), injectHyperparams, ema and
 * emaParams, masked / addDecayedWeights with masks and decayMask, multiTransform (parameter groups); and
 * each one jitted equal to eager.
 */
import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, optim, tree } from "../../src/index.js";
import type { GradientTransformation } from "../../src/optim/index.js";
import { testing } from "../../src/testing.js";

const { assertAllClose } = testing;
const f64 = (values: number[] | number[][]) => np.array(values, { dtype: "float64" });
const EXACT = { atol: 0, rtol: 0 };
const CLOSE = { atol: 1e-15, rtol: 1e-14 };

const params = {
  w: f64([
    [1, -2],
    [3, 4],
  ]),
  b: f64([0.5, -0.25]),
};
const gradSeq = [
  {
    w: f64([
      [0.2, -0.4],
      [0.6, 1],
    ]),
    b: f64([1, -1]),
  },
  {
    w: f64([
      [0.4, 0.4],
      [-0.6, 3],
    ]),
    b: f64([2, 0]),
  },
  {
    w: f64([
      [-0.3, 0.9],
      [0.3, 2],
    ]),
    b: f64([0, 4]),
  },
  {
    w: f64([
      [1, 1],
      [1, 1],
    ]),
    b: f64([-1, -1]),
  },
];
const g = (i: number) => gradSeq[i]!;
const values = (x: unknown) => tree.leaves<NdArray>(x).map((a) => Array.from(a.toTypedArray()));

/** Runs `opt` over the gradient sequence (params fixed), returning each step's updates and state. */
function run<S>(opt: GradientTransformation<S>, grads: readonly unknown[] = gradSeq, p: unknown = params) {
  let state = opt.init(p);
  return grads.map((gr) => {
    const [updates, next] = opt.update(gr, state, p);
    state = next;
    return { updates, state };
  });
}

/** The first step of `run`. */
const run1 = <S>(opt: GradientTransformation<S>, grads: readonly unknown[], p: unknown = params) =>
  run(opt, grads, p)[0]!;

/** The same run through one jitted update. */
function runJit<S>(opt: GradientTransformation<S>, grads: readonly unknown[] = gradSeq, p: unknown = params) {
  const update = jit((gr: unknown, s: S, pp: unknown) => opt.update(gr, s, pp));
  let state = opt.init(p);
  return grads.map((gr) => {
    const [updates, next] = update(gr, state, p);
    state = next;
    return { updates, state };
  });
}

/** a * x + b * y leaf by leaf, for expected values. */
const combine = (a: number, x: unknown, b = 0, y: unknown = x) =>
  tree.map((u: NdArray, v: NdArray) => np.add(np.multiply(u, a), np.multiply(v, b)), x, y);

describe("multiSteps (optax.MultiSteps)", () => {
  it("k = 3 with sgd: zero updates, then -lr * the mean of the three gradients, then zeros again", () => {
    const steps = run(optim.multiSteps(optim.sgd({ lr: 0.5 }), 3));
    const zeros = tree.map((x: NdArray) => np.zerosLike(x), params);
    assertAllClose(steps[0]!.updates, zeros, EXACT);
    assertAllClose(steps[1]!.updates, zeros, EXACT);
    // mean = (g0 + g1 + g2) / 3: w [[0.1, 0.3], [0.1, 2]], b [1, 1]; update = -0.5 * mean.
    assertAllClose(
      steps[2]!.updates,
      {
        w: f64([
          [-0.05, -0.15],
          [-0.05, -1],
        ]),
        b: f64([-0.5, -0.5]),
      },
      CLOSE,
    );
    assertAllClose(steps[3]!.updates, zeros, EXACT);
    expect(steps.map((s) => s.state.miniStep.item())).toEqual([1, 2, 0, 1]);
    expect(steps.map((s) => s.state.gradientStep.item())).toEqual([0, 0, 1, 1]);
    // The running mean: g0, then (g0 + g1) / 2; zeros after the inner step; g3 after the next call.
    assertAllClose(steps[0]!.state.accGrads, g(0), EXACT);
    assertAllClose(
      steps[1]!.state.accGrads,
      {
        w: f64([
          [0.3, 0],
          [0, 2],
        ]),
        b: f64([1.5, -0.5]),
      },
      CLOSE,
    );
    assertAllClose(steps[2]!.state.accGrads, zeros, EXACT);
    assertAllClose(steps[3]!.state.accGrads, g(3), EXACT);
  });

  it("the inner state only moves on the k-th call: adam's first step on the mean gradient", () => {
    const opt = optim.multiSteps(optim.adam({ lr: 0.1 }), 2);
    const steps = run(opt);
    const inner = (i: number) => steps[i]!.state.innerOptState;
    expect(inner(0).count.item()).toBe(0);
    expect(inner(1).count.item()).toBe(1);
    expect(inner(3).count.item()).toBe(2);
    expect(Boolean(opt.hasUpdated(steps[0]!.state).item())).toBe(false);
    expect(Boolean(opt.hasUpdated(steps[1]!.state).item())).toBe(true);
    // Adam's first step moves each coordinate by -lr * m / (|m| + eps) of the mean m = (g0 + g1) / 2.
    const mean = combine(0.5, g(0), 0.5, g(1));
    const first = tree.map((m: NdArray) => np.multiply(np.divide(m, np.add(np.abs(m), 1e-8)), -0.1), mean);
    assertAllClose(steps[1]!.updates, first, CLOSE);
    // The moments saw the mean only: expAvg = 0.1 * m.
    assertAllClose(inner(1).expAvg, combine(0.1, mean), CLOSE);
  });

  it("k = 1 is the inner optimizer", () => {
    const alone = run(optim.adam({ lr: 0.01 }));
    run(optim.multiSteps(optim.adam({ lr: 0.01 }), 1)).forEach((s, i) =>
      assertAllClose(s.updates, alone[i]!.updates, EXACT),
    );
  });

  it("jitted equals eager", () => {
    const make = () => optim.multiSteps(optim.adamw({ lr: 0.01, weightDecay: 0.1 }), 2);
    const eager = run(make());
    runJit(make()).forEach((s, i) => {
      assertAllClose(s.updates, eager[i]!.updates, EXACT);
      assertAllClose(s.state, eager[i]!.state, EXACT);
    });
  });

  it("rejects a bad k and gradients unlike the accumulator", () => {
    expect(() => optim.multiSteps(optim.sgd({ lr: 1 }), 0)).toThrow(
      /multiSteps: everyKSteps must be a positive integer/,
    );
    const opt = optim.multiSteps(optim.sgd({ lr: 1 }), 2);
    expect(() => opt.update({ w: f64([1]), b: g(0).b }, opt.init(params), params)).toThrow(
      /multiSteps.update/,
    );
  });
});

describe("injectHyperparams (optax.inject_hyperparams)", () => {
  it("keeps lr in the state as a float64 scalar; changing it there changes the next update, jitted too", () => {
    const opt = optim.injectHyperparams(optim.sgd)({ lr: 0.1 });
    const update = jit((gr: unknown, s: ReturnType<typeof opt.init>, p: unknown) => opt.update(gr, s, p));
    let state = opt.init(params);
    expect(state.hyperparams["lr"]!.dtype).toBe("float64");
    expect(state.hyperparams["lr"]!.item()).toBe(0.1);
    let [u, next] = update(g(0), state, params);
    assertAllClose(u, combine(-0.1, g(0)), EXACT);
    state = { ...next, hyperparams: { ...next.hyperparams, lr: np.scalar(0.5, "float64") } };
    [u, next] = update(g(1), state, params);
    assertAllClose(u, combine(-0.5, g(1)), EXACT);
    expect(next.hyperparams["lr"]!.item()).toBe(0.5);
    expect(next.count.item()).toBe(2);
  });

  it("evaluates a schedule at the step count and records the value it used", () => {
    const lr = optim.schedules.makeSchedule((m, t) => m.multiply(0.1, m.add(t, 1)));
    const steps = run(optim.injectHyperparams(optim.sgd)({ lr }));
    steps.forEach((s, t) => {
      expect(s.state.hyperparams["lr"]!.item()).toBeCloseTo(0.1 * (t + 1), 15);
      assertAllClose(s.updates, combine(-0.1 * (t + 1), g(t)), CLOSE);
    });
  });

  it("injects weightDecay into adamw (decoupled: -lr * wd * p on top of Adam's step)", () => {
    const opt = optim.injectHyperparams(optim.adamw)({ lr: 0.1, weightDecay: 0.5, eps: 0 });
    expect(Object.keys(opt.init(params).hyperparams)).toEqual(["lr", "weightDecay", "eps"]);
    const { updates } = run1(opt, [g(0)]);
    // First Adam step with eps 0: -lr * sign(g); decay: -0.1 * 0.5 * p.
    const expected = tree.map(
      (gr: NdArray, p: NdArray) => np.add(np.multiply(np.sign(gr), -0.1), np.multiply(p, -0.05)),
      g(0),
      params,
    );
    assertAllClose(updates, expected, CLOSE);
  });

  it("names an option the factory needs as a number, and staticArgs passes it as given", () => {
    expect(() => optim.injectHyperparams(optim.sgd)({ lr: 0.1, momentum: 0.9 })).toThrow(
      /injectHyperparams: the factory refused .*momentum.*staticArgs/,
    );
    const opt = optim.injectHyperparams(optim.sgd, { staticArgs: ["momentum"] })({ lr: 0.1, momentum: 0.9 });
    expect(Object.keys(opt.init(params).hyperparams)).toEqual(["lr"]);
    const steps = run(opt);
    // torch's momentum: buf = g0, then 0.9 g0 + g1.
    assertAllClose(steps[1]!.updates, combine(-0.09, g(0), -0.1, g(1)), CLOSE);
  });

  it("gives an init state whose leaves are distinct arrays, so a jitted step can donate it", () => {
    // The inner adamw records the injected scalars in its own state: they must not be the same arrays as
    // the outer hyperparams (jit refuses a donated array passed twice), nor shared between two inits.
    const opt = optim.injectHyperparams(optim.adamw)({ lr: 0.1, weightDecay: 0.5, eps: 0 });
    const first = tree.leaves(opt.init(params));
    const second = tree.leaves(opt.init(params));
    expect(new Set(first).size).toBe(first.length);
    for (const leaf of first) expect(second).not.toContain(leaf);
    const step = jit(
      (p: typeof params, s: ReturnType<typeof opt.init>) => {
        const [updates, next] = opt.update(g(0), s, p);
        return [optim.applyUpdates(p, updates), next] as const;
      },
      { donateArgnums: [0, 1] },
    );
    const [p1] = step(
      tree.map((x: NdArray) => np.add(x, 0), params),
      opt.init(params),
    );
    assertAllClose(
      p1,
      tree.map(
        (p: NdArray, gr: NdArray) => np.add(p, np.add(np.multiply(np.sign(gr), -0.1), np.multiply(p, -0.05))),
        params,
        g(0),
      ),
      CLOSE,
    );
  });

  it("wraps a factory with positional arguments", () => {
    const opt = optim.injectHyperparams(({ factor }: { factor: number }) =>
      optim.scaleByLearningRate(factor),
    )({ factor: 2 });
    assertAllClose(run(opt, [g(0)])[0]!.updates, combine(-2, g(0)), EXACT);
  });
});

describe("ema (optax.ema) and emaParams", () => {
  it("debiased: the first update is the gradient, the second (0.1 g1 + 0.09 g0) / 0.19", () => {
    const steps = run(optim.ema(0.9));
    assertAllClose(steps[0]!.updates, g(0), CLOSE);
    assertAllClose(steps[1]!.updates, combine(0.1 / 0.19, g(1), 0.09 / 0.19, g(0)), CLOSE);
    assertAllClose(steps[1]!.state.ema, combine(0.1, g(1), 0.09, g(0)), CLOSE);
  });

  it("without debias: the updates are the average itself, from zero", () => {
    const steps = run(optim.ema(0.9, { debias: false }));
    assertAllClose(steps[0]!.updates, combine(0.1, g(0)), CLOSE);
    assertAllClose(steps[1]!.updates, combine(0.1, g(1), 0.09, g(0)), CLOSE);
  });

  it("jitted equals eager", () => {
    const eager = run(optim.ema(0.8));
    runJit(optim.ema(0.8)).forEach((s, i) => assertAllClose(s.updates, eager[i]!.updates, EXACT));
  });

  it("emaParams starts at the params and follows them: 0.25 p0 + 0.25 p1 + 0.5 p2 after two updates", () => {
    const avg = optim.emaParams(0.5);
    const p = [params, g(0), g(1)];
    let state = avg.init(p[0]);
    assertAllClose(state.ema, params, EXACT);
    state = avg.update(p[1], state);
    state = jit((pp: typeof params, s: typeof state) => avg.update(pp, s))(p[2]!, state);
    expect(state.count.item()).toBe(2);
    const expected = tree.map(
      (a: NdArray, b: NdArray, c: NdArray) =>
        np.add(np.add(np.multiply(a, 0.25), np.multiply(b, 0.25)), np.multiply(c, 0.5)),
      p[0],
      p[1],
      p[2],
    );
    assertAllClose(state.ema, expected, CLOSE);
  });

  it("emaParams with a schedule uses the decay at each update's count (0, then 0.5: p1, then (p1 + p2) / 2)", () => {
    const avg = optim.emaParams(optim.schedules.makeSchedule((m, t) => m.multiply(t, 0.5)));
    let state = avg.init(params);
    state = avg.update(g(0), state);
    assertAllClose(state.ema, g(0), CLOSE);
    state = avg.update(g(1), state);
    assertAllClose(state.ema, combine(0.5, g(0), 0.5, g(1)), CLOSE);
  });

  it("rejects a decay out of [0, 1) and a plain function", () => {
    expect(() => optim.ema(1)).toThrow(/ema: decay must be a finite number in \[0, 1\)/);
    expect(() => optim.emaParams(1.5)).toThrow(/emaParams: decay/);
    expect(() => optim.emaParams((() => 0.9) as never)).toThrow(
      /emaParams: decay must be a number or a Schedule/,
    );
  });
});

describe("masks: addDecayedWeights, masked, decayMask", () => {
  it("addDecayedWeights adds wd * p on the masked leaves only (tree, prefix and function masks)", () => {
    const expected = { w: np.add(g(0).w, np.multiply(params.w, 0.1)), b: g(0).b };
    for (const mask of [
      { w: true, b: false },
      optim.decayMask,
      (p: typeof params) => ({ w: p.w.ndim === 2, b: false }),
    ]) {
      const { updates } = run1(optim.addDecayedWeights(0.1, { mask }), [g(0)]);
      assertAllClose(updates, expected, EXACT);
    }
    const nested = { layer: params, head: { w: params.w } };
    const nestedGrads = { layer: g(0), head: { w: g(1).w } };
    const { updates } = run1(
      optim.addDecayedWeights(0.1, { mask: { layer: false, head: true } }),
      [nestedGrads],
      nested,
    );
    assertAllClose(updates, { layer: g(0), head: { w: np.add(g(1).w, np.multiply(params.w, 0.1)) } }, EXACT);
  });

  it("masked runs the inner transformation on the selected leaves, with state for those only", () => {
    const opt = optim.masked(optim.sgd({ lr: 0.1, momentum: 0.9 }), { w: false, b: true });
    const steps = run(opt);
    assertAllClose(steps[0]!.updates, { w: g(0).w, b: np.multiply(g(0).b, -0.1) }, CLOSE);
    // torch's momentum on b: buf = g0, then 0.9 g0 + g1; w passes through.
    assertAllClose(
      steps[1]!.updates,
      { w: g(1).w, b: np.add(np.multiply(g(0).b, -0.09), np.multiply(g(1).b, -0.1)) },
      CLOSE,
    );
    const buffers = steps[1]!.state.innerState.momentumBuffer as { w: unknown; b: NdArray };
    expect(buffers.w).toBeNull();
    expect(values(buffers.b)).toEqual(values(np.add(np.multiply(g(0).b, 0.9), g(1).b)));
  });

  it("masked jitted equals eager", () => {
    const make = () => optim.masked(optim.adam({ lr: 0.01 }), optim.decayMask);
    const eager = run(make());
    runJit(make()).forEach((s, i) => assertAllClose(s.updates, eager[i]!.updates, EXACT));
  });

  it("decayMask: matrices true; vectors, scalars and excluded paths false", () => {
    const model = {
      embedding: { weight: np.zeros([5, 3]) },
      block: {
        norm: { weight: np.ones([3]), bias: np.zeros([3]) },
        fc: { weight: np.zeros([3, 3]), bias: np.zeros([3]) },
      },
      scale: np.ones([]),
    };
    expect(optim.decayMask(model)).toEqual({
      embedding: { weight: true },
      block: { norm: { weight: false, bias: false }, fc: { weight: true, bias: false } },
      scale: false,
    });
    expect(tree.leaves<boolean>(optim.decayMask(model, { exclude: /^embedding\./ }))).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
    ]);
  });

  it("a mask that does not match the params is an error naming the path", () => {
    const opt = optim.addDecayedWeights(0.1, { mask: { w: true, c: false } as never });
    expect(() => opt.update(g(0), opt.init(params), params)).toThrow(
      /addDecayedWeights: the mask at the root must be a boolean or a tree matching the params there/,
    );
    const bad = optim.masked(optim.identity(), { w: true, b: 1 } as never);
    expect(() => bad.init(params)).toThrow(/masked: the mask at b must be a boolean/);
    expect(() => optim.adamw({ mask: 3 as never })).toThrow(
      /adamw: mask must be a tree of booleans or a function/,
    );
  });
});

describe("multiTransform (optax.multi_transform, torch's parameter groups)", () => {
  it("each label's transformation gets its leaves and keeps its own state", () => {
    const opt = optim.multiTransform(
      { fast: optim.sgd({ lr: 1, momentum: 0.5 }), slow: optim.sgd({ lr: 0.01 }) },
      { w: "slow", b: "fast" },
    );
    const steps = run(opt);
    assertAllClose(steps[0]!.updates, { w: np.multiply(g(0).w, -0.01), b: np.negative(g(0).b) }, CLOSE);
    // b: buf = g0, then 0.5 g0 + g1.
    assertAllClose(
      steps[1]!.updates,
      { w: np.multiply(g(1).w, -0.01), b: combine(-0.5, g(0).b, -1, g(1).b) },
      CLOSE,
    );
    const states = steps[1]!.state.innerStates as Record<string, { count: NdArray; momentumBuffer: unknown }>;
    expect(Object.keys(states)).toEqual(["fast", "slow"]);
    expect((states["fast"]!.momentumBuffer as { w: unknown }).w).toBeNull();
    expect(states["slow"]!.count.item()).toBe(2);
  });

  it("labels by function and by prefix; a transformation with no leaves is allowed", () => {
    const byRank = (p: typeof params) => tree.map((x: NdArray) => (x.ndim >= 2 ? "matrix" : "vector"), p);
    const a = run(
      optim.multiTransform(
        { matrix: optim.scale(2), vector: optim.scale(3), unused: optim.scale(5) },
        byRank as never,
      ),
      [g(0)],
    );
    assertAllClose(a[0]!.updates, { w: np.multiply(g(0).w, 2), b: np.multiply(g(0).b, 3) }, EXACT);
    const nested = { layer: params, head: params };
    const b = run(
      optim.multiTransform({ x: optim.scale(2), y: optim.scale(-1) }, { layer: "x", head: "y" }),
      [{ layer: g(0), head: g(1) }],
      nested,
    );
    assertAllClose(b[0]!.updates, { layer: combine(2, g(0)), head: combine(-1, g(1)) }, EXACT);
  });

  it("jitted equals eager", () => {
    const make = () =>
      optim.multiTransform(
        { decay: optim.adamw({ lr: 0.01, weightDecay: 0.1 }), rest: optim.adam({ lr: 0.02 }) },
        { w: "decay", b: "rest" },
      );
    const eager = run(make());
    runJit(make()).forEach((s, i) => {
      assertAllClose(s.updates, eager[i]!.updates, EXACT);
      assertAllClose(s.state, eager[i]!.state, EXACT);
    });
  });

  it("a label without a transformation is an error naming it", () => {
    const opt = optim.multiTransform({ a: optim.identity() }, { w: "a", b: "bias" });
    expect(() => opt.init(params)).toThrow(
      /multiTransform.init: no transformation for label bias \(transforms has a\)/,
    );
  });
});
