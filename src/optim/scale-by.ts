/**
 * The gradient statistics of torch.optim's optimizers as atoms (optax's `scale_by_*`): each rescales the
 * updates by running statistics it keeps under torch's state names (`expAvg` for `exp_avg`, …), with
 * torch 1.13's operations in torch's order. Each is a `Stage` factory (optimizers.ts chains them) and a
 * public transformation.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import * as np from "../np.js";
import { checkHyperparameter, type GradientTransformation, nextCount } from "./common.js";
import { buffer, chainStages, leafAt, paramsOf, type Stage, zerosFor } from "./stage.js";
import type { StepSize } from "./transforms.js";

/** The step number t = count + 1 of this update, as a float64 scalar (torch's `step`). */
export function stepNumber(count: NdArray): NdArray {
  return np.astype(nextCount(count), "float64");
}

/** Checks a `betas` option: a pair of numbers in [0, 1). */
export function checkBetas(who: string, betas: unknown): [number, number] {
  const name = "betas";
  if (!Array.isArray(betas) || betas.length !== 2)
    throw new TypeError(`${who}: ${name} must be a pair of numbers`);
  return [
    checkHyperparameter(who, `${name}[0]`, betas[0], { min: 0, below: 1 }),
    checkHyperparameter(who, `${name}[1]`, betas[1], { min: 0, below: 1 }),
  ];
}

// ---------------------------------------------------------------------------------------------------
// Adam

/**
 * torch's Adam step size, lr / (1 - beta1^t): the first moment's bias correction folded into the
 * learning rate (torch's `step_size`), in float64 scalars.
 */
export function adamStepSize(beta1: number): StepSize {
  return (rate, count) => np.divide(rate, np.subtract(1, np.power(beta1, stepNumber(count))));
}

/**
 * The stage of `scaleByAdam`: expAvg = b1 m + (1 - b1) u, expAvgSq = b2 v + (1 - b2) u^2 (maxExpAvgSq, its
 * running maximum, with amsgrad); the updates become m / (sqrt(v) / sqrt(1 - b2^t) + eps), divided by
 * 1 - b1^t unless `correctFirstMoment` is false (torch's optimizers put that correction in the step size,
 * `adamStepSize`).
 */
export function adamStage(options: {
  beta1: number;
  beta2: number;
  eps: number | NdArray;
  amsgrad: boolean;
  correctFirstMoment: boolean;
}): Stage {
  const { beta1, beta2, eps, amsgrad, correctFirstMoment } = options;
  return {
    fields: { expAvg: true, expAvgSq: true, maxExpAvgSq: amsgrad },
    needsParams: null,
    usesCount: true,
    init: (params) => ({
      expAvg: zerosFor(params),
      expAvgSq: zerosFor(params),
      maxExpAvgSq: amsgrad ? zerosFor(params) : null,
    }),
    update(updates, buffers, step) {
      const m = buffer(buffers, "expAvg");
      const v = buffer(buffers, "expAvgSq");
      const vMax = amsgrad ? buffer(buffers, "maxExpAvgSq") : null;
      const t = stepNumber(step.count);
      const correction2Sqrt = np.sqrt(np.subtract(1, np.power(beta2, t)));
      const correction1 = correctFirstMoment ? np.subtract(1, np.power(beta1, t)) : null;
      const newM: NdArray[] = [];
      const newV: NdArray[] = [];
      const newVMax: NdArray[] = [];
      const out = updates.map((g, i) => {
        const mi = np.add(np.multiply(leafAt(m, i), beta1), np.multiply(g, 1 - beta1));
        const vi = np.add(np.multiply(leafAt(v, i), beta2), np.multiply(np.multiply(g, g), 1 - beta2));
        newM.push(mi);
        newV.push(vi);
        let second = vi;
        if (vMax !== null) {
          second = np.maximum(leafAt(vMax, i), vi);
          newVMax.push(second);
        }
        // eps after the sqrt and after the bias correction, as torch.
        const denom = np.add(
          np.divide(np.sqrt(second), np.astype(correction2Sqrt, g.dtype)),
          typeof eps === "number" ? eps : np.astype(eps, g.dtype),
        );
        const direction = np.divide(mi, denom);
        return correction1 === null ? direction : np.divide(direction, np.astype(correction1, g.dtype));
      });
      return [out, { expAvg: newM, expAvgSq: newV, maxExpAvgSq: amsgrad ? newVMax : null }];
    },
  };
}

