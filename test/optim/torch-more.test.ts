/**
 * adadelta, adamax, nadam, radam, asgd and rprop against transcriptions of torch 1.13's single-tensor code
 * (torch/optim/{adadelta,adamax,nadam,radam,asgd,rprop}.py) over JS numbers in float64, with options the
 * golden LeNet runs leave at their defaults (weight decay, ASGD's averaging, Rprop's clipping), the
 * buffers of the state compared too; then float32, jit and errors.
 */
import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, optim, tree } from "../../src/index.js";
import type { GradientTransformation } from "../../src/optim/index.js";

/** A per-element transcription of one torch optimizer: `step` mutates p; `state` names torch's buffers. */
interface Reference {
  step(p: number[], g: readonly number[]): void;
  state(): Record<string, number[] | number>;
}

const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const at = (xs: readonly number[], i: number): number => xs[i] ?? Number.NaN;

class TorchAdadelta implements Reference {
  private sq: number[] = [];
  private acc: number[] = [];
  constructor(private readonly o: { lr: number; rho: number; eps: number; weightDecay: number }) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr, rho, eps, weightDecay } = this.o;
    if (this.sq.length === 0) [this.sq, this.acc] = [zeros(p.length), zeros(p.length)];
    p.forEach((x, i) => {
      const g = weightDecay !== 0 ? at(grad, i) + weightDecay * x : at(grad, i);
      this.sq[i] = at(this.sq, i) * rho + (1 - rho) * (g * g);
      const std = Math.sqrt(at(this.sq, i) + eps);
      const delta = (Math.sqrt(at(this.acc, i) + eps) / std) * g;
      this.acc[i] = at(this.acc, i) * rho + (1 - rho) * (delta * delta);
      p[i] = x + -lr * delta;
    });
  }
  state() {
    return { squareAvg: this.sq, accDelta: this.acc };
  }
}

class TorchAdamax implements Reference {
  private t = 0;
  private m: number[] = [];
  private u: number[] = [];
  constructor(
    private readonly o: { lr: number; betas: [number, number]; eps: number; weightDecay: number },
  ) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr, betas, eps, weightDecay } = this.o;
    const [b1, b2] = betas;
    if (this.t === 0) [this.m, this.u] = [zeros(p.length), zeros(p.length)];
    this.t += 1;
    const clr = lr / (1 - b1 ** this.t);
    p.forEach((x, i) => {
      const g = weightDecay !== 0 ? at(grad, i) + weightDecay * x : at(grad, i);
      this.m[i] = at(this.m, i) * b1 + (1 - b1) * g;
      this.u[i] = Math.max(at(this.u, i) * b2, Math.abs(g) + eps);
      p[i] = x + -clr * (at(this.m, i) / at(this.u, i));
    });
  }
  state() {
    return { expAvg: this.m, expInf: this.u };
  }
}

class TorchNadam implements Reference {
  private t = 0;
  private muProduct = 1;
  private m: number[] = [];
  private v: number[] = [];
  constructor(
    private readonly o: {
      lr: number;
      betas: [number, number];
      eps: number;
      weightDecay: number;
      momentumDecay: number;
    },
  ) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr, betas, eps, weightDecay, momentumDecay } = this.o;
    const [b1, b2] = betas;
    if (this.t === 0) [this.m, this.v] = [zeros(p.length), zeros(p.length)];
    this.t += 1;
    const t = this.t;
    const correction2 = 1 - b2 ** t;
    const mu = b1 * (1 - 0.5 * 0.96 ** (t * momentumDecay));
    const muNext = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentumDecay));
    this.muProduct *= mu;
    const muProductNext = this.muProduct * mu * muNext;
    p.forEach((x, i) => {
      const g = weightDecay !== 0 ? at(grad, i) + weightDecay * x : at(grad, i);
      this.m[i] = at(this.m, i) * b1 + (1 - b1) * g;
      this.v[i] = at(this.v, i) * b2 + (1 - b2) * (g * g);
      const denom = Math.sqrt(at(this.v, i) / correction2) + eps;
      const p1 = x + ((-lr * (1 - mu)) / (1 - this.muProduct)) * (g / denom);
      p[i] = p1 + ((-lr * muNext) / (1 - muProductNext)) * (at(this.m, i) / denom);
    });
  }
  state() {
    return { muProduct: this.muProduct, expAvg: this.m, expAvgSq: this.v };
  }
}

