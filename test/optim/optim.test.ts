import { describe, expect, it } from "vitest";
import { ConcretizationError, jit, makeProgram, type NdArray, np, optim, tree } from "../../src/index.js";
import type { GradientTransformation } from "../../src/optim/index.js";

const { schedules } = optim;

// ---------------------------------------------------------------------------------------------------
// PyTorch 1.13 reference: the single-tensor code paths of torch/optim/{sgd,adam,adamw,rmsprop,adagrad}.py,
// transcribed per element over JS numbers (float64). Each `step` mutates `p` the way PyTorch does.

interface Reference {
  step(p: number[], g: readonly number[]): void;
}

class TorchSgd implements Reference {
  private buf: number[] | null = null;
  constructor(
    private readonly o: {
      lr: number;
      momentum?: number;
      dampening?: number;
      nesterov?: boolean;
      weightDecay?: number;
    },
  ) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 } = this.o;
    const first = this.buf === null;
    if (first) this.buf = new Array<number>(p.length).fill(0);
    p.forEach((_, i) => {
      let d = grad[i]!;
      if (weightDecay !== 0) d = d + weightDecay * p[i]!;
      if (momentum !== 0) {
        const buf = this.buf!;
        if (first) buf[i] = d;
        else buf[i] = buf[i]! * momentum + (1 - dampening) * d;
        d = nesterov ? d + momentum * buf[i]! : buf[i]!;
      }
      p[i] = p[i]! + -lr * d;
    });
  }
}

class TorchAdam implements Reference {
  private t = 0;
  private m: number[] = [];
  private v: number[] = [];
  private vMax: number[] = [];
  constructor(
    private readonly o: {
      lr?: number;
      betas?: [number, number];
      eps?: number;
      weightDecay?: number;
      amsgrad?: boolean;
      decoupled?: boolean;
    },
  ) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, amsgrad = false, decoupled = false } = this.o;
    const weightDecay = this.o.weightDecay ?? (decoupled ? 1e-2 : 0);
    const [b1, b2] = betas;
    if (this.t === 0) {
      this.m = p.map(() => 0);
      this.v = p.map(() => 0);
      this.vMax = p.map(() => 0);
    }
    this.t += 1;
    const biasCorrection1 = 1 - b1 ** this.t;
    const biasCorrection2 = 1 - b2 ** this.t;
    const stepSize = lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    p.forEach((_, i) => {
      let g = grad[i]!;
      if (decoupled) p[i] = p[i]! * (1 - lr * weightDecay);
      else if (weightDecay !== 0) g = g + weightDecay * p[i]!;
      this.m[i] = this.m[i]! * b1 + (1 - b1) * g;
      this.v[i] = this.v[i]! * b2 + (1 - b2) * (g * g);
      let second = this.v[i]!;
      if (amsgrad) {
        this.vMax[i] = Math.max(this.vMax[i]!, this.v[i]!);
        second = this.vMax[i]!;
      }
      const denom = Math.sqrt(second) / biasCorrection2Sqrt + eps;
      p[i] = p[i]! + -stepSize * (this.m[i]! / denom);
    });
  }
}

class TorchRmsprop implements Reference {
  private sq: number[] = [];
  private ga: number[] = [];
  private buf: number[] = [];
  private started = false;
  constructor(
    private readonly o: {
      lr?: number;
      alpha?: number;
      eps?: number;
      weightDecay?: number;
      momentum?: number;
      centered?: boolean;
    },
  ) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr = 1e-2, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0, centered = false } = this.o;
    if (!this.started) {
      this.sq = p.map(() => 0);
      this.ga = p.map(() => 0);
      this.buf = p.map(() => 0);
      this.started = true;
    }
    p.forEach((_, i) => {
      let g = grad[i]!;
      if (weightDecay !== 0) g = g + weightDecay * p[i]!;
      this.sq[i] = this.sq[i]! * alpha + (1 - alpha) * (g * g);
      let avg: number;
      if (centered) {
        this.ga[i] = this.ga[i]! * alpha + (1 - alpha) * g;
        avg = Math.sqrt(this.sq[i]! + -1 * (this.ga[i]! * this.ga[i]!));
      } else {
        avg = Math.sqrt(this.sq[i]!);
      }
      avg = avg + eps;
      if (momentum > 0) {
        this.buf[i] = this.buf[i]! * momentum + g / avg;
        p[i] = p[i]! + -lr * this.buf[i]!;
      } else {
        p[i] = p[i]! + -lr * (g / avg);
      }
    });
  }
}

