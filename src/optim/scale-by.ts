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
import { buffer, chainStages, leafAt, type Stage, zerosFor } from "./stage.js";
import type { StepSize } from "./transforms.js";

/** The step number t = count + 1 of this update, as a float64 scalar (torch's `step`). */
export function stepNumber(count: NdArray): NdArray {
  return np.astype(nextCount(count), "float64");
}

/** Checks a `betas` option: a pair of numbers in [0, 1). */
export function checkBetas(who: string, betas: unknown, name = "betas"): [number, number] {
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
  eps: number;
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
        const denom = np.add(np.divide(np.sqrt(second), np.astype(correction2Sqrt, g.dtype)), eps);
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
