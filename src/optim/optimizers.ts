/**
 * torch.optim's optimizers as pure gradient transformations, with PyTorch 1.13's exact update rules
 * (single-tensor path; test/golden/README.md, "Optimizers"), each a chain of atoms as optax builds them:
 * `adam = chainStages(addWeightDecay, scaleByAdam, scaleByLearningRate)`. `chainStages` keeps the state
 * flat under torch's names — an int32 step count, a record of the hyperparameters (scalar arrays; the
 * update computes with the optimizer's own configuration) and the buffers PyTorch keeps per parameter —
 * so checkpoints read as torch's. Updates are what gets ADDED to the parameters, in array ops only, so
 * `update` traces under jit.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import {
  checkHyperparameter,
  checkLearningRate,
  type GradientTransformation,
  type HyperparamRecord,
  recordHyperparams,
} from "./common.js";
import { adamStage, adamStepSize, checkBetas, lrDecayStepSize, rmsStage, rssStage } from "./scale-by.js";
import type { LearningRate } from "./schedules.js";
import { chainStages } from "./stage.js";
import {
  checkNesterov,
  decoupledWeightDecayStage,
  learningRateStage,
  traceStage,
  weightDecayStage,
} from "./transforms.js";

// ---------------------------------------------------------------------------------------------------
// SGD

/** Options of `sgd`, as torch.optim.SGD's. */
export interface SgdOptions {
  /** The learning rate, or a schedule of the step count (required, as in torch). */
  lr: LearningRate;
  /** Momentum factor (default 0: plain SGD). */
  momentum?: number;
  /** Dampening of the momentum's gradient term (default 0). */
  dampening?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/** The hyperparameters recorded in an SGD state (scalar arrays; lr null when it is a schedule). */
export type SgdHyperparams = HyperparamRecord<"lr" | "momentum" | "dampening" | "nesterov" | "weightDecay">;

/** The state of `sgd`. */
export interface SgdState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: SgdHyperparams;
  /** PyTorch's momentum_buffer per parameter; null without momentum. */
  momentumBuffer: unknown;
}

/**
 * torch.optim.SGD: g = grad + weightDecay * p; with momentum, buf = g at the first step and
 * momentum * buf + (1 - dampening) * g after; the step is buf, or g + momentum * buf with nesterov;
 * update = -lr * step. `chain(addWeightDecay, trace, scaleByLearningRate)`.
 */
export function sgd(options: SgdOptions): GradientTransformation<SgdState> {
  const who = "sgd";
  checkOptions(who, options, ["lr", "momentum", "dampening", "nesterov", "weightDecay"]);
  const lr = checkLearningRate(who, options.lr);
  const momentum = checkHyperparameter(who, "momentum", options.momentum ?? 0);
  const dampening = checkHyperparameter(who, "dampening", options.dampening ?? 0);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  const nesterov = options.nesterov ?? false;
  checkNesterov(who, nesterov, momentum, dampening);
  const hyperparams: SgdHyperparams = recordHyperparams({ lr, momentum, dampening, nesterov, weightDecay });
  return chainStages(
    who,
    [
      weightDecayStage(weightDecay),
      traceStage(momentum, { dampening, nesterov, copyFirst: true }),
      learningRateStage(lr),
    ],
    hyperparams,
  );
}

// ---------------------------------------------------------------------------------------------------
// Adam, AdamW

/** Options of `adam` and `adamw`, as torch.optim.Adam's and AdamW's. */
export interface AdamOptions {
  /** The learning rate, or a schedule of the step count (default 1e-3). */
  lr?: LearningRate;
  /** Decay rates of the first and second moments (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** adam: L2 penalty added to the gradient (default 0); adamw: decoupled weight decay (default 1e-2). */
  weightDecay?: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad?: boolean;
}

/** The hyperparameters recorded in an Adam state (scalar arrays; lr null when it is a schedule). */
export type AdamHyperparams = HyperparamRecord<"lr" | "betas" | "eps" | "weightDecay" | "amsgrad">;

/** The state of `adam` and `adamw`. */
export interface AdamState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: AdamHyperparams;
  /** First moment (exp_avg). */
  expAvg: unknown;
  /** Second moment (exp_avg_sq). */
  expAvgSq: unknown;
  /** Running maximum of the second moment (max_exp_avg_sq); null without amsgrad. */
  maxExpAvgSq: unknown;
}

function adamFamily(
  who: "adam" | "adamw",
  options: AdamOptions,
  defaultWeightDecay: number,
): GradientTransformation<AdamState> {
  checkOptions(who, options, ["lr", "betas", "eps", "weightDecay", "amsgrad"]);
  const lr = checkLearningRate(who, options.lr ?? 1e-3);
  const [beta1, beta2] = checkBetas(who, options.betas ?? [0.9, 0.999]);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-8);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? defaultWeightDecay);
  const amsgrad = options.amsgrad ?? false;
  const hyperparams: AdamHyperparams = recordHyperparams({
    lr,
    betas: [beta1, beta2],
    eps,
    weightDecay,
    amsgrad,
  });
  const decoupled = who === "adamw";
  return chainStages(
    who,
    [
      weightDecayStage(decoupled ? 0 : weightDecay),
      // The first moment's bias correction goes into the step size, as torch's step_size = lr / (1 - b1^t).
      adamStage({ beta1, beta2, eps, amsgrad, correctFirstMoment: false }),
      learningRateStage(lr, adamStepSize(beta1)),
      decoupledWeightDecayStage(lr, decoupled ? weightDecay : 0),
    ],
    hyperparams,
  );
}