/** Options of `scaleByAdam`, as torch.optim.Adam's. */
export interface ScaleByAdamOptions {
  /** Decay rates of the first and second moments (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad?: boolean;
}

/** The state of `scaleByAdam` (and of `adam`, which adds `hyperparams`). */
export interface ScaleByAdamState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** First moment (exp_avg). */
  expAvg: unknown;
  /** Second moment (exp_avg_sq). */
  expAvgSq: unknown;
  /** Running maximum of the second moment (max_exp_avg_sq); null without amsgrad. */
  maxExpAvgSq: unknown;
}

/**
 * Adam's rescaling (optax.scale_by_adam with torch's eps placement): the updates become
 * m̂ / (sqrt(v̂) + eps) with both moments bias-corrected; `chain(scaleByAdam(), scaleByLearningRate(lr))` is
 * `adam({ lr })` up to rounding (adam folds 1 - b1^t into its step size, as torch does).
 */
export function scaleByAdam(options: ScaleByAdamOptions = {}): GradientTransformation<ScaleByAdamState> {
  const who = "scaleByAdam";
  checkOptions(who, options, optionKeys<ScaleByAdamOptions>({ betas: true, eps: true, amsgrad: true }));
  const [beta1, beta2] = checkBetas(who, options.betas ?? [0.9, 0.999]);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-8);
  const amsgrad = options.amsgrad ?? false;
  return chainStages(who, [adamStage({ beta1, beta2, eps, amsgrad, correctFirstMoment: true })]);
}

// ---------------------------------------------------------------------------------------------------
// RMSprop

/**
 * The stage of `scaleByRms`: squareAvg = alpha v + (1 - alpha) u^2; the updates become u / (sqrt(v) + eps),
 * or with `centered` u / (sqrt(v - gradAvg^2) + eps), gradAvg = alpha gradAvg + (1 - alpha) u (torch's
 * RMSprop, no bias correction).
 */
export function rmsStage(options: { alpha: number; eps: number; centered: boolean }): Stage {
  const { alpha, eps, centered } = options;
  return {
    fields: { squareAvg: true, gradAvg: centered },
    needsParams: null,
    usesCount: false,
    init: (params) => ({ squareAvg: zerosFor(params), gradAvg: centered ? zerosFor(params) : null }),
    update(updates, buffers) {
      const sq = buffer(buffers, "squareAvg");
      const ga = centered ? buffer(buffers, "gradAvg") : null;
      const newSq: NdArray[] = [];
      const newGa: NdArray[] = [];
      const out = updates.map((g, i) => {
        const sqi = np.add(np.multiply(leafAt(sq, i), alpha), np.multiply(np.multiply(g, g), 1 - alpha));
        newSq.push(sqi);
        let avg: NdArray;
        if (ga !== null) {
          const gai = np.add(np.multiply(leafAt(ga, i), alpha), np.multiply(g, 1 - alpha));
          newGa.push(gai);
          avg = np.sqrt(np.subtract(sqi, np.multiply(gai, gai)));
        } else {
          avg = np.sqrt(sqi);
        }
        return np.divide(g, np.add(avg, eps));
      });
      return [out, { squareAvg: newSq, gradAvg: centered ? newGa : null }];
    },
  };
}

