/**
 * The atoms the optimizers are built from, used on their own: chained as optax chains them, they give
 * the optimizers' updates (bit for bit where the optimizer is exactly that chain), and schedules written
 * once as a formula agree in both forms.
 */
import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, optim, tree } from "../../src/index.js";
import type { GradientTransformation } from "../../src/optim/index.js";

const f64 = (data: number[], shape: number[]): NdArray => np.array(data, { shape, dtype: "float64" });
const flat = (t: unknown): number[] => tree.leaves<NdArray>(t).flatMap((x) => Array.from(x.toTypedArray()));

const start = () => ({
  w: f64([0.3, -0.7, 1.2, 0.05, -1.5, 0.9], [2, 3]),
  b: f64([0.1, -0.2], [2]),
});
type Params = ReturnType<typeof start>;
const gradAt = (p: Params, t: number): Params =>
  tree.map((x: NdArray) => np.add(np.sin(np.add(np.multiply(x, 3), 0.1 * t)), np.multiply(x, 0.5)), p);

/** The parameters after `steps` updates with each transformation (same gradient field). */
function trajectory(opt: GradientTransformation, steps = 5): number[][] {
  let p = start();
  let s = opt.init(p);
  const out: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const [u, next] = opt.update(gradAt(p, t), s, p);
    p = optim.applyUpdates(p, u);
    s = next;
    out.push(flat(p));
  }
  return out;
}

describe("optimizers are chains of atoms", () => {
  const exact: [string, () => GradientTransformation, () => GradientTransformation][] = [
    [
      "sgd = addWeightDecay, trace, scaleByLearningRate",
      () => optim.sgd({ lr: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.01 }),
      () =>
        optim.chain(
          optim.addWeightDecay(0.01),
          optim.trace({ momentum: 0.9, dampening: 0.2 }),
          optim.scaleByLearningRate(0.1),
        ),
    ],
    [
      "sgd nesterov",
      () => optim.sgd({ lr: 0.1, momentum: 0.9, nesterov: true }),
      () => optim.chain(optim.trace({ momentum: 0.9, nesterov: true }), optim.scaleByLearningRate(0.1)),
    ],
    [
      "rmsprop = addWeightDecay, scaleByRms, scaleByLearningRate",
      () => optim.rmsprop({ lr: 0.01, alpha: 0.9, centered: true, weightDecay: 0.1 }),
      () =>
        optim.chain(
          optim.addWeightDecay(0.1),
          optim.scaleByRms({ alpha: 0.9, centered: true }),
          optim.scaleByLearningRate(0.01),
        ),
    ],
    [
      "adagrad = scaleByRss, scaleByLearningRate",
      () => optim.adagrad({ lr: 0.1, initialAccumulatorValue: 0.5 }),
      () => optim.chain(optim.scaleByRss({ initialAccumulatorValue: 0.5 }), optim.scaleByLearningRate(0.1)),
    ],
  ];
  it.each(exact)("%s (bit for bit)", (_, optimizer, atoms) => {
    expect(trajectory(atoms())).toEqual(trajectory(optimizer()));
  });

  // Adam folds 1 - b1^t into its step size as torch does; the atom divides the update by it.
  const rounding: [string, () => GradientTransformation, () => GradientTransformation][] = [
    [
      "adam = addWeightDecay, scaleByAdam, scaleByLearningRate",
      () => optim.adam({ lr: 0.01, weightDecay: 0.1, amsgrad: true, betas: [0.8, 0.99] }),
      () =>
        optim.chain(
          optim.addWeightDecay(0.1),
          optim.scaleByAdam({ amsgrad: true, betas: [0.8, 0.99] }),
          optim.scaleByLearningRate(0.01),
        ),
    ],
    [
      "adamw = scaleByAdam, scaleByLearningRate, addDecoupledWeightDecay",
      () => optim.adamw({ lr: 0.01, weightDecay: 0.3 }),
      () =>
        optim.chain(
          optim.scaleByAdam(),
          optim.scaleByLearningRate(0.01),
          optim.addDecoupledWeightDecay({ lr: 0.01, weightDecay: 0.3 }),
        ),
    ],
  ];
  it.each(rounding)("%s (to rounding)", (_, optimizer, atoms) => {
    const want = trajectory(optimizer());
    trajectory(atoms()).forEach((row, t) =>
      row.forEach((x, i) => expect(Math.abs(x - want[t]![i]!)).toBeLessThan(1e-15)),
    );
  });

  it("an optimizer's state is flat, under torch's names, in torch's order", () => {
    const p = start();
    const names = (opt: GradientTransformation) => Object.keys(opt.init(p) as object);
    expect(names(optim.sgd({ lr: 0.1 }))).toEqual(["count", "hyperparams", "momentumBuffer"]);
    expect(names(optim.adam())).toEqual(["count", "hyperparams", "expAvg", "expAvgSq", "maxExpAvgSq"]);
    expect(names(optim.rmsprop())).toEqual([
      "count",
      "hyperparams",
      "squareAvg",
      "gradAvg",
      "momentumBuffer",
    ]);
    expect(names(optim.adagrad())).toEqual(["count", "hyperparams", "sum"]);
    expect(names(optim.scaleByAdam())).toEqual(["count", "expAvg", "expAvgSq", "maxExpAvgSq"]);
    expect(optim.clip(1).init(p)).toBeNull();
  });

  it("atoms check their options and name themselves in errors", () => {
    expect(() => optim.trace({ momentum: -1 })).toThrow(
      "trace: momentum must be a finite number >= 0, got -1",
    );
    expect(() => optim.trace({ momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(
      /trace: nesterov requires momentum > 0 and dampening = 0/,
    );
    expect(() => optim.scaleByAdam({ betas: [0.9, 1] })).toThrow(/scaleByAdam: betas\[1\] must be/);
    expect(() => optim.scaleByRms({ wrong: 1 } as never)).toThrow(/scaleByRms: unknown option 'wrong'/);
    const decay = optim.addDecoupledWeightDecay({ lr: 0.1, weightDecay: 0.1 });
    expect(() => decay.update(gradAt(start(), 0), decay.init(start()))).toThrow(
      /addDecoupledWeightDecay\.update: weightDecay needs the params/,
    );
  });
});

describe("schedules written once", () => {
  it("a formula gives the JS form and the traceable array form", () => {
    const halving = optim.schedules.makeSchedule((m, step) =>
      m.multiply(0.1, m.power(0.5, m.floor(m.divide(step, 10)))),
    );
    expect([0, 9, 10, 25].map((t) => halving(t))).toEqual([0.1, 0.1, 0.05, 0.025]);
    const onArray = jit((count: NdArray) => halving.onArray(count));
    expect([0, 9, 10, 25].map((t) => onArray(np.scalar(t, "int32")).item())).toEqual([0.1, 0.1, 0.05, 0.025]);
    expect(halving.onArray(np.scalar(3, "int32")).dtype).toBe("float64");
    // A constant formula is a float64 scalar too.
    expect(optim.schedules.makeSchedule(() => 2).onArray(np.scalar(0, "int32")).dtype).toBe("float64");
  });

  it("where picks per form (both branches computed)", () => {
    const clipped = optim.schedules.makeSchedule((m, step) =>
      m.where(m.less(step, 3), m.multiply(step, 2), 6),
    );
    expect([0, 2, 3, 7].map((t) => clipped(t))).toEqual([0, 4, 6, 6]);
    expect([0, 2, 3, 7].map((t) => clipped.onArray(np.scalar(t, "int32")).item())).toEqual([0, 4, 6, 6]);
  });
});