/**
 * torch.optim.Adam: g = grad + weightDecay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * update = -(lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) (v replaced by its running
 * maximum with amsgrad). `chain(addWeightDecay, scaleByAdam, scaleByLearningRate)`.
 */
export function adam(options: AdamOptions = {}): GradientTransformation<AdamState> {
  return adamFamily("adam", options, 0);
}

/**
 * torch.optim.AdamW: Adam without weight decay in the gradient, plus the decoupled -lr * weightDecay * p.
 * `chain(scaleByAdam, scaleByLearningRate, addDecoupledWeightDecay)`.
 */
export function adamw(options: AdamOptions = {}): GradientTransformation<AdamState> {
  return adamFamily("adamw", options, 1e-2);
}

// ---------------------------------------------------------------------------------------------------
// RMSprop

/** Options of `rmsprop`, as torch.optim.RMSprop's. */
export interface RmspropOptions {
  /** The learning rate, or a schedule of the step count (default 1e-2). */
  lr?: LearningRate;
  /** Smoothing constant of the squared-gradient average (default 0.99). */
  alpha?: number;
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Normalize by the estimated variance of the gradient instead of its second moment (default false). */
  centered?: boolean;
}

/** The hyperparameters recorded in an RMSprop state (scalar arrays; lr null when it is a schedule). */
export type RmspropHyperparams = HyperparamRecord<
  "lr" | "alpha" | "eps" | "weightDecay" | "momentum" | "centered"
>;

/** The state of `rmsprop`. */
export interface RmspropState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: RmspropHyperparams;
  /** Running average of the squared gradient (square_avg). */
  squareAvg: unknown;
  /** Running mean of the gradient; null unless centered. */
  gradAvg: unknown;
  /** null without momentum. */
  momentumBuffer: unknown;
}

/**
 * torch.optim.RMSprop: g = grad + weightDecay * p; v = alpha v + (1 - alpha) g^2; avg = sqrt(v) + eps
 * (sqrt(v - gAvg^2) + eps when centered, gAvg = alpha gAvg + (1 - alpha) g); with momentum
 * buf = momentum buf + g / avg and update = -lr buf, else update = -lr g / avg.
 * `chain(addWeightDecay, scaleByRms, trace, scaleByLearningRate)`.
 */
export function rmsprop(options: RmspropOptions = {}): GradientTransformation<RmspropState> {
  const who = "rmsprop";
  checkOptions(who, options, ["lr", "alpha", "eps", "weightDecay", "momentum", "centered"]);
  const lr = checkLearningRate(who, options.lr ?? 1e-2);
  const alpha = checkHyperparameter(who, "alpha", options.alpha ?? 0.99);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-8);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  const momentum = checkHyperparameter(who, "momentum", options.momentum ?? 0);
  const centered = options.centered ?? false;
  const hyperparams: RmspropHyperparams = recordHyperparams({
    lr,
    alpha,
    eps,
    weightDecay,
    momentum,
    centered,
  });
  return chainStages(
    who,
    [
      weightDecayStage(weightDecay),
      rmsStage({ alpha, eps, centered }),
      // RMSprop's buffer starts at zero (no first-step copy, unlike SGD's).
      traceStage(momentum, { copyFirst: false }),
      learningRateStage(lr),
    ],
    hyperparams,
  );
}

// ---------------------------------------------------------------------------------------------------
// Adagrad

/** Options of `adagrad`, as torch.optim.Adagrad's. */
export interface AdagradOptions {
  /** The learning rate, or a schedule of the step count (default 1e-2). */
  lr?: LearningRate;
  /** Learning-rate decay per step (default 0). */
  lrDecay?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Starting value of the sum of squared gradients (default 0). */
  initialAccumulatorValue?: number;
  /** Added to the denominator for numerical stability (default 1e-10). */
  eps?: number;
}

/** The hyperparameters recorded in an Adagrad state (scalar arrays; lr null when it is a schedule). */
export type AdagradHyperparams = HyperparamRecord<
  "lr" | "lrDecay" | "weightDecay" | "initialAccumulatorValue" | "eps"
>;

/** The state of `adagrad`. */
export interface AdagradState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: AdagradHyperparams;
  /** The running sum of squared gradients (state_sum). */
  sum: unknown;
}

/**
 * torch.optim.Adagrad: g = grad + weightDecay * p; clr = lr / (1 + (t - 1) lrDecay);
 * sum += g^2; update = -clr * g / (sqrt(sum) + eps). `chain(addWeightDecay, scaleByRss, scaleByLearningRate)`.
 */
export function adagrad(options: AdagradOptions = {}): GradientTransformation<AdagradState> {
  const who = "adagrad";
  checkOptions(who, options, ["lr", "lrDecay", "weightDecay", "initialAccumulatorValue", "eps"]);
  const lr = checkLearningRate(who, options.lr ?? 1e-2);
  const lrDecay = checkHyperparameter(who, "lrDecay", options.lrDecay ?? 0);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  const initialAccumulatorValue = checkHyperparameter(
    who,
    "initialAccumulatorValue",
    options.initialAccumulatorValue ?? 0,
  );
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-10);
  const hyperparams: AdagradHyperparams = recordHyperparams({
    lr,
    lrDecay,
    weightDecay,
    initialAccumulatorValue,
    eps,
  });
  return chainStages(
    who,
    [
      weightDecayStage(weightDecay),
      rssStage({ initialAccumulatorValue, eps }),
      learningRateStage(lr, lrDecayStepSize(lrDecay)),
    ],
    hyperparams,
  );
}