class TorchRadam implements Reference {
  private t = 0;
  private m: number[] = [];
  private v: number[] = [];
  constructor(
    private readonly o: { lr: number; betas: [number, number]; eps: number; weightDecay: number },
  ) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr, betas, eps, weightDecay } = this.o;
    const [b1, b2] = betas;
    if (this.t === 0) [this.m, this.v] = [zeros(p.length), zeros(p.length)];
    this.t += 1;
    const t = this.t;
    const correction1 = 1 - b1 ** t;
    const correction2 = 1 - b2 ** t;
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * t * b2 ** t) / correction2;
    p.forEach((x, i) => {
      const g = weightDecay !== 0 ? at(grad, i) + weightDecay * x : at(grad, i);
      this.m[i] = at(this.m, i) * b1 + (1 - b1) * g;
      this.v[i] = at(this.v, i) * b2 + (1 - b2) * (g * g);
      const corrected = at(this.m, i) / correction1;
      if (rhoT > 5) {
        const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        const adaptive = Math.sqrt(correction2) / (Math.sqrt(at(this.v, i)) + eps);
        p[i] = x + -1 * (corrected * lr * adaptive * rect);
      } else {
        p[i] = x + -1 * (corrected * lr);
      }
    });
  }
  state() {
    return { expAvg: this.m, expAvgSq: this.v };
  }
}

class TorchAsgd implements Reference {
  private t = 0;
  private eta = 0;
  private mu = 1;
  private ax: number[] = [];
  constructor(
    private readonly o: { lr: number; lambd: number; alpha: number; t0: number; weightDecay: number },
  ) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr, lambd, alpha, t0, weightDecay } = this.o;
    if (this.t === 0) [this.eta, this.ax] = [lr, zeros(p.length)];
    this.t += 1;
    p.forEach((x, i) => {
      const g = weightDecay !== 0 ? at(grad, i) + weightDecay * x : at(grad, i);
      const decayed = x * (1 - lambd * this.eta);
      p[i] = decayed + -this.eta * g;
      this.ax[i] = this.mu !== 1 ? at(this.ax, i) + (at(p, i) - at(this.ax, i)) * this.mu : at(p, i);
    });
    this.eta = lr / (1 + lambd * lr * this.t) ** alpha;
    this.mu = 1 / Math.max(1, this.t - t0);
  }
  state() {
    return { eta: this.eta, mu: this.mu, ax: this.ax };
  }
}

class TorchRprop implements Reference {
  private prev: number[] = [];
  private size: number[] = [];
  constructor(private readonly o: { lr: number; etas: [number, number]; stepSizes: [number, number] }) {}
  step(p: number[], grad: readonly number[]): void {
    const { lr, etas, stepSizes } = this.o;
    const [etaMinus, etaPlus] = etas;
    const [lo, hi] = stepSizes;
    if (this.prev.length === 0) [this.prev, this.size] = [zeros(p.length), p.map(() => lr)];
    p.forEach((x, i) => {
      let g = at(grad, i);
      let s = Math.sign(g * at(this.prev, i));
      if (s > 0) s = etaPlus;
      if (s < 0) s = etaMinus;
      if (s === 0) s = 1;
      this.size[i] = Math.min(Math.max(at(this.size, i) * s, lo), hi);
      if (s === etaMinus) g = 0;
      p[i] = x + -1 * (Math.sign(g) * at(this.size, i));
      this.prev[i] = g;
    });
  }
  state() {
    return { prev: this.prev, stepSize: this.size };
  }
}

// ---------------------------------------------------------------------------------------------------

const f64 = (data: number[], shape: number[]): NdArray => np.array(data, { shape, dtype: "float64" });
const flat = (t: unknown): number[] => tree.leaves<NdArray>(t).flatMap((x) => Array.from(x.toTypedArray()));
type Params = { w: NdArray; b: NdArray };
const start = (): Params => ({ w: f64([0.3, -0.7, 1.2, 0.05, -1.5, 0.9], [2, 3]), b: f64([0.1, -0.2], [2]) });
const fromFlat = (values: readonly number[]): Params => ({
  w: f64(values.slice(0, 6), [2, 3]),
  b: f64(values.slice(6), [2]),
});
/** A nonlinear gradient field whose signs change along the way (so Rprop backs off). */
const gradientAt = (p: readonly number[], t: number): number[] =>
  p.map((x, i) => Math.sin(3 * x + 0.7 * t + i) + 0.5 * x);