/** Options of `scaleByRms`, as torch.optim.RMSprop's. */
export interface ScaleByRmsOptions {
  /** Smoothing constant of the squared-gradient average (default 0.99). */
  alpha?: number;
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** Normalize by the estimated variance of the gradient instead of its second moment (default false). */
  centered?: boolean;
}

/** The state of `scaleByRms`. */
export interface ScaleByRmsState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** Running average of the squared gradient (square_avg). */
  squareAvg: unknown;
  /** Running mean of the gradient; null unless centered. */
  gradAvg: unknown;
}

/** RMSprop's rescaling, u / (sqrt(v) + eps) with torch's running average v (no bias correction). */
export function scaleByRms(options: ScaleByRmsOptions = {}): GradientTransformation<ScaleByRmsState> {
  const who = "scaleByRms";
  checkOptions(who, options, optionKeys<ScaleByRmsOptions>({ alpha: true, eps: true, centered: true }));
  const alpha = checkHyperparameter(who, "alpha", options.alpha ?? 0.99);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-8);
  return chainStages(who, [rmsStage({ alpha, eps, centered: options.centered ?? false })]);
}

// ---------------------------------------------------------------------------------------------------
// Adagrad

/** torch's Adagrad step size, lr / (1 + (t - 1) lrDecay), in float64 scalars. */
export function lrDecayStepSize(lrDecay: number): StepSize {
  return (rate, count) => np.divide(rate, np.add(np.multiply(np.astype(count, "float64"), lrDecay), 1));
}

/**
 * The stage of `scaleByRss`: sum += u^2 (starting at `initialAccumulatorValue`); the updates become
 * u / (sqrt(sum) + eps) (torch's Adagrad).
 */
export function rssStage(options: { initialAccumulatorValue: number; eps: number }): Stage {
  const { initialAccumulatorValue, eps } = options;
  return {
    fields: { sum: true },
    needsParams: null,
    usesCount: false,
    init: (params) => ({ sum: params.map((x) => np.fullLike(x, initialAccumulatorValue)) }),
    update(updates, buffers) {
      const sums = buffer(buffers, "sum");
      const newSums: NdArray[] = [];
      const out = updates.map((g, i) => {
        const si = np.add(leafAt(sums, i), np.multiply(g, g));
        newSums.push(si);
        return np.divide(g, np.add(np.sqrt(si), eps));
      });
      return [out, { sum: newSums }];
    },
  };
}

/** Options of `scaleByRss`, as torch.optim.Adagrad's. */
export interface ScaleByRssOptions {
  /** Starting value of the sum of squared gradients (default 0). */
  initialAccumulatorValue?: number;
  /** Added to the denominator for numerical stability (default 1e-10). */
  eps?: number;
}

/** The state of `scaleByRss`. */
export interface ScaleByRssState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The running sum of squared gradients (state_sum). */
  sum: unknown;
}

/** Adagrad's rescaling (optax.scale_by_rss with torch's eps placement): u / (sqrt(sum of u^2) + eps). */
export function scaleByRss(options: ScaleByRssOptions = {}): GradientTransformation<ScaleByRssState> {
  const who = "scaleByRss";
  checkOptions(who, options, optionKeys<ScaleByRssOptions>({ initialAccumulatorValue: true, eps: true }));
  const initialAccumulatorValue = checkHyperparameter(
    who,
    "initialAccumulatorValue",
    options.initialAccumulatorValue ?? 0,
  );
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-10);
  return chainStages(who, [rssStage({ initialAccumulatorValue, eps })]);
}

// ---------------------------------------------------------------------------------------------------
// Adadelta, Adamax, NAdam, RAdam, Rprop, ASGD (torch 1.13's single-tensor rules)

/**
 * torch's Adadelta: squareAvg = rho v + (1 - rho) u^2; delta = sqrt(accDelta + eps) / sqrt(v + eps) * u;
 * accDelta = rho accDelta + (1 - rho) delta^2; the updates become delta.
 */