class TorchAdagrad implements Reference {
  private t = 0;
  private sum: number[] = [];
  constructor(
    private readonly o: {
      lr?: number;
      lrDecay?: number;
      weightDecay?: number;
      initialAccumulatorValue?: number;
      eps?: number;
    },
  ) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr = 1e-2, lrDecay = 0, weightDecay = 0, initialAccumulatorValue = 0, eps = 1e-10 } = this.o;
    if (this.t === 0) this.sum = p.map(() => initialAccumulatorValue);
    this.t += 1;
    const clr = lr / (1 + (this.t - 1) * lrDecay);
    p.forEach((_, i) => {
      let g = grad[i]!;
      if (weightDecay !== 0) g = g + weightDecay * p[i]!;
      this.sum[i] = this.sum[i]! + 1 * (g * g);
      const std = Math.sqrt(this.sum[i]!) + eps;
      p[i] = p[i]! + -clr * (g / std);
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// helpers

type Params = { conv: { weight: NdArray; bias: NdArray }; layers: NdArray[]; scale: NdArray };

const f64 = (data: number[], shape: number[]): NdArray => np.array(data, { shape, dtype: "float64" });

function makeParams(): Params {
  return {
    conv: {
      weight: f64([0.3, -0.7, 1.2, 0.05, -1.5, 0.9], [2, 3]),
      bias: f64([0.1, -0.2], [2]),
    },
    layers: [f64([2.0, -0.4, 0.6, -1.1], [4]), f64([0.0, 0.25], [2, 1])],
    scale: f64([1.7], []),
  };
}

const flat = (t: unknown): number[] => tree.leaves(t).flatMap((x) => Array.from(x.toTypedArray()));

/** Rebuilds a tree like `like` (float64 leaves) from a flat list of numbers. */
function unflat<T>(like: T, values: readonly number[]): T {
  let offset = 0;
  return tree.map((x: NdArray) => {
    const out = np.array(values.slice(offset, offset + x.size), { shape: [...x.shape], dtype: x.dtype });
    offset += x.size;
    return out;
  }, like);
}

/** A nonlinear gradient field, so trajectories depend on where the parameters have gone. */
const gradientAt = (p: readonly number[], t: number): number[] =>
  p.map((x, i) => Math.sin(3 * x + 0.1 * t + i) + 0.5 * x);

function expectAllClose(got: readonly number[], want: readonly number[], atol: number, rtol: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    if (Math.abs(g - w) > atol + rtol * Math.abs(w)) {
      throw new Error(`element ${i}: got ${g}, want ${w} (diff ${Math.abs(g - w)})`);
    }
  });
}

/** Runs `steps` updates with ours and with the PyTorch transcription from the same start. */
function compareTrajectory(opt: GradientTransformation, reference: Reference, steps = 6): void {
  let params: Params = makeParams();
  let state = opt.init(params);
  const ref = flat(params);
  for (let t = 0; t < steps; t++) {
    const grads = unflat(params, gradientAt(flat(params), t));
    const [updates, next] = opt.update(grads, state, params);
    params = optim.applyUpdates(params, updates);
    state = next;
    reference.step(ref, gradientAt(ref, t));
    expectAllClose(flat(params), ref, 1e-14, 1e-12);
  }
}

const snapshot = (t: unknown): number[][] => tree.leaves(t).map((x) => Array.from(x.toTypedArray()));

// ---------------------------------------------------------------------------------------------------

