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
import { checkOptions, optionKeys } from "../core/options.js";
import {
  checkArrayHyperparameter,
  checkHyperparameter,
  checkLearningRate,
  type GradientTransformation,
  type HyperparamRecord,
  recordHyperparams,
} from "./common.js";
import { leafMask, type Mask } from "./mask.js";
import {
  adadeltaStage,
  adamaxStage,
  adamStage,
  adamStepSize,
  averagedSgdStage,
  checkBetas,
  lrDecayStepSize,
  nadamStage,
  radamStage,
  rmsStage,
  rpropStage,
  rssStage,
} from "./scale-by.js";
import type { LearningRate } from "./schedules.js";
import { chainStages } from "./stage.js";
import {
  checkNesterov,
  decoupledWeightDecayStage,
  learningRateStage,
  scaleStage,
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
  /** L2 penalty added to the gradient (default 0; a float scalar array too, e.g. from `injectHyperparams`). */
  weightDecay?: number | NdArray;
  /** Which params get the weight decay: a boolean tree or a function of the params (default all; see `decayMask`). */
  mask?: Mask;
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
  checkOptions(who, options, ["lr", "momentum", "dampening", "nesterov", "weightDecay", "mask"]);
  const lr = checkLearningRate(who, options.lr);
  const momentum = checkHyperparameter(who, "momentum", options.momentum ?? 0);
  const dampening = checkHyperparameter(who, "dampening", options.dampening ?? 0);
  const weightDecay = checkArrayHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  const mask = options.mask === undefined ? undefined : leafMask(who, options.mask);
  const nesterov = options.nesterov ?? false;
  checkNesterov(who, nesterov, momentum, dampening);
  const hyperparams: SgdHyperparams = recordHyperparams({ lr, momentum, dampening, nesterov, weightDecay });
  return chainStages(
    who,
    [
      weightDecayStage(weightDecay, "weightDecay", mask),
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
  /** Added to the denominator for numerical stability (default 1e-8; a float scalar array too). */
  eps?: number | NdArray;
  /**
   * adam: L2 penalty added to the gradient (default 0); adamw: decoupled weight decay (default 1e-2). A
   * float scalar array too (e.g. from `injectHyperparams`).
   */
  weightDecay?: number | NdArray;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad?: boolean;
  /**
   * Which params get the weight decay (optax's `mask`; torch's parameter groups with weight_decay 0 for the
   * rest): a boolean tree shaped like the params (or a prefix of it), or a function of the params returning
   * one, e.g. `optim.decayMask` (no decay on biases and norm scales). Default: all params.
   */
  mask?: Mask;
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
  checkOptions(who, options, ["lr", "betas", "eps", "weightDecay", "amsgrad", "mask"]);
  const lr = checkLearningRate(who, options.lr ?? 1e-3);
  const [beta1, beta2] = checkBetas(who, options.betas ?? [0.9, 0.999]);
  const eps = checkArrayHyperparameter(who, "eps", options.eps ?? 1e-8);
  const weightDecay = checkArrayHyperparameter(who, "weightDecay", options.weightDecay ?? defaultWeightDecay);
  const amsgrad = options.amsgrad ?? false;
  const mask = options.mask === undefined ? undefined : leafMask(who, options.mask);
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
      weightDecayStage(decoupled ? 0 : weightDecay, "weightDecay", mask),
      // The first moment's bias correction goes into the step size, as torch's step_size = lr / (1 - b1^t).
      adamStage({ beta1, beta2, eps, amsgrad, correctFirstMoment: false }),
      learningRateStage(lr, adamStepSize(beta1)),
      decoupledWeightDecayStage(lr, decoupled ? weightDecay : 0, mask),
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
 * torch.optim.AdamW: Adam without weight decay in the gradient, plus the decoupled -lr * weightDecay * p,
 * on the params `mask` selects (`adamw({ lr, weightDecay: 0.1, mask: optim.decayMask })` is torch's two
 * parameter groups with weight_decay 0 for biases and norms). `chain(scaleByAdam, scaleByLearningRate,
 * addDecoupledWeightDecay)`.
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

// ---------------------------------------------------------------------------------------------------
// Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop: torch.optim 1.13's, each a few atoms

/** The step count and hyperparameter record every optimizer's state starts with. */
interface OptimizerState<K extends string> {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: HyperparamRecord<K>;
}

/** Options of `adadelta`, as torch.optim.Adadelta's. */
export interface AdadeltaOptions {
  /** Scales delta before it is applied, or a schedule of the step count (default 1.0). */
  lr?: LearningRate;
  /** Decay rate of the running averages (default 0.9). */
  rho?: number;
  /** Added inside both square roots (default 1e-6). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/** The state of `adadelta`. */
export interface AdadeltaState extends OptimizerState<"lr" | "rho" | "eps" | "weightDecay"> {
  /** Running average of the squared gradient (square_avg). */
  squareAvg: unknown;
  /** Running average of the squared update (acc_delta). */
  accDelta: unknown;
}

/**
 * torch.optim.Adadelta: g = grad + weightDecay * p; v = rho v + (1 - rho) g^2;
 * delta = sqrt(u + eps) / sqrt(v + eps) * g; u = rho u + (1 - rho) delta^2; update = -lr * delta.
 * `chain(addWeightDecay, scaleByAdadelta, scaleByLearningRate)`.
 */
export function adadelta(options: AdadeltaOptions = {}): GradientTransformation<AdadeltaState> {
  const who = "adadelta";
  checkOptions(
    who,
    options,
    optionKeys<AdadeltaOptions>({ lr: true, rho: true, eps: true, weightDecay: true }),
  );
  const lr = checkLearningRate(who, options.lr ?? 1.0);
  const rho = checkHyperparameter(who, "rho", options.rho ?? 0.9);
  if (rho > 1) throw new RangeError(`${who}: rho must be a finite number in [0, 1], got ${rho}`);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-6);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  return chainStages(
    who,
    [weightDecayStage(weightDecay), adadeltaStage({ rho, eps }), learningRateStage(lr)],
    recordHyperparams({ lr, rho, eps, weightDecay }),
  );
}

/** Options of `adamax`, as torch.optim.Adamax's. */
export interface AdamaxOptions {
  /** The learning rate, or a schedule of the step count (default 2e-3). */
  lr?: LearningRate;
  /** Decay rates of the first moment and of the infinity norm (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to |g| before the maximum (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/** The state of `adamax`. */
export interface AdamaxState extends OptimizerState<"lr" | "betas" | "eps" | "weightDecay"> {
  /** First moment (exp_avg). */
  expAvg: unknown;
  /** Exponentially weighted infinity norm (exp_inf). */
  expInf: unknown;
}

/**
 * torch.optim.Adamax: g = grad + weightDecay * p; m = b1 m + (1 - b1) g; u = max(b2 u, |g| + eps);
 * update = -(lr / (1 - b1^t)) * m / u. `chain(addWeightDecay, scaleByAdamax, scaleByLearningRate)`.
 */
export function adamax(options: AdamaxOptions = {}): GradientTransformation<AdamaxState> {
  const who = "adamax";
  checkOptions(
    who,
    options,
    optionKeys<AdamaxOptions>({ lr: true, betas: true, eps: true, weightDecay: true }),
  );
  const lr = checkLearningRate(who, options.lr ?? 2e-3);
  const [beta1, beta2] = checkBetas(who, options.betas ?? [0.9, 0.999]);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-8);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  return chainStages(
    who,
    [
      weightDecayStage(weightDecay),
      adamaxStage({ beta1, beta2, eps }),
      learningRateStage(lr, adamStepSize(beta1)),
    ],
    recordHyperparams({ lr, betas: [beta1, beta2], eps, weightDecay }),
  );
}

/** Options of `nadam`, as torch.optim.NAdam's. */
export interface NadamOptions {
  /** The learning rate, or a schedule of the step count (default 2e-3). */
  lr?: LearningRate;
  /** Decay rates of the first and second moments (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** The momentum schedule's decay, psi (default 4e-3). */
  momentumDecay?: number;
}

/** The state of `nadam`. */
export interface NadamState extends OptimizerState<"lr" | "betas" | "eps" | "weightDecay" | "momentumDecay"> {
  /** The product of the momentum coefficients so far (mu_product; a float64 scalar). */
  muProduct: NdArray;
  /** First moment (exp_avg). */
  expAvg: unknown;
  /** Second moment (exp_avg_sq). */
  expAvgSq: unknown;
}

/**
 * torch.optim.NAdam: mu_t = b1 (1 - 0.5 * 0.96^(t momentumDecay)); muProduct *= mu_t; m, v as Adam's;
 * denom = sqrt(v / (1 - b2^t)) + eps; update = -lr ((1 - mu_t) / (1 - muProduct) g / denom +
 * mu_{t+1} / (1 - muProduct mu_t mu_{t+1}) m / denom), with torch 1.13's repeated mu_t in the last
 * denominator (later torch versions drop it). `chain(addWeightDecay, scaleByNadam, scaleByLearningRate)`.
 */
export function nadam(options: NadamOptions = {}): GradientTransformation<NadamState> {
  const who = "nadam";
  checkOptions(
    who,
    options,
    optionKeys<NadamOptions>({ lr: true, betas: true, eps: true, weightDecay: true, momentumDecay: true }),
  );
  const lr = checkLearningRate(who, options.lr ?? 2e-3);
  const [beta1, beta2] = checkBetas(who, options.betas ?? [0.9, 0.999]);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-8);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  const momentumDecay = checkHyperparameter(who, "momentumDecay", options.momentumDecay ?? 4e-3);
  return chainStages(
    who,
    [weightDecayStage(weightDecay), nadamStage({ beta1, beta2, eps, momentumDecay }), learningRateStage(lr)],
    recordHyperparams({ lr, betas: [beta1, beta2], eps, weightDecay, momentumDecay }),
  );
}

/** Options of `radam`, as torch.optim.RAdam's. */
export interface RadamOptions {
  /** The learning rate, or a schedule of the step count (default 1e-3). */
  lr?: LearningRate;
  /** Decay rates of the first and second moments (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/** The state of `radam`. */
export interface RadamState extends OptimizerState<"lr" | "betas" | "eps" | "weightDecay"> {
  /** First moment (exp_avg). */
  expAvg: unknown;
  /** Second moment (exp_avg_sq). */
  expAvgSq: unknown;
}

/**
 * torch.optim.RAdam: m, v as Adam's; while the approximated SMA length rho_t <= 5 the update is
 * -lr m / (1 - b1^t) (momentum SGD), after it Adam's step times the variance rectification r_t.
 * `chain(addWeightDecay, scaleByRadam, scaleByLearningRate)`.
 */
export function radam(options: RadamOptions = {}): GradientTransformation<RadamState> {
  const who = "radam";
  checkOptions(
    who,
    options,
    optionKeys<RadamOptions>({ lr: true, betas: true, eps: true, weightDecay: true }),
  );
  const lr = checkLearningRate(who, options.lr ?? 1e-3);
  const [beta1, beta2] = checkBetas(who, options.betas ?? [0.9, 0.999]);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-8);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  return chainStages(
    who,
    [weightDecayStage(weightDecay), radamStage({ beta1, beta2, eps }), learningRateStage(lr)],
    recordHyperparams({ lr, betas: [beta1, beta2], eps, weightDecay }),
  );
}

/** Options of `asgd`, as torch.optim.ASGD's. */
export interface AsgdOptions {
  /** The initial learning rate eta (a number: eta then follows ASGD's own decay; default 1e-2). */
  lr?: number;
  /** Decay term (default 1e-4). */
  lambd?: number;
  /** Power of the eta update (default 0.75). */
  alpha?: number;
  /** The step at which averaging starts (default 1e6). */
  t0?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/** The state of `asgd`. */
export interface AsgdState extends OptimizerState<"lr" | "lambd" | "alpha" | "t0" | "weightDecay"> {
  /** The learning rate of the next step (a float64 scalar). */
  eta: NdArray;
  /** The averaging coefficient of the next step (a float64 scalar). */
  mu: NdArray;
  /** The averaged parameters (ax): use them, not the params, as the model ASGD returns. */
  ax: unknown;
}

/**
 * torch.optim.ASGD: g = grad + weightDecay * p; p = p (1 - lambd eta) - eta g; ax = p while mu = 1,
 * else ax + mu (p - ax); eta = lr / (1 + lambd lr t)^alpha, mu = 1 / max(1, t - t0).
 * `chain(addWeightDecay, averagedSgd)` (its learning rate is its own state).
 */
export function asgd(options: AsgdOptions = {}): GradientTransformation<AsgdState> {
  const who = "asgd";
  checkOptions(
    who,
    options,
    optionKeys<AsgdOptions>({ lr: true, lambd: true, alpha: true, t0: true, weightDecay: true }),
  );
  const lr = checkHyperparameter(who, "lr", options.lr ?? 1e-2);
  const lambd = checkHyperparameter(who, "lambd", options.lambd ?? 1e-4);
  const alpha = checkHyperparameter(who, "alpha", options.alpha ?? 0.75);
  const t0 = checkHyperparameter(who, "t0", options.t0 ?? 1e6);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  return chainStages(
    who,
    [weightDecayStage(weightDecay), averagedSgdStage({ lr, lambd, alpha, t0 })],
    recordHyperparams({ lr, lambd, alpha, t0, weightDecay }),
  );
}

/** Options of `rprop`, as torch.optim.Rprop's. */
export interface RpropOptions {
  /** The initial step size (default 1e-2). */
  lr?: number;
  /** Multiplicative decrease and increase factors [etaminus, etaplus] (default [0.5, 1.2]). */
  etas?: readonly [number, number];
  /** Minimal and maximal step sizes (default [1e-6, 50]). */
  stepSizes?: readonly [number, number];
}

/** The state of `rprop`. */
export interface RpropState extends OptimizerState<"lr" | "etas" | "stepSizes"> {
  /** The previous step's gradient, zeroed where its sign flipped (prev). */
  prev: unknown;
  /** The per-element step sizes (step_size). */
  stepSize: unknown;
}

/**
 * torch.optim.Rprop: per element, the step size grows by etaplus while the gradient keeps its sign and
 * shrinks by etaminus when it flips (and that step is skipped), clipped to stepSizes;
 * update = -sign(g) * stepSize. `chain(scaleByRprop, scale(-1))`, as optax.rprop.
 */
export function rprop(options: RpropOptions = {}): GradientTransformation<RpropState> {
  const who = "rprop";
  checkOptions(who, options, optionKeys<RpropOptions>({ lr: true, etas: true, stepSizes: true }));
  const lr = checkHyperparameter(who, "lr", options.lr ?? 1e-2);
  const etas = options.etas ?? [0.5, 1.2];
  const sizes = options.stepSizes ?? [1e-6, 50];
  if (!Array.isArray(etas) || etas.length !== 2)
    throw new TypeError(`${who}: etas must be a pair of numbers`);
  if (!Array.isArray(sizes) || sizes.length !== 2)
    throw new TypeError(`${who}: stepSizes must be a pair of numbers`);
  const etaMinus = checkHyperparameter(who, "etas[0]", etas[0], { min: 0, below: 1 });
  const etaPlus = checkHyperparameter(who, "etas[1]", etas[1], { min: 1 });
  const stepSizeMin = checkHyperparameter(who, "stepSizes[0]", sizes[0]);
  const stepSizeMax = checkHyperparameter(who, "stepSizes[1]", sizes[1], { min: stepSizeMin });
  return chainStages(
    who,
    [rpropStage({ lr, etaMinus, etaPlus, stepSizeMin, stepSizeMax }), scaleStage(-1)],
    recordHyperparams({ lr, etas: [etaMinus, etaPlus], stepSizes: [stepSizeMin, stepSizeMax] }),
  );
}