export function adadeltaStage(options: { rho: number; eps: number }): Stage {
  const { rho, eps } = options;
  return {
    fields: { squareAvg: true, accDelta: true },
    needsParams: null,
    usesCount: false,
    init: (params) => ({ squareAvg: zerosFor(params), accDelta: zerosFor(params) }),
    update(updates, buffers) {
      const sq = buffer(buffers, "squareAvg");
      const acc = buffer(buffers, "accDelta");
      const newSq: NdArray[] = [];
      const newAcc: NdArray[] = [];
      const out = updates.map((g, i) => {
        const sqi = np.add(np.multiply(leafAt(sq, i), rho), np.multiply(np.multiply(g, g), 1 - rho));
        const std = np.sqrt(np.add(sqi, eps));
        const delta = np.multiply(np.divide(np.sqrt(np.add(leafAt(acc, i), eps)), std), g);
        newSq.push(sqi);
        newAcc.push(
          np.add(np.multiply(leafAt(acc, i), rho), np.multiply(np.multiply(delta, delta), 1 - rho)),
        );
        return delta;
      });
      return [out, { squareAvg: newSq, accDelta: newAcc }];
    },
  };
}

/**
 * torch's Adamax: expAvg = b1 m + (1 - b1) u; expInf = max(b2 expInf, |u| + eps); the updates become
 * m / expInf (the bias correction 1 - b1^t goes into the step size, `adamStepSize`).
 */
export function adamaxStage(options: { beta1: number; beta2: number; eps: number }): Stage {
  const { beta1, beta2, eps } = options;
  return {
    fields: { expAvg: true, expInf: true },
    needsParams: null,
    usesCount: false,
    init: (params) => ({ expAvg: zerosFor(params), expInf: zerosFor(params) }),
    update(updates, buffers) {
      const m = buffer(buffers, "expAvg");
      const inf = buffer(buffers, "expInf");
      const newM: NdArray[] = [];
      const newInf: NdArray[] = [];
      const out = updates.map((g, i) => {
        const mi = np.add(np.multiply(leafAt(m, i), beta1), np.multiply(g, 1 - beta1));
        const infi = np.maximum(np.multiply(leafAt(inf, i), beta2), np.add(np.abs(g), eps));
        newM.push(mi);
        newInf.push(infi);
        return np.divide(mi, infi);
      });
      return [out, { expAvg: newM, expInf: newInf }];
    },
  };
}

/**
 * torch's NAdam: mu_t = b1 (1 - 0.5 * 0.96^(t momentumDecay)), muProduct *= mu_t (a float64 scalar,
 * starting at 1); m and v as Adam's; denom = sqrt(v / (1 - b2^t)) + eps; the updates become
 * (1 - mu_t) / (1 - muProduct) * u / denom + mu_{t+1} / (1 - muProduct mu_t mu_{t+1}) * m / denom
 * (torch 1.13's second factor mu_t included).
 */