describe("trajectories match PyTorch 1.13's update rules (float64)", () => {
  const sgdCases = [
    { lr: 0.1 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.5 },
    { lr: 0.05, momentum: 0.9, nesterov: true },
    { lr: 0.1, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.1 },
    { lr: 0.05, momentum: 0.8, dampening: 0.1, weightDecay: 0.1 },
  ];
  it.each(sgdCases)("sgd %o", (o) => compareTrajectory(optim.sgd(o), new TorchSgd(o)));

  const adamCases = [
    {},
    { lr: 0.01, betas: [0.8, 0.99] as [number, number], eps: 1e-6 },
    { lr: 0.01, weightDecay: 0.1 },
    { lr: 0.01, amsgrad: true },
    { lr: 0.01, amsgrad: true, weightDecay: 0.05 },
  ];
  it.each(adamCases)("adam %o", (o) => compareTrajectory(optim.adam(o), new TorchAdam(o)));

  const adamwCases = [{}, { lr: 0.01, weightDecay: 0.1 }, { lr: 0.01, amsgrad: true }];
  it.each(adamwCases)("adamw %o", (o) =>
    compareTrajectory(optim.adamw(o), new TorchAdam({ ...o, decoupled: true })),
  );

  const rmspropCases = [
    {},
    { lr: 1e-3, alpha: 0.9, eps: 1e-6 },
    { centered: true },
    { momentum: 0.9 },
    { lr: 0.005, centered: true, momentum: 0.5, weightDecay: 0.01 },
  ];
  it.each(rmspropCases)("rmsprop %o", (o) => compareTrajectory(optim.rmsprop(o), new TorchRmsprop(o)));

  const adagradCases = [
    {},
    { lrDecay: 0.1 },
    { weightDecay: 0.1 },
    { initialAccumulatorValue: 0.5 },
    { lr: 0.1, eps: 1e-3 },
  ];
  it.each(adagradCases)("adagrad %o", (o) => compareTrajectory(optim.adagrad(o), new TorchAdagrad(o)));
});

describe("hand-computed first steps", () => {
  const p = { w: f64([1, -2], [2]) };
  const g = { w: f64([2, -0.5], [2]) };
  const firstUpdate = (opt: GradientTransformation): number[] => flat(opt.update(g, opt.init(p), p)[0]);

  it("sgd: -lr g, then with momentum the buffer starts at g (no dampening at step 1)", () => {
    expect(firstUpdate(optim.sgd({ lr: 0.1 }))).toEqual([-0.2, 0.05]);
    const opt = optim.sgd({ lr: 0.1, momentum: 0.9, dampening: 0.5 });
    const [u1, s1] = opt.update(g, opt.init(p), p);
    expect(flat(u1)).toEqual([-0.2, 0.05]);
    // buf = 0.9 * 2 + 0.5 * 2 = 2.8
    const [u2] = opt.update(g, s1, p);
    expectAllClose(flat(u2), [-0.28, 0.07], 1e-16, 1e-15);
    // nesterov: g + momentum * buf = 2 + 0.9 * 2
    expectAllClose(
      firstUpdate(optim.sgd({ lr: 0.1, momentum: 0.9, nesterov: true })),
      [-0.38, 0.095],
      1e-16,
      1e-15,
    );
    // weight decay: g + wd p = 2 + 0.1 * 1
    expectAllClose(firstUpdate(optim.sgd({ lr: 0.1, weightDecay: 0.1 })), [-0.21, 0.07], 1e-16, 1e-15);
  });

  it("adam: the first step is -lr g / (|g| + eps) (bias corrections cancel)", () => {
    expectAllClose(
      firstUpdate(optim.adam()),
      [-1e-3 * (2 / (2 + 1e-8)), 1e-3 * (0.5 / (0.5 + 1e-8))],
      1e-18,
      1e-14,
    );
    // adamw adds -lr wd p
    expectAllClose(
      firstUpdate(optim.adamw({ lr: 0.1, weightDecay: 0.5 })),
      [-0.1 * 0.5 * 1 - 0.1 * (2 / (2 + 1e-8)), -0.1 * 0.5 * -2 + 0.1 * (0.5 / (0.5 + 1e-8))],
      1e-16,
      1e-14,
    );
  });

  it("rmsprop: -lr g / (sqrt((1 - alpha) g^2) + eps)", () => {
    const expected = [2, -0.5].map((x) => -0.01 * (x / (Math.sqrt(0.01 * x * x) + 1e-8)));
    expectAllClose(firstUpdate(optim.rmsprop()), expected, 1e-18, 1e-14);
    // centered: v - gAvg^2 = 0.01 g^2 - 0.0001 g^2
    const centered = [2, -0.5].map((x) => -0.01 * (x / (Math.sqrt(0.0099 * x * x) + 1e-8)));
    expectAllClose(firstUpdate(optim.rmsprop({ centered: true })), centered, 1e-18, 1e-13);
  });

  it("adagrad: -lr g / (|g| + eps), then lr / (1 + lrDecay)", () => {
    expectAllClose(
      firstUpdate(optim.adagrad()),
      [-0.01 * (2 / (2 + 1e-10)), 0.01 * (0.5 / (0.5 + 1e-10))],
      1e-18,
      1e-14,
    );
    const opt = optim.adagrad({ lrDecay: 1 });
    const [, s1] = opt.update(g, opt.init(p), p);
    const [u2] = opt.update(g, s1, p);
    // second step: clr = 0.01 / 2, sum = 2 g^2
    expectAllClose(
      flat(u2),
      [2, -0.5].map((x) => -0.005 * (x / (Math.sqrt(2 * x * x) + 1e-10))),
      1e-18,
      1e-14,
    );
  });
});

