/**
 * Laws of the optimizers as pure gradient transformations, on random parameter trees: a zero learning
 * rate leaves the parameters alone; updates never touch their inputs and are deterministic;
 * chain(a, identity()) = a = chain(identity(), a); Adam's first step moves each coordinate by lr;
 * masked(t, all true) = t and masked(t, all false) = identity; multiSteps(t, k) steps t on the mean of k
 * gradients.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NdArray, np, optim, tree } from "../src/index.js";
import type { GradientTransformation, LabelTree } from "../src/optim/index.js";
import { testing } from "../src/testing.js";
import { randomLike, seedArb, signedStream } from "./helpers.js";

const { arb, assertAllClose, propertyParameters } = testing;
const runs = propertyParameters();
const EXACT = { atol: 0, rtol: 0 };

/** Parameter trees of float64 leaves (scalars and small arrays), with three steps of gradients. */
const problems = fc
  .tuple(
    arb.tree(arb.array({ shape: arb.shape({ maxRank: 2, minDim: 1, maxDim: 3 }) }), { maxDepth: 2 }),
    seedArb,
  )
  .map(([params, seed]) => {
    const next = signedStream(seed);
    const grads = [0, 1, 2].map(() => tree.Functor.map(params, (p: NdArray) => randomLike(p, next)));
    return { params, grads };
  });

const optimizers: Record<string, () => GradientTransformation> = {
  sgd: () => optim.sgd({ lr: 0.1 }),
  "sgd with momentum and weight decay": () => optim.sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 }),
  "sgd nesterov": () => optim.sgd({ lr: 0.05, momentum: 0.5, nesterov: true }),
  adam: () => optim.adam({ lr: 0.01 }),
  "adam amsgrad": () => optim.adam({ lr: 0.01, amsgrad: true }),
  adamw: () => optim.adamw({ lr: 0.01, weightDecay: 0.1 }),
  rmsprop: () => optim.rmsprop({ lr: 0.01, momentum: 0.5, centered: true }),
  adagrad: () => optim.adagrad({ lr: 0.1 }),
  adadelta: () => optim.adadelta({ weightDecay: 0.01 }),
  adamax: () => optim.adamax({ lr: 0.01 }),
  nadam: () => optim.nadam({ lr: 0.01 }),
  radam: () => optim.radam({ lr: 0.01 }),
  asgd: () => optim.asgd({ lr: 0.05, t0: 1 }),
  rprop: () => optim.rprop(),
  lamb: () => optim.lamb({ learningRate: 0.01, weightDecay: 0.01 }),
  lion: () => optim.lion({ learningRate: 0.01 }),
  adafactor: () => optim.adafactor({ learningRate: 0.01, minDimSizeToFactor: 2, momentum: 0.9 }),
  lbfgs: () => optim.lbfgs({ learningRate: 0.1, memorySize: 2, linesearch: null }),
  "chain(clipByGlobalNorm, adam)": () => optim.chain(optim.clipByGlobalNorm(1), optim.adam({ lr: 0.01 })),
  "adamw with decayMask": () => optim.adamw({ lr: 0.01, weightDecay: 0.1, mask: optim.decayMask }),
  "masked(sgd with momentum)": () => optim.masked(optim.sgd({ lr: 0.1, momentum: 0.9 }), optim.decayMask),
  "multiTransform(adamw, adam) by rank": () =>
    optim.multiTransform(
      { decay: optim.adamw({ lr: 0.01 }), rest: optim.adam({ lr: 0.02 }) },
      (p: unknown) => tree.map((x: NdArray) => (x.ndim >= 2 ? "decay" : "rest"), p) as LabelTree,
    ),
  "injectHyperparams(adamw)": () => optim.injectHyperparams(optim.adamw)({ lr: 0.01, weightDecay: 0.1 }),
  "multiSteps(adam, 2)": () => optim.multiSteps(optim.adam({ lr: 0.01 }), 2),
  ema: () => optim.ema(0.9),
};

/** A deep copy of every array's values in a tree, to detect mutation. */
function snapshot(t: unknown): number[][] {
  return tree.leaves<unknown>(t).map((l) => (l instanceof NdArray ? Array.from(l.toTypedArray()) : []));
}

/** Runs `steps` updates, returning the parameters and states after each. */
function run(opt: GradientTransformation, params: unknown, grads: readonly unknown[]) {
  let state = opt.init(params);
  let p = params;
  const trace: { params: unknown; updates: unknown; state: unknown }[] = [];
  for (const g of grads) {
    const [updates, next] = opt.update(g, state, p);
    p = optim.applyUpdates(p, updates);
    state = next;
    trace.push({ params: p, updates, state });
  }
  return trace;
}

describe("sgd with lr = 0", () => {
  it("is the identity on the parameters, with or without momentum, nesterov and weight decay", () => {
    const variants = [
      optim.sgd({ lr: 0 }),
      optim.sgd({ lr: 0, momentum: 0.9, weightDecay: 0.1 }),
      optim.sgd({ lr: 0, momentum: 0.9, nesterov: true }),
    ];
    fc.assert(
      fc.property(problems, ({ params, grads }) => {
        for (const opt of variants) {
          for (const step of run(opt, params, grads))
            assertAllClose(step.params, params, { ...EXACT, name: "params" });
        }
      }),
      runs,
    );
  });
});