function expectClose(got: readonly number[], want: readonly number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  got.forEach((g, i) => {
    const w = at(want, i);
    if (!(Math.abs(g - w) <= 1e-14 + 1e-12 * Math.abs(w))) throw new Error(`${what}[${i}]: ${g} vs ${w}`);
  });
}

/** Runs ours and the transcription side by side, comparing the params and every state buffer. */
function compare(opt: GradientTransformation, ref: Reference, steps: number): void {
  let params = start();
  let state = opt.init(params) as Record<string, unknown>;
  const p = flat(params);
  for (let t = 0; t < steps; t++) {
    const [u, next] = opt.update(fromFlat(gradientAt(flat(params), t)), state, params);
    params = optim.applyUpdates(params, u);
    state = next as Record<string, unknown>;
    ref.step(p, gradientAt(p, t));
    expectClose(flat(params), p, `params after step ${t + 1}`);
    for (const [name, value] of Object.entries(ref.state())) {
      const ours = flat(state[name]);
      expectClose(ours, typeof value === "number" ? [value] : value, `${name} after step ${t + 1}`);
    }
  }
}

describe("torch 1.13's adadelta, adamax, nadam, radam, asgd, rprop (float64 transcriptions)", () => {
  it.each([
    { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0 },
    { lr: 0.5, rho: 0.7, eps: 1e-3, weightDecay: 0.1 },
  ])("adadelta %o", (o) => compare(optim.adadelta(o), new TorchAdadelta(o), 8));

  it.each([
    { lr: 2e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0 },
    { lr: 0.1, betas: [0.5, 0.8] as [number, number], eps: 1e-3, weightDecay: 0.05 },
  ])("adamax %o", (o) => compare(optim.adamax(o), new TorchAdamax(o), 8));

  it.each([
    { lr: 2e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3 },
    { lr: 0.1, betas: [0.8, 0.9] as [number, number], eps: 1e-4, weightDecay: 0.05, momentumDecay: 0.1 },
  ])("nadam %o", (o) => compare(optim.nadam(o), new TorchNadam(o), 8));

  it.each([
    { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0 },
    { lr: 0.1, betas: [0.8, 0.9] as [number, number], eps: 1e-4, weightDecay: 0.05 },
  ])("radam %o (rectified from step 6)", (o) => compare(optim.radam(o), new TorchRadam(o), 10));

  it.each([
    { lr: 0.01, lambd: 1e-4, alpha: 0.75, t0: 1e6, weightDecay: 0 },
    { lr: 0.1, lambd: 0.3, alpha: 0.5, t0: 2, weightDecay: 0.05 },
  ])("asgd %o (ax averaged from step t0 + 2)", (o) => compare(optim.asgd(o), new TorchAsgd(o), 8));

  it.each([
    { lr: 0.01, etas: [0.5, 1.2] as [number, number], stepSizes: [1e-6, 50] as [number, number] },
    { lr: 0.1, etas: [0.3, 1.5] as [number, number], stepSizes: [0.05, 0.2] as [number, number] },
  ])("rprop %o", (o) => compare(optim.rprop(o), new TorchRprop(o), 10));

  it("rprop's clipping and sign flips happen in these runs (so the comparison covers them)", () => {
    const ref = new TorchRprop({ lr: 0.1, etas: [0.3, 1.5], stepSizes: [0.05, 0.2] });
    const p = flat(start());
    const sizes = new Set<number>();
    for (let t = 0; t < 10; t++) {
      ref.step(p, gradientAt(p, t));
      for (const s of ref.state().stepSize as number[]) sizes.add(s);
    }
    expect(sizes.has(0.05)).toBe(true);
    expect(sizes.has(0.2)).toBe(true);
  });
});