describe("laws", () => {
  const params = makeParams();
  const grads = unflat(params, gradientAt(flat(params), 0));
  const optimizers: [string, () => GradientTransformation][] = [
    ["sgd", () => optim.sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 })],
    ["adam", () => optim.adam({ amsgrad: true })],
    ["adamw", () => optim.adamw()],
    ["rmsprop", () => optim.rmsprop({ centered: true, momentum: 0.5 })],
    ["adagrad", () => optim.adagrad({ lrDecay: 0.01 })],
    [
      "chain",
      () =>
        optim.chain(optim.clipByGlobalNorm(1), optim.addWeightDecay(0.01), optim.scaleByLearningRate(0.1)),
    ],
  ];

  it("sgd with lr 0 is the identity", () => {
    for (const o of [{}, { momentum: 0.9 }, { momentum: 0.9, nesterov: true, weightDecay: 0.1 }]) {
      const opt = optim.sgd({ lr: 0, ...o });
      let state = opt.init(params);
      let p = params;
      for (let t = 0; t < 3; t++) {
        const [u, s] = opt.update(grads, state, p);
        p = optim.applyUpdates(p, u);
        state = s;
      }
      expect(flat(p)).toEqual(flat(params));
    }
  });

  it.each(optimizers)("%s is pure: inputs untouched, same inputs give the same outputs", (_, make) => {
    const opt = make();
    const state = opt.init(params);
    const before = [snapshot(params), snapshot(grads), snapshot(state)];
    const [u1, s1] = opt.update(grads, state, params);
    const [u2, s2] = opt.update(grads, state, params);
    expect([snapshot(params), snapshot(grads), snapshot(state)]).toEqual(before);
    expect(snapshot(u1)).toEqual(snapshot(u2));
    expect(snapshot(s1)).toEqual(snapshot(s2));
    // The state keeps its structure, so a jitted step is traced once.
    expect(tree.treeDefEquals(tree.structure(s1), tree.structure(state))).toBe(true);
    expect(tree.treeDefEquals(tree.structure(u1), tree.structure(grads))).toBe(true);
  });

  it.each(optimizers)("chain(%s, identity()) behaves as the transformation alone", (_, make) => {
    const a = make();
    const chained = optim.chain(make(), optim.identity());
    let sa = a.init(params);
    let sc = chained.init(params);
    let p = params;
    for (let t = 0; t < 3; t++) {
      const g = unflat(p, gradientAt(flat(p), t));
      const [ua, na] = a.update(g, sa, p);
      const [uc, nc] = chained.update(g, sc, p);
      expect(flat(uc)).toEqual(flat(ua));
      expect(snapshot(nc[0])).toEqual(snapshot(na));
      p = optim.applyUpdates(p, ua);
      sa = na;
      sc = nc;
    }
  });

  it("adam's first step has magnitude lr per coordinate", () => {
    for (const lr of [1e-3, 0.1]) {
      const opt = optim.adam({ lr });
      const [u] = opt.update(grads, opt.init(params), params);
      for (const x of flat(u)) expect(Math.abs(Math.abs(x) - lr)).toBeLessThan(lr * 1e-6);
    }
  });

  it("float32 parameters stay float32 in updates and state", () => {
    const p32 = tree.map((x: NdArray) => np.astype(x, "float32"), params);
    const g32 = tree.map((x: NdArray) => np.astype(x, "float32"), grads);
    for (const [, make] of optimizers) {
      const opt = make();
      const [u, s] = opt.update(g32, opt.init(p32), p32);
      for (const leaf of tree.leaves(u)) expect(leaf.dtype).toBe("float32");
      // Buffers follow the params; the count and the hyperparameter record have their own dtypes.
      const {
        hyperparams: _record,
        count: _count,
        ...buffers
      } = Array.isArray(s) ? {} : (s as Record<string, unknown>);
      for (const leaf of tree.leaves(buffers)) expect(leaf.dtype).toBe("float32");
    }
  });

  it("the state records the hyperparameters as arrays", () => {
    const state = optim.sgd({ lr: 0.1, momentum: 0.9 }).init(params);
    expect(state.hyperparams.lr!.item()).toBe(0.1);
    expect(state.hyperparams.lr!.dtype).toBe("float64");
    expect(state.hyperparams.nesterov!.item()).toBe(0);
    expect(state.count.dtype).toBe("int32");
    const scheduled = optim.adam({ lr: schedules.constant(0.1) }).init(params);
    expect(scheduled.hyperparams.lr).toBeNull();
    expect(Array.from(scheduled.hyperparams.betas!.toTypedArray())).toEqual([0.9, 0.999]);
  });
});

