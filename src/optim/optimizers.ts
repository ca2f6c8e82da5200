/**
 * torch.optim's optimizers as pure gradient transformations, with PyTorch 1.13's exact update rules
 * (single-tensor path; test/golden/README.md, "Optimizers"). Each returns updates to ADD to the
 * parameters, computed with array ops only, so `update` traces under jit. Each state holds an int32 step
 * count, the buffers PyTorch keeps per parameter (zeros at first), and a record of the hyperparameters
 * (scalar arrays; the update computes with the optimizer's own configuration).
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import * as np from "../np.js";
import { unflatten, zerosLike } from "../tree/index.js";
import {
  arrayLeaves,
  checkArrayLeaves,
  checkGrads,
  checkHyperparameter,
  checkLearningRate,
  checkUpdateArgs,
  type GradientTransformation,
  type HyperparamRecord,
  learningRateAt,
  negate,
  nextCount,
  paramLeaves,
  recordHyperparams,
  scaleLeaf,
  zeroCount,
} from "./common.js";
import type { LearningRate } from "./schedules.js";

/** Zero buffers shaped like the params (after checking they are a tree of arrays). */
function zerosLikeParams(who: string, params: unknown): unknown {
  checkArrayLeaves(who, params);
  return zerosLike(params);
}

/** A tree's leaves, or nulls when the tree is absent (so per-leaf code can index either). */
function leavesOrNull(tree: unknown, count: number): (NdArray | null)[] {
  return tree === null ? new Array<null>(count).fill(null) : arrayLeaves(tree)[0];
}

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
 * update = -lr * step.
 */