describe("the new optimizers under jit and in float32", () => {
  const cases: [string, () => GradientTransformation][] = [
    ["adadelta", () => optim.adadelta({ weightDecay: 0.01 })],
    ["adamax", () => optim.adamax({ lr: optim.schedules.cosineDecay({ init: 0.01, decaySteps: 5 }) })],
    ["nadam", () => optim.nadam({ lr: 0.01 })],
    ["radam", () => optim.radam({ lr: 0.01 })],
    ["asgd", () => optim.asgd({ lr: 0.05, t0: 1 })],
    ["rprop", () => optim.rprop()],
  ];

  it.each(cases)("jit(%s) equals eager over 8 steps", (_, make) => {
    const opt = make();
    const step = jit((g: Params, s: unknown, p: Params) => {
      const [u, next] = opt.update(g, s, p);
      return [optim.applyUpdates(p, u), next] as [Params, unknown];
    });
    let [eagerP, eagerS] = [start(), opt.init(start())];
    let [jitP, jitS] = [start(), opt.init(start())];
    for (let t = 0; t < 8; t++) {
      const [u, next] = opt.update(fromFlat(gradientAt(flat(eagerP), t)), eagerS, eagerP);
      eagerP = optim.applyUpdates(eagerP, u);
      eagerS = next;
      [jitP, jitS] = step(fromFlat(gradientAt(flat(jitP), t)), jitS, jitP);
      expectClose(flat(jitP), flat(eagerP), `jit params after step ${t + 1}`);
      expectClose(flat(jitS), flat(eagerS), `jit state after step ${t + 1}`);
    }
  });

  it.each(cases)("%s keeps float32 params, updates and buffers in float32", (_, make) => {
    const opt = make();
    const p32 = tree.map((x: NdArray) => np.astype(x, "float32"), start());
    const [u, s] = opt.update(p32, opt.init(p32), p32);
    for (const leaf of tree.leaves<NdArray>(u)) expect(leaf.dtype).toBe("float32");
    const { count, hyperparams: _h, eta, mu, muProduct, ...buffers } = s as Record<string, unknown>;
    expect((count as NdArray).dtype).toBe("int32");
    for (const scalar of [eta, mu, muProduct])
      if (scalar !== undefined) expect((scalar as NdArray).dtype).toBe("float64");
    for (const leaf of tree.leaves<NdArray>(buffers)) expect(leaf.dtype).toBe("float32");
  });
});

describe("errors name the optimizer", () => {
  it("rejects bad hyperparameters and unknown options", () => {
    expect(() => optim.adadelta({ rho: 1.5 })).toThrow(
      "adadelta: rho must be a finite number in [0, 1], got 1.5",
    );
    expect(() => optim.adamax({ betas: [0.9, 1] })).toThrow(
      /adamax: betas\[1\] must be a finite number in \[0, 1\)/,
    );
    expect(() => optim.nadam({ momentumDecay: -1 })).toThrow(/nadam: momentumDecay must be/);
    expect(() => optim.radam({ eps: Number.NaN })).toThrow(/radam: eps must be/);
    expect(() => optim.asgd({ lr: -1 })).toThrow(/asgd: lr must be/);
    expect(() => optim.rprop({ etas: [1.5, 1.2] })).toThrow(
      /rprop: etas\[0\] must be a finite number in \[0, 1\)/,
    );
    expect(() => optim.rprop({ stepSizes: [1, 0.5] })).toThrow(
      /rprop: stepSizes\[1\] must be a finite number >= 1/,
    );
    expect(() => optim.rprop({ momentum: 1 } as never)).toThrow(/rprop: unknown option 'momentum'/);
  });

  it("asks for the state, the params and matching gradients", () => {
    const asgd = optim.asgd();
    const p = start();
    expect(() => asgd.update(p, asgd.init(p))).toThrow(/asgd\.update: averaging \(ax\) needs the params/);
    expect(() => (optim.nadam().update as (g: unknown) => unknown)(p)).toThrow(
      /nadam\.update: the optimizer state is missing/,
    );
    const rprop = optim.rprop();
    expect(() => rprop.update({ w: p.w, b: f64([1, 2, 3], [3]) }, rprop.init(p))).toThrow(
      "rprop.update: the gradient at b has shape [3] but the optimizer state has [2]",
    );
  });

  it("names the state fields as torch does", () => {
    const p = start();
    const names = (opt: GradientTransformation) => Object.keys(opt.init(p) as object);
    expect(names(optim.adadelta())).toEqual(["count", "hyperparams", "squareAvg", "accDelta"]);
    expect(names(optim.adamax())).toEqual(["count", "hyperparams", "expAvg", "expInf"]);
    expect(names(optim.nadam())).toEqual(["count", "hyperparams", "muProduct", "expAvg", "expAvgSq"]);
    expect(names(optim.radam())).toEqual(["count", "hyperparams", "expAvg", "expAvgSq"]);
    expect(names(optim.asgd())).toEqual(["count", "hyperparams", "eta", "mu", "ax"]);
    expect(names(optim.rprop())).toEqual(["count", "hyperparams", "prev", "stepSize"]);
  });
});