describe("composable transformations", () => {
  const g = { a: f64([3, 4], [2]), b: f64([0], [1]) };

  it("clipByGlobalNorm rescales only above the bound", () => {
    const [clipped] = optim.clipByGlobalNorm(1).update(g, null);
    expectAllClose(flat(clipped), [0.6, 0.8, 0], 1e-16, 1e-15);
    const [kept] = optim.clipByGlobalNorm(10).update(g, null);
    expect(flat(kept)).toEqual([3, 4, 0]);
  });

  it("clip, scale, scaleByLearningRate, addWeightDecay", () => {
    expect(flat(optim.clip(3.5).update(g, null)[0])).toEqual([3, 3.5, 0]);
    expect(flat(optim.scale(-2).update(g, null)[0])).toEqual([-6, -8, -0]);
    const byLr = optim.scaleByLearningRate(0.5);
    const [u, s] = byLr.update(g, byLr.init(g));
    expect(flat(u)).toEqual([-1.5, -2, -0]);
    expect(s.count.item()).toBe(1);
    const params = { a: f64([1, 1], [2]), b: f64([2], [1]) };
    expect(flat(optim.addWeightDecay(0.5).update(g, null, params)[0])).toEqual([3.5, 4.5, 1]);
  });

  it("chain(addWeightDecay, scaleByLearningRate) is sgd with weight decay", () => {
    const params = makeParams();
    const grads = unflat(params, gradientAt(flat(params), 1));
    const composed = optim.chain(optim.addWeightDecay(0.01), optim.scaleByLearningRate(0.1));
    const [u1] = composed.update(grads, composed.init(params), params);
    const sgd = optim.sgd({ lr: 0.1, weightDecay: 0.01 });
    const [u2] = sgd.update(grads, sgd.init(params), params);
    expect(flat(u1)).toEqual(flat(u2));
  });
});