export function sgd(options: SgdOptions): GradientTransformation<SgdState> {
  const who = "sgd";
  checkOptions(who, options, ["lr", "momentum", "dampening", "nesterov", "weightDecay"]);
  const lr = checkLearningRate(who, options.lr);
  const momentum = checkHyperparameter(who, "momentum", options.momentum ?? 0);
  const dampening = checkHyperparameter(who, "dampening", options.dampening ?? 0);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  const nesterov = options.nesterov ?? false;
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new RangeError(
      `${who}: nesterov requires momentum > 0 and dampening = 0, got momentum ${momentum}, dampening ${dampening}`,
    );
  }
  const hyperparams: SgdHyperparams = recordHyperparams({ lr, momentum, dampening, nesterov, weightDecay });
  return {
    init: (params) => ({
      count: zeroCount(),
      hyperparams,
      momentumBuffer: momentum !== 0 ? zerosLikeParams(`${who}.init`, params) : null,
    }),
    update(grads, state, params) {
      const at = `${who}.update`;
      const fields = momentum !== 0 ? ["count", "momentumBuffer"] : ["count"];
      checkUpdateArgs(at, grads, state, fields, `${who}(...).init(params)`);
      if (params !== undefined) checkGrads(at, grads, params, "params");
      if (momentum !== 0) checkGrads(at, grads, state.momentumBuffer, "optimizer state");
      else checkArrayLeaves(at, grads);
      const [g, def] = arrayLeaves(grads);
      const p = weightDecay !== 0 ? paramLeaves(at, grads, params, "weightDecay") : null;
      const buffers = leavesOrNull(state.momentumBuffer, g.length);
      const negLr = negate(learningRateAt(at, lr, state.count));
      const first = np.equal(state.count, 0);
      const updates: NdArray[] = [];
      const newBuffers: NdArray[] = [];
      g.forEach((grad, i) => {
        let d = weightDecay !== 0 ? np.add(grad, np.multiply(p![i]!, weightDecay)) : grad;
        if (momentum !== 0) {
          // PyTorch's first step copies g into the buffer, without dampening.
          const decayed = np.add(np.multiply(buffers[i]!, momentum), np.multiply(d, 1 - dampening));
          const buf = np.where(first, d, decayed);
          newBuffers.push(buf);
          d = nesterov ? np.add(d, np.multiply(buf, momentum)) : buf;
        }
        updates.push(scaleLeaf(d, negLr));
      });
      return [
        unflatten(def, updates),
        {
          count: nextCount(state.count),
          hyperparams: state.hyperparams,
          momentumBuffer: momentum !== 0 ? unflatten(def, newBuffers) : null,
        },
      ];
    },
  };
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
  const betas = options.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2)
    throw new TypeError(`${who}: betas must be a pair of numbers`);
  const beta1 = checkHyperparameter(who, "betas[0]", betas[0], { min: 0, below: 1 });
  const beta2 = checkHyperparameter(who, "betas[1]", betas[1], { min: 0, below: 1 });
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-8);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? defaultWeightDecay);
  const amsgrad = options.amsgrad ?? false;
  const decoupled = who === "adamw";
  const hyperparams: AdamHyperparams = recordHyperparams({
    lr,
    betas: [beta1, beta2],
    eps,
    weightDecay,
    amsgrad,
  });
  return {
    init(params) {
      const zeros = (): unknown => zerosLikeParams(`${who}.init`, params);
      return {
        count: zeroCount(),
        hyperparams,
        expAvg: zeros(),
        expAvgSq: zeros(),
        maxExpAvgSq: amsgrad ? zeros() : null,
      };
    },
    update(grads, state, params) {
      const at = `${who}.update`;
      const fields = ["count", "expAvg", "expAvgSq", ...(amsgrad ? ["maxExpAvgSq"] : [])];
      checkUpdateArgs(at, grads, state, fields, `${who}(...).init(params)`);
      if (params !== undefined) checkGrads(at, grads, params, "params");
      checkGrads(at, grads, state.expAvg, "optimizer state");
      const [g, def] = arrayLeaves(grads);
      const p = weightDecay !== 0 ? paramLeaves(at, grads, params, "weightDecay") : null;
      const m = arrayLeaves(state.expAvg)[0];
      const v = arrayLeaves(state.expAvgSq)[0];
      const vMax = leavesOrNull(state.maxExpAvgSq, g.length);
      const rate = learningRateAt(at, lr, state.count);
      // Bias corrections in float64 scalars (PyTorch computes them as Python floats), cast per leaf.
      const t = np.astype(nextCount(state.count), "float64");
      const stepSize = np.divide(rate, np.subtract(1, np.power(beta1, t)));
      const correction2Sqrt = np.sqrt(np.subtract(1, np.power(beta2, t)));
      const negStepSize = np.negative(stepSize);
      const decayFactor =
        decoupled && weightDecay !== 0
          ? negate(typeof rate === "number" ? rate * weightDecay : np.multiply(rate, weightDecay))
          : 0;
      const updates: NdArray[] = [];
      const newM: NdArray[] = [];
      const newV: NdArray[] = [];
      const newVMax: NdArray[] = [];
      g.forEach((grad, i) => {
        const gi = !decoupled && weightDecay !== 0 ? np.add(grad, np.multiply(p![i]!, weightDecay)) : grad;
        const mi = np.add(np.multiply(m[i]!, beta1), np.multiply(gi, 1 - beta1));
        const vi = np.add(np.multiply(v[i]!, beta2), np.multiply(np.multiply(gi, gi), 1 - beta2));
        newM.push(mi);
        newV.push(vi);
        let second = vi;
        if (amsgrad) {
          second = np.maximum(vMax[i]!, vi);
          newVMax.push(second);
        }
        // eps after the sqrt and after the bias correction, as PyTorch.
        const denom = np.add(np.divide(np.sqrt(second), np.astype(correction2Sqrt, gi.dtype)), eps);
        let update = scaleLeaf(np.divide(mi, denom), negStepSize);
        // AdamW: p *= 1 - lr * weightDecay, i.e. the update gains -lr * weightDecay * p.
        if (decoupled && weightDecay !== 0) update = np.add(scaleLeaf(p![i]!, decayFactor), update);
        updates.push(update);
      });
      return [
        unflatten(def, updates),
        {
          count: nextCount(state.count),
          hyperparams: state.hyperparams,
          expAvg: unflatten(def, newM),
          expAvgSq: unflatten(def, newV),
          maxExpAvgSq: amsgrad ? unflatten(def, newVMax) : null,
        },
      ];
    },
  };
}

/**
 * torch.optim.Adam: g = grad + weightDecay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * update = -(lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) (v replaced by its running
 * maximum with amsgrad).
 */
export function adam(options: AdamOptions = {}): GradientTransformation<AdamState> {
  return adamFamily("adam", options, 0);
}