export function nadamStage(options: {
  beta1: number;
  beta2: number;
  eps: number;
  momentumDecay: number;
}): Stage {
  const { beta1, beta2, eps, momentumDecay } = options;
  const muAt = (t: NdArray): NdArray =>
    np.multiply(np.subtract(1, np.multiply(np.power(0.96, np.multiply(t, momentumDecay)), 0.5)), beta1);
  return {
    fields: { muProduct: "single", expAvg: true, expAvgSq: true },
    needsParams: null,
    usesCount: true,
    init: (params) => ({
      muProduct: [np.scalar(1, "float64")],
      expAvg: zerosFor(params),
      expAvgSq: zerosFor(params),
    }),
    update(updates, buffers, step) {
      const m = buffer(buffers, "expAvg");
      const v = buffer(buffers, "expAvgSq");
      const t = stepNumber(step.count);
      const correction2 = np.subtract(1, np.power(beta2, t));
      const mu = muAt(t);
      const muNext = muAt(np.add(t, 1));
      const muProduct = np.multiply(leafAt(buffer(buffers, "muProduct"), 0), mu);
      // torch 1.13 multiplies by mu_t a second time here (mu_product * mu * mu_next; later versions drop it).
      const muProductNext = np.multiply(np.multiply(muProduct, mu), muNext);
      const gradFactor = np.divide(np.subtract(1, mu), np.subtract(1, muProduct));
      const momentFactor = np.divide(muNext, np.subtract(1, muProductNext));
      const newM: NdArray[] = [];
      const newV: NdArray[] = [];
      const out = updates.map((g, i) => {
        const mi = np.add(np.multiply(leafAt(m, i), beta1), np.multiply(g, 1 - beta1));
        const vi = np.add(np.multiply(leafAt(v, i), beta2), np.multiply(np.multiply(g, g), 1 - beta2));
        newM.push(mi);
        newV.push(vi);
        const denom = np.add(np.sqrt(np.divide(vi, np.astype(correction2, g.dtype))), eps);
        return np.add(
          np.multiply(np.divide(g, denom), np.astype(gradFactor, g.dtype)),
          np.multiply(np.divide(mi, denom), np.astype(momentFactor, g.dtype)),
        );
      });
      return [out, { muProduct: [muProduct], expAvg: newM, expAvgSq: newV }];
    },
  };
}

/**
 * torch's RAdam: m and v as Adam's; rho_t = rho_inf - 2 t b2^t / (1 - b2^t), rho_inf = 2 / (1 - b2) - 1;
 * the updates become m / (1 - b1^t) times, once rho_t > 5, sqrt(1 - b2^t) / (sqrt(v) + eps) and the
 * rectification sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)).
 */
export function radamStage(options: { beta1: number; beta2: number; eps: number }): Stage {
  const { beta1, beta2, eps } = options;
  const rhoInf = 2 / (1 - beta2) - 1;
  return {
    fields: { expAvg: true, expAvgSq: true },
    needsParams: null,
    usesCount: true,
    init: (params) => ({ expAvg: zerosFor(params), expAvgSq: zerosFor(params) }),
    update(updates, buffers, step) {
      const m = buffer(buffers, "expAvg");
      const v = buffer(buffers, "expAvgSq");
      const t = stepNumber(step.count);
      const correction1 = np.subtract(1, np.power(beta1, t));
      const beta2t = np.power(beta2, t);
      const correction2 = np.subtract(1, beta2t);
      const rhoT = np.subtract(rhoInf, np.divide(np.multiply(np.multiply(t, 2), beta2t), correction2));
      const rectified = np.greater(rhoT, 5);
      // Where rho_t <= 5 the rectification is NaN (a negative root) and unused.
      const rect = np.sqrt(
        np.divide(
          np.multiply(np.multiply(np.subtract(rhoT, 4), np.subtract(rhoT, 2)), rhoInf),
          np.multiply(rhoT, (rhoInf - 4) * (rhoInf - 2)),
        ),
      );
      const correction2Sqrt = np.sqrt(correction2);
      const newM: NdArray[] = [];
      const newV: NdArray[] = [];
      const out = updates.map((g, i) => {
        const mi = np.add(np.multiply(leafAt(m, i), beta1), np.multiply(g, 1 - beta1));
        const vi = np.add(np.multiply(leafAt(v, i), beta2), np.multiply(np.multiply(g, g), 1 - beta2));
        newM.push(mi);
        newV.push(vi);
        const corrected = np.divide(mi, np.astype(correction1, g.dtype));
        const adaptive = np.divide(np.astype(correction2Sqrt, g.dtype), np.add(np.sqrt(vi), eps));
        const scaled = np.multiply(np.multiply(corrected, adaptive), np.astype(rect, g.dtype));
        return np.where(rectified, scaled, corrected);
      });
      return [out, { expAvg: newM, expAvgSq: newV }];
    },
  };
}