describe("schedules", () => {
  const steps = Array.from({ length: 41 }, (_, i) => i);
  const all: [string, optim.Schedule][] = [
    ["constant", schedules.constant(0.3)],
    ["stepDecay", schedules.stepDecay({ init: 0.1, stepSize: 7, gamma: 0.5 })],
    ["exponentialDecay", schedules.exponentialDecay({ init: 1, decayRate: 0.9, transitionSteps: 3 })],
    [
      "exponentialDecay staircase",
      schedules.exponentialDecay({
        init: 1,
        decayRate: 0.5,
        transitionSteps: 4,
        staircase: true,
        transitionBegin: 5,
        endValue: 0.1,
      }),
    ],
    ["cosineDecay", schedules.cosineDecay({ init: 0.2, decaySteps: 30, alpha: 0.1 })],
    [
      "linearSchedule",
      schedules.linearSchedule({ init: 1, end: 0.5, transitionSteps: 10, transitionBegin: 2 }),
    ],
    ["linearWarmup", schedules.linearWarmup({ peak: 0.5, warmupSteps: 5 })],
    [
      "warmupCosineDecay",
      schedules.warmupCosineDecay({ peak: 1, warmupSteps: 5, decaySteps: 25, end: 0.01 }),
    ],
  ];

  it.each(all)("%s: the array form equals the JS form", (_, schedule) => {
    for (const s of steps) {
      const onArray = schedule.onArray(np.scalar(s, "int32")).item();
      expect(Math.abs(onArray - schedule(s))).toBeLessThanOrEqual(1e-15 * Math.abs(schedule(s)));
    }
  });

  it("stepDecay is torch's StepLR", () => {
    const s = schedules.stepDecay({ init: 0.1, stepSize: 30 });
    expect([0, 29, 30, 59, 60].map((t) => s(t))).toEqual([0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1 ** 2]);
  });

  it("cosine, warm-up and joins hit their end points", () => {
    const cosine = schedules.cosineDecay({ init: 2, decaySteps: 10, alpha: 0.25 });
    expect(cosine(0)).toBe(2);
    expect(cosine(10)).toBeCloseTo(0.5, 15);
    expect(cosine(100)).toBeCloseTo(0.5, 15);
    expect(cosine(5)).toBeCloseTo(2 * (0.75 * 0.5 + 0.25), 15);
    const warm = schedules.warmupCosineDecay({
      init: 0.1,
      peak: 1,
      warmupSteps: 4,
      decaySteps: 14,
      end: 0.2,
    });
    expect(warm(0)).toBeCloseTo(0.1, 15);
    expect(warm(2)).toBeCloseTo(0.55, 15);
    expect(warm(4)).toBe(1);
    expect(warm(14)).toBeCloseTo(0.2, 15);
    const joined = schedules.joinSchedules(
      [schedules.constant(1), schedules.linearSchedule({ init: 2, end: 0, transitionSteps: 4 })],
      [3],
    );
    expect([0, 2, 3, 4, 7, 9].map((t) => joined(t))).toEqual([1, 1, 2, 1.5, 0, 0]);
    const exp = schedules.exponentialDecay({
      init: 1,
      decayRate: 0.5,
      transitionSteps: 2,
      transitionBegin: 2,
      staircase: true,
      endValue: 0.2,
    });
    expect([0, 2, 3, 4, 6, 8, 20].map((t) => exp(t))).toEqual([1, 1, 1, 0.5, 0.25, 0.2, 0.2]);
  });

  it("an optimizer uses schedule(count) for the update after count updates", () => {
    const s = schedules.stepDecay({ init: 0.1, stepSize: 2, gamma: 0.5 });
    const opt = optim.sgd({ lr: s });
    const p = { w: f64([0], [1]) };
    const g = { w: f64([1], [1]) };
    let state = opt.init(p);
    const seen: number[] = [];
    for (let t = 0; t < 5; t++) {
      const [u, next] = opt.update(g, state, p);
      seen.push(-flat(u)[0]!);
      state = next;
    }
    expect(seen).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
  });

  it("a plain JS function works eagerly, is validated, and fails clearly when traced", () => {
    const p = { w: f64([0], [1]) };
    const g = { w: f64([1], [1]) };
    const opt = optim.adagrad({ lr: (step: number) => 0.1 / (step + 1) });
    const [u] = opt.update(g, opt.init(p), p);
    expectAllClose(flat(u), [-0.1 * (1 / (1 + 1e-10))], 1e-18, 1e-14);
    const bad = optim.sgd({ lr: () => -1 });
    expect(() => bad.update(g, bad.init(p), p)).toThrow(
      /sgd\.update \(learning-rate schedule at step 0\): lr must be a finite number >= 0, got -1/,
    );
    const traced = makeProgram((gr: typeof g, st: optim.SgdState) =>
      optim.sgd({ lr: (t: number) => 0.1 * t }).update(gr, st),
    );
    expect(() => traced(g, optim.sgd({ lr: 0.1 }).init(p))).toThrow(ConcretizationError);
    expect(() => traced(g, optim.sgd({ lr: 0.1 }).init(p))).toThrow(/plain JS function of the step/);
  });
});