/** torch.optim.AdamW: Adam without weight decay in the gradient, plus the decoupled -lr * weightDecay * p. */
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
  return {
    init(params) {
      const zeros = (): unknown => zerosLikeParams(`${who}.init`, params);
      return {
        count: zeroCount(),
        hyperparams,
        squareAvg: zeros(),
        gradAvg: centered ? zeros() : null,
        momentumBuffer: momentum > 0 ? zeros() : null,
      };
    },
    update(grads, state, params) {
      const at = `${who}.update`;
      const fields = [
        "count",
        "squareAvg",
        ...(centered ? ["gradAvg"] : []),
        ...(momentum > 0 ? ["momentumBuffer"] : []),
      ];
      checkUpdateArgs(at, grads, state, fields, `${who}(...).init(params)`);
      if (params !== undefined) checkGrads(at, grads, params, "params");
      checkGrads(at, grads, state.squareAvg, "optimizer state");
      const [g, def] = arrayLeaves(grads);
      const p = weightDecay !== 0 ? paramLeaves(at, grads, params, "weightDecay") : null;
      const sq = arrayLeaves(state.squareAvg)[0];
      const ga = leavesOrNull(state.gradAvg, g.length);
      const buffers = leavesOrNull(state.momentumBuffer, g.length);
      const negLr = negate(learningRateAt(at, lr, state.count));
      const updates: NdArray[] = [];
      const newSq: NdArray[] = [];
      const newGa: NdArray[] = [];
      const newBuffers: NdArray[] = [];
      g.forEach((grad, i) => {
        const gi = weightDecay !== 0 ? np.add(grad, np.multiply(p![i]!, weightDecay)) : grad;
        const sqi = np.add(np.multiply(sq[i]!, alpha), np.multiply(np.multiply(gi, gi), 1 - alpha));
        newSq.push(sqi);
        let avg: NdArray;
        if (centered) {
          const gai = np.add(np.multiply(ga[i]!, alpha), np.multiply(gi, 1 - alpha));
          newGa.push(gai);
          avg = np.sqrt(np.subtract(sqi, np.multiply(gai, gai)));
        } else {
          avg = np.sqrt(sqi);
        }
        avg = np.add(avg, eps);
        if (momentum > 0) {
          const buf = np.add(np.multiply(buffers[i]!, momentum), np.divide(gi, avg));
          newBuffers.push(buf);
          updates.push(scaleLeaf(buf, negLr));
        } else {
          updates.push(scaleLeaf(np.divide(gi, avg), negLr));
        }
      });
      return [
        unflatten(def, updates),
        {
          count: nextCount(state.count),
          hyperparams: state.hyperparams,
          squareAvg: unflatten(def, newSq),
          gradAvg: centered ? unflatten(def, newGa) : null,
          momentumBuffer: momentum > 0 ? unflatten(def, newBuffers) : null,
        },
      ];
    },
  };
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
 * sum += g^2; update = -clr * g / (sqrt(sum) + eps).
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
  return {
    init(params) {
      checkArrayLeaves(`${who}.init`, params);
      const [leaves, def] = arrayLeaves(params);
      return {
        count: zeroCount(),
        hyperparams,
        sum: unflatten(
          def,
          leaves.map((x) => np.fullLike(x, initialAccumulatorValue)),
        ),
      };
    },
    update(grads, state, params) {
      const at = `${who}.update`;
      checkUpdateArgs(at, grads, state, ["count", "sum"], `${who}(...).init(params)`);
      if (params !== undefined) checkGrads(at, grads, params, "params");
      checkGrads(at, grads, state.sum, "optimizer state");
      const [g, def] = arrayLeaves(grads);
      const p = weightDecay !== 0 ? paramLeaves(at, grads, params, "weightDecay") : null;
      const sums = arrayLeaves(state.sum)[0];
      const rate = learningRateAt(at, lr, state.count);
      // clr = lr / (1 + (t - 1) * lrDecay), with t - 1 the updates done before this one.
      const decay = np.add(np.multiply(np.astype(state.count, "float64"), lrDecay), 1);
      const negClr = np.negative(np.divide(rate, decay));
      const updates: NdArray[] = [];
      const newSums: NdArray[] = [];
      g.forEach((grad, i) => {
        const gi = weightDecay !== 0 ? np.add(grad, np.multiply(p![i]!, weightDecay)) : grad;
        const si = np.add(sums[i]!, np.multiply(gi, gi));
        newSums.push(si);
        updates.push(scaleLeaf(np.divide(gi, np.add(np.sqrt(si), eps)), negClr));
      });
      return [
        unflatten(def, updates),
        { count: nextCount(state.count), hyperparams: state.hyperparams, sum: unflatten(def, newSums) },
      ];
    },
  };
}