/**
 * torch's Rprop: with s = sign(u * prev), the factor is etaPlus where s > 0, etaMinus where s < 0, else 1;
 * stepSize = clip(stepSize * factor, stepSizeMin, stepSizeMax) (starting at lr); u is zeroed where the
 * factor is etaMinus and kept as prev; the updates become sign(u) * stepSize (a descent step needs
 * scale(-1) after, as optax.rprop).
 */
export function rpropStage(options: {
  lr: number;
  etaMinus: number;
  etaPlus: number;
  stepSizeMin: number;
  stepSizeMax: number;
}): Stage {
  const { lr, etaMinus, etaPlus, stepSizeMin, stepSizeMax } = options;
  return {
    fields: { prev: true, stepSize: true },
    needsParams: null,
    usesCount: false,
    init: (params) => ({ prev: zerosFor(params), stepSize: params.map((p) => np.fullLike(p, lr)) }),
    update(updates, buffers) {
      const prev = buffer(buffers, "prev");
      const sizes = buffer(buffers, "stepSize");
      const newPrev: NdArray[] = [];
      const newSizes: NdArray[] = [];
      const out = updates.map((g, i) => {
        // torch's sequence of masked assignments, so a NaN sign stays NaN.
        let factor = np.sign(np.multiply(g, leafAt(prev, i)));
        factor = np.where(np.greater(factor, 0), etaPlus, factor);
        factor = np.where(np.less(factor, 0), etaMinus, factor);
        factor = np.where(np.equal(factor, 0), 1, factor);
        const size = np.clip(np.multiply(leafAt(sizes, i), factor), stepSizeMin, stepSizeMax);
        const kept = np.where(np.equal(factor, etaMinus), np.zerosLike(g), g);
        newPrev.push(kept);
        newSizes.push(size);
        return np.multiply(np.sign(kept), size);
      });
      return [out, { prev: newPrev, stepSize: newSizes }];
    },
  };
}

/**
 * torch's ASGD as one stage (its learning rate eta is its own state): the updates become
 * -lambd eta p - eta u; the average ax becomes the new params p' while mu = 1, else ax + mu (p' - ax);
 * then eta = lr / (1 + lambd lr t)^alpha and mu = 1 / max(1, t - t0) for the next step (float64 scalars,
 * starting at lr and 1).
 */
export function averagedSgdStage(options: { lr: number; lambd: number; alpha: number; t0: number }): Stage {
  const { lr, lambd, alpha, t0 } = options;
  return {
    fields: { eta: "single", mu: "single", ax: true },
    needsParams: "averaging (ax)",
    usesCount: true,
    init: (params) => ({
      eta: [np.scalar(lr, "float64")],
      mu: [np.scalar(1, "float64")],
      ax: zerosFor(params),
    }),
    update(updates, buffers, step) {
      const eta = leafAt(buffer(buffers, "eta"), 0);
      const mu = leafAt(buffer(buffers, "mu"), 0);
      const ax = buffer(buffers, "ax");
      const params = paramsOf(step);
      const decay = np.negative(np.multiply(eta, lambd));
      const negEta = np.negative(eta);
      const averaging = np.notEqual(mu, 1);
      const newAx: NdArray[] = [];
      const out = updates.map((g, i) => {
        const p = leafAt(params, i);
        const u = np.add(
          np.multiply(p, np.astype(decay, p.dtype)),
          np.multiply(g, np.astype(negEta, g.dtype)),
        );
        const moved = np.add(p, u);
        const a = leafAt(ax, i);
        newAx.push(
          np.where(averaging, np.add(a, np.multiply(np.subtract(moved, a), np.astype(mu, a.dtype))), moved),
        );
        return u;
      });
      const t = stepNumber(step.count);
      const nextEta = np.divide(lr, np.power(np.add(np.multiply(t, lambd * lr), 1), alpha));
      const nextMu = np.divide(1, np.maximum(np.subtract(t, t0), 1));
      return [out, { eta: [nextEta], mu: [nextMu], ax: newAx }];
    },
  };
}