describe("tracing", () => {
  const params = makeParams();
  const grads = unflat(params, gradientAt(flat(params), 0));
  const cases: [string, GradientTransformation][] = [
    [
      "sgd",
      optim.sgd({ lr: schedules.cosineDecay({ init: 0.1, decaySteps: 10 }), momentum: 0.9, nesterov: true }),
    ],
    [
      "adam",
      optim.adam({
        lr: schedules.warmupCosineDecay({ peak: 0.01, warmupSteps: 2, decaySteps: 10 }),
        amsgrad: true,
      }),
    ],
    ["adamw", optim.adamw()],
    ["rmsprop", optim.rmsprop({ centered: true, momentum: 0.9, weightDecay: 0.1 })],
    ["adagrad", optim.adagrad({ lrDecay: 0.1 })],
    [
      "chain",
      optim.chain(
        optim.clipByGlobalNorm(0.5),
        optim.clip(0.1),
        optim.scale(2),
        optim.scaleByLearningRate(0.1),
      ),
    ],
  ];

  it.each(cases)("%s.update traces without reading array values", (_, opt) => {
    const state = opt.init(params);
    const program = makeProgram((g: Params, s: unknown, p: Params) => opt.update(g, s, p))(
      grads,
      state,
      params,
    );
    expect(program.program.equations.length).toBeGreaterThan(0);
  });

  it.each(cases)("jit(%s.update) equals the eager update over several steps", (_, opt) => {
    const step = jit((g: Params, s: unknown, p: Params) => {
      const [u, next] = opt.update(g, s, p);
      return [optim.applyUpdates(p, u), next] as [Params, unknown];
    });
    let eagerParams = params;
    let eagerState = opt.init(params);
    let jitParams = params;
    let jitState = opt.init(params);
    for (let t = 0; t < 3; t++) {
      const g = unflat(eagerParams, gradientAt(flat(eagerParams), t));
      const [u, next] = opt.update(g, eagerState, eagerParams);
      eagerParams = optim.applyUpdates(eagerParams, u);
      eagerState = next;
      [jitParams, jitState] = step(unflat(jitParams, gradientAt(flat(jitParams), t)), jitState, jitParams);
      expectAllClose(flat(jitParams), flat(eagerParams), 1e-15, 1e-13);
    }
  });
});