describe("updates are pure", () => {
  for (const [name, make] of Object.entries(optimizers)) {
    it(`${name}: leaves grads, state and params untouched, and gives the same outputs for the same inputs`, () => {
      fc.assert(
        fc.property(problems, ({ params, grads }) => {
          const opt = make();
          let state = opt.init(params);
          let p = params;
          for (const g of grads) {
            const before = [snapshot(g), snapshot(state), snapshot(p)];
            const [updates, next] = opt.update(g, state, p);
            expect([snapshot(g), snapshot(state), snapshot(p)]).toEqual(before);
            const [again, nextAgain] = opt.update(g, state, p);
            assertAllClose(again, updates, { ...EXACT, name: "updates" });
            assertAllClose(nextAgain, next, { ...EXACT, name: "state" });
            // A fresh optimizer with the same configuration agrees too: no hidden state.
            const [fresh] = make().update(g, state, p);
            assertAllClose(fresh, updates, { ...EXACT, name: "updates (fresh optimizer)" });
            p = optim.applyUpdates(p, updates);
            state = next;
          }
        }),
        propertyParameters({ scale: 0.5 }),
      );
    });
  }
});

describe("chain with identity", () => {
  for (const [name, make] of Object.entries(optimizers)) {
    it(`chain(${name}, identity()) = ${name} = chain(identity(), ${name})`, () => {
      fc.assert(
        fc.property(problems, ({ params, grads }) => {
          const alone = run(make(), params, grads);
          const after = run(optim.chain(make(), optim.identity()), params, grads);
          const before = run(optim.chain(optim.identity(), make()), params, grads);
          alone.forEach((step, i) => {
            assertAllClose(after[i]!.updates, step.updates, { ...EXACT, name: "updates (identity after)" });
            assertAllClose(before[i]!.updates, step.updates, { ...EXACT, name: "updates (identity before)" });
            assertAllClose((after[i]!.state as unknown[])[0], step.state, { ...EXACT, name: "state" });
            assertAllClose((before[i]!.state as unknown[])[1], step.state, { ...EXACT, name: "state" });
          });
        }),
        propertyParameters({ scale: 0.5 }),
      );
    });
  }
});

describe("Adam", () => {
  it("moves every coordinate by lr (against the gradient's sign) on its first step", () => {
    const grads = arb.array({
      shape: arb.shape({ minRank: 1, maxRank: 2, minDim: 1, maxDim: 4 }),
      avoid: [0],
      margin: 0.01,
    });
    fc.assert(
      fc.property(grads, fc.double({ min: 1e-4, max: 1, noNaN: true }), (g, lr) => {
        const opt = optim.adam({ lr });
        const params = { w: np.zerosLike(g) };
        const [updates] = opt.update({ w: g }, opt.init(params), params);
        // |update| = lr·|g| / (|g| + eps) with eps = 1e-8 and |g| >= 0.01.
        assertAllClose(updates.w, np.multiply(np.sign(g), -lr), { atol: 0, rtol: 1e-5 });
      }),
      runs,
    );
  });
});

describe("masked and multiSteps", () => {
  it("masked(t, every leaf) = t, masked(t, no leaf) = identity, multiTransform with one label = t", () => {
    fc.assert(
      fc.property(problems, ({ params, grads }) => {
        const make = () => optim.adam({ lr: 0.01 });
        const alone = run(make(), params, grads);
        const all = run(optim.masked(make(), true), params, grads);
        const none = run(optim.masked(make(), false), params, grads);
        const one = run(optim.multiTransform({ only: make() }, "only"), params, grads);
        alone.forEach((step, i) => {
          assertAllClose(all[i]!.updates, step.updates, { ...EXACT, name: "masked, all" });
          assertAllClose(one[i]!.updates, step.updates, { ...EXACT, name: "multiTransform, one label" });
          assertAllClose(none[i]!.updates, grads[i], { ...EXACT, name: "masked, none" });
        });
      }),
      propertyParameters({ scale: 0.5 }),
    );
  });

  it("multiSteps(sgd, 3) steps on the mean of three gradients, with zero updates in between", () => {
    fc.assert(
      fc.property(problems, ({ params, grads }) => {
        const steps = run(optim.multiSteps(optim.sgd({ lr: 0.5 }), 3), params, grads);
        const zeros = tree.Functor.map(params, (p: NdArray) => np.zerosLike(p));
        assertAllClose(steps[0]!.updates, zeros, { ...EXACT, name: "first call" });
        assertAllClose(steps[1]!.updates, zeros, { ...EXACT, name: "second call" });
        const [g0, g1, g2] = grads.map((g) => tree.leaves<NdArray>(g));
        const expected = tree
          .leaves<NdArray>(params)
          .map((_, i) => np.multiply(np.add(np.add(g0![i]!, g1![i]!), g2![i]!), -0.5 / 3));
        assertAllClose(tree.leaves<NdArray>(steps[2]!.updates), expected, {
          atol: 1e-15,
          rtol: 1e-13,
          name: "third call",
        });
      }),
      runs,
    );
  });
});