describe("errors", () => {
  const params = makeParams();
  const grads = unflat(params, gradientAt(flat(params), 0));

  it("rejects bad hyperparameters, naming the optimizer", () => {
    expect(() => optim.sgd({ lr: Number.NaN })).toThrow("sgd: lr must be a finite number >= 0, got NaN");
    expect(() => optim.sgd({ lr: -0.1 })).toThrow("sgd: lr must be a finite number >= 0, got -0.1");
    expect(() => optim.sgd({ lr: Number.POSITIVE_INFINITY })).toThrow(/sgd: lr must be a finite number/);
    expect(() => optim.sgd({ lr: 0.1, momentum: -1 })).toThrow(
      "sgd: momentum must be a finite number >= 0, got -1",
    );
    expect(() => optim.sgd({ lr: 0.1, nesterov: true })).toThrow(
      /sgd: nesterov requires momentum > 0 and dampening = 0/,
    );
    expect(() => optim.sgd({ lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(
      /nesterov requires/,
    );
    expect(() => optim.adam({ betas: [1, 0.999] })).toThrow(
      "adam: betas[0] must be a finite number in [0, 1), got 1",
    );
    expect(() => optim.adamw({ eps: -1 })).toThrow(/adamw: eps must be/);
    expect(() => optim.rmsprop({ alpha: Number.NaN })).toThrow(/rmsprop: alpha must be/);
    expect(() => optim.adagrad({ lrDecay: -1 })).toThrow(/adagrad: lrDecay must be/);
    expect(() => optim.clipByGlobalNorm(-1)).toThrow(/clipByGlobalNorm: maxNorm must be/);
    expect(() => schedules.stepDecay({ init: 0.1, stepSize: 0 })).toThrow(
      /schedules\.stepDecay: stepSize must be a positive integer/,
    );
  });

  it("rejects grads whose structure differs from the state, naming the optimizer and the path", () => {
    const opt = optim.adam();
    const state = opt.init(params);
    const { scale: _dropped, ...missing } = grads;
    expect(() => opt.update(missing as unknown as Params, state)).toThrow(
      /adam\.update: grads vs optimizer state: tree structures differ at <root>: keys/,
    );
    const shortList = { ...grads, layers: [grads.layers[0]!] };
    expect(() => opt.update(shortList, state)).toThrow(/adam\.update: .*at layers: array of length 1 vs 2/);
  });

  it("rejects mismatched leaf shapes, naming the path", () => {
    const opt = optim.sgd({ lr: 0.1, momentum: 0.9 });
    const state = opt.init(params);
    const wrong = { ...grads, conv: { ...grads.conv, weight: f64([1, 2, 3], [3]) } };
    expect(() => opt.update(wrong, state)).toThrow(
      "sgd.update: the gradient at conv.weight has shape [3] but the optimizer state has [2,3]",
    );
    const plain = optim.sgd({ lr: 0.1, weightDecay: 0.1 });
    expect(() => plain.update(wrong, plain.init(params), params)).toThrow(
      /sgd\.update: the gradient at conv\.weight .* params has \[2,3\]/,
    );
  });

  it("asks for params when weight decay needs them", () => {
    const opt = optim.sgd({ lr: 0.1, weightDecay: 0.1 });
    expect(() => opt.update(grads, opt.init(params))).toThrow(/sgd\.update: weightDecay needs the params/);
    expect(() => optim.addWeightDecay(0.1).update(grads, null)).toThrow(
      /addWeightDecay\.update: weight decay needs the params/,
    );
  });

  it("rejects non-array gradient leaves and bad chain states", () => {
    const opt = optim.sgd({ lr: 0.1 });
    expect(() => opt.update({ w: 1 } as unknown as Params, opt.init(params))).toThrow(
      /sgd\.update: the gradient at w is not an array/,
    );
    const chained = optim.chain(optim.identity(), optim.identity());
    expect(() => chained.update(grads, [null])).toThrow(/chain\.update: expected a state list of 2 entries/);
    expect(() => optim.applyUpdates(params, { ...grads, extra: grads.scale } as unknown as Params)).toThrow(
      /optim\.applyUpdates/,
    );
  });
});
