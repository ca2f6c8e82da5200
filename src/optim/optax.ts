/**
 * optax's lamb, lion and adafactor, with optax's update rules, option names (camelCased) and state names,
 * each the chain optax's alias.py builds, from stages here and in transforms.ts. torch.optim has none of
 * them (torch 1.13).
 */
import type { NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import * as np from "../np.js";
import {
  checkHyperparameter,
  checkLearningRate,
  checkOptionalLearningRate,
  type GradientTransformation,
  type HyperparamRecord,
  recordHyperparams,
} from "./common.js";
import { emaStage } from "./ema.js";
import { stepNumber } from "./scale-by.js";
import type { LearningRate } from "./schedules.js";
import { buffer, chainStages, leafAt, leafwise, paramsOf, type Stage, zerosFor } from "./stage.js";
import { learningRateStage, scaleStage, weightDecayStage } from "./transforms.js";

/** sqrt(sum(x^2)) of one leaf, a scalar of its dtype. */
const norm = (x: NdArray): NdArray => np.sqrt(np.sum(np.multiply(x, x)));

/** sqrt(mean(x^2)) of one leaf. */
const rms = (x: NdArray): NdArray => np.sqrt(np.mean(np.multiply(x, x)));

/**
 * optax.scale_by_adam: mu = b1 mu + (1 - b1) u, nu = b2 nu + (1 - b2) u^2 (optax's state names); the
 * updates become mû / (sqrt(nû + epsRoot) + eps) with both moments bias-corrected.
 */
export function optaxAdamStage(options: { b1: number; b2: number; eps: number; epsRoot: number }): Stage {
  const { b1, b2, eps, epsRoot } = options;
  return {
    fields: { mu: true, nu: true },
    needsParams: null,
    usesCount: true,
    init: (params) => ({ mu: zerosFor(params), nu: zerosFor(params) }),
    update(updates, buffers, step) {
      const mu = buffer(buffers, "mu");
      const nu = buffer(buffers, "nu");
      const t = stepNumber(step.count);
      const correction1 = np.subtract(1, np.power(b1, t));
      const correction2 = np.subtract(1, np.power(b2, t));
      const newMu: NdArray[] = [];
      const newNu: NdArray[] = [];
      const out = updates.map((g, i) => {
        const m = np.add(np.multiply(g, 1 - b1), np.multiply(leafAt(mu, i), b1));
        const v = np.add(np.multiply(np.multiply(g, g), 1 - b2), np.multiply(leafAt(nu, i), b2));
        newMu.push(m);
        newNu.push(v);
        const mHat = np.divide(m, np.astype(correction1, g.dtype));
        const vHat = np.divide(v, np.astype(correction2, g.dtype));
        return np.divide(mHat, np.add(np.sqrt(np.add(vHat, epsRoot)), eps));
      });
      return [out, { mu: newMu, nu: newNu }];
    },
  };
}

/**
 * optax.scale_by_trust_ratio (min_norm 0, trust_coefficient 1, eps 0): each leaf's update times
 * ||param|| / ||update||, or 1 where either norm is 0.
 */
export function trustRatioStage(): Stage {
  return leafwise(
    (u, i, step) => {
      const p = leafAt(paramsOf(step), i);
      const paramNorm = norm(p);
      const updateNorm = norm(u);
      const zero = np.logicalOr(np.equal(paramNorm, 0), np.equal(updateNorm, 0));
      return np.multiply(
        u,
        np.where(zero, np.ones([], { dtype: u.dtype }), np.divide(paramNorm, updateNorm)),
      );
    },
    { needsParams: "the trust ratio" },
  );
}

/** Options of `lamb`, as optax.lamb's. */
export interface LambOptions {
  /** The learning rate, or a schedule of the step count (required, as in optax). */
  learningRate: LearningRate;
  /** Decay rate of the first moment (default 0.9). */
  b1?: number;
  /** Decay rate of the second moment (default 0.999). */
  b2?: number;
  /** Added to the denominator outside the square root (default 1e-6). */
  eps?: number;
  /** Added to the second moment inside the square root (default 0). */
  epsRoot?: number;
  /** Weight decay added to the Adam direction before the trust ratio (default 0). */
  weightDecay?: number;
}

/** The state of `lamb`. */
export interface LambState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: HyperparamRecord<"learningRate" | "b1" | "b2" | "eps" | "epsRoot" | "weightDecay">;
  /** First moment. */
  mu: unknown;
  /** Second moment. */
  nu: unknown;
}

/**
 * optax.lamb (You et al. 2020): u = mû / (sqrt(nû + epsRoot) + eps) + weightDecay p, scaled per leaf by
 * the trust ratio ||p|| / ||u||, times -learningRate.
 * `chain(scaleByAdam, addDecayedWeights, scaleByTrustRatio, scaleByLearningRate)`.
 */
export function lamb(options: LambOptions): GradientTransformation<LambState> {
  const who = "lamb";
  checkOptions(
    who,
    options,
    optionKeys<LambOptions>({
      learningRate: true,
      b1: true,
      b2: true,
      eps: true,
      epsRoot: true,
      weightDecay: true,
    }),
  );
  const learningRate = checkLearningRate(who, options?.learningRate, "learningRate");
  const b1 = checkHyperparameter(who, "b1", options.b1 ?? 0.9, { min: 0, below: 1 });
  const b2 = checkHyperparameter(who, "b2", options.b2 ?? 0.999, { min: 0, below: 1 });
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-6);
  const epsRoot = checkHyperparameter(who, "epsRoot", options.epsRoot ?? 0);
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 0);
  return chainStages(
    who,
    [
      optaxAdamStage({ b1, b2, eps, epsRoot }),
      weightDecayStage(weightDecay),
      trustRatioStage(),
      learningRateStage(learningRate),
    ],
    recordHyperparams({ learningRate, b1, b2, eps, epsRoot, weightDecay }),
  );
}

/** optax.scale_by_lion: the updates become sign((1 - b1) u + b1 mu); then mu = (1 - b2) u + b2 mu. */
export function lionStage(options: { b1: number; b2: number }): Stage {
  const { b1, b2 } = options;
  return {
    fields: { mu: true },
    needsParams: null,
    usesCount: true,
    init: (params) => ({ mu: zerosFor(params) }),
    update(updates, buffers) {
      const mu = buffer(buffers, "mu");
      const newMu: NdArray[] = [];
      const out = updates.map((g, i) => {
        const m = leafAt(mu, i);
        newMu.push(np.add(np.multiply(g, 1 - b2), np.multiply(m, b2)));
        return np.sign(np.add(np.multiply(g, 1 - b1), np.multiply(m, b1)));
      });
      return [out, { mu: newMu }];
    },
  };
}

/** Options of `lion`, as optax.lion's. */
export interface LionOptions {
  /** The learning rate, or a schedule of the step count (required, as in optax). */
  learningRate: LearningRate;
  /** Interpolation between the momentum and the gradient for the step direction (default 0.9). */
  b1?: number;
  /** Decay rate of the momentum (default 0.99). */
  b2?: number;
  /** Decoupled weight decay, scaled by the learning rate (default 1e-3). */
  weightDecay?: number;
}

/** The state of `lion`. */
export interface LionState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: HyperparamRecord<"learningRate" | "b1" | "b2" | "weightDecay">;
  /** The momentum. */
  mu: unknown;
}

/**
 * optax.lion (Chen et al. 2023): update = -learningRate (sign((1 - b1) g + b1 mu) + weightDecay p);
 * mu = (1 - b2) g + b2 mu. `chain(scaleByLion, addDecayedWeights, scaleByLearningRate)`.
 */
export function lion(options: LionOptions): GradientTransformation<LionState> {
  const who = "lion";
  checkOptions(
    who,
    options,
    optionKeys<LionOptions>({ learningRate: true, b1: true, b2: true, weightDecay: true }),
  );
  const learningRate = checkLearningRate(who, options?.learningRate, "learningRate");
  const b1 = checkHyperparameter(who, "b1", options.b1 ?? 0.9, { min: 0, below: 1 });
  const b2 = checkHyperparameter(who, "b2", options.b2 ?? 0.99, { min: 0, below: 1 });
  const weightDecay = checkHyperparameter(who, "weightDecay", options.weightDecay ?? 1e-3);
  return chainStages(
    who,
    [lionStage({ b1, b2 }), weightDecayStage(weightDecay), learningRateStage(learningRate)],
    recordHyperparams({ learningRate, b1, b2, weightDecay }),
  );
}

// ---------------------------------------------------------------------------------------------------
// Adafactor

/** optax's _factored_dims: the two largest axes [d1, d0] (d0 the largest), or null to keep a full v. */
export function factoredDims(
  shape: readonly number[],
  factored: boolean,
  minDimSizeToFactor: number,
): [number, number] | null {
  if (!factored || shape.length < 2) return null;
  // numpy's argsort of the shape; ties keep axis order (the stable sort numpy uses for small arrays).
  const sorted = shape
    .map((size, axis) => ({ size, axis }))
    .sort((a, b) => a.size - b.size || a.axis - b.axis);
  const second = sorted[sorted.length - 2];
  const largest = sorted[sorted.length - 1];
  if (second === undefined || largest === undefined || second.size < minDimSizeToFactor) return null;
  return [second.axis, largest.axis];
}

/**
 * optax.scale_by_factored_rms (Adafactor's second moment): with decay 1 - (t - decayOffset)^-decayRate and
 * s = u^2 + eps, a leaf with two axes of at least minDimSizeToFactor keeps the row and column means of s
 * (vRow over its largest axis d0, vCol over d1) and becomes u * (vRow / mean(vRow))^-1/2 * vCol^-1/2; any
 * other leaf keeps the full average v and becomes u * v^-1/2. Unused fields hold [1]-shaped zeros, as
 * optax's.
 */
export function factoredRmsStage(options: {
  factored: boolean;
  decayRate: number;
  decayOffset: number;
  minDimSizeToFactor: number;
  eps: number;
}): Stage {
  const { factored, decayRate, decayOffset, minDimSizeToFactor, eps } = options;
  const placeholder = (p: NdArray): NdArray => np.zeros([1], { dtype: p.dtype });
  return {
    fields: { vRow: "tree", vCol: "tree", v: "tree" },
    needsParams: null,
    usesCount: true,
    init(params) {
      const vRow: NdArray[] = [];
      const vCol: NdArray[] = [];
      const v: NdArray[] = [];
      for (const p of params) {
        const dims = factoredDims(p.shape, factored, minDimSizeToFactor);
        if (dims === null) {
          vRow.push(placeholder(p));
          vCol.push(placeholder(p));
          v.push(np.zerosLike(p));
        } else {
          const [d1, d0] = dims;
          vRow.push(np.zerosLike(np.sum(p, { axis: d0 })));
          vCol.push(np.zerosLike(np.sum(p, { axis: d1 })));
          v.push(placeholder(p));
        }
      }
      return { vRow, vCol, v };
    },
    update(updates, buffers, step) {
      const rows = buffer(buffers, "vRow");
      const cols = buffer(buffers, "vCol");
      const full = buffer(buffers, "v");
      const t = np.subtract(stepNumber(step.count), decayOffset);
      const decay = np.subtract(1, np.power(t, -decayRate));
      const keep = np.subtract(1, decay);
      const newRows: NdArray[] = [];
      const newCols: NdArray[] = [];
      const newFull: NdArray[] = [];
      const out = updates.map((g, i) => {
        const d = np.astype(decay, g.dtype);
        const k = np.astype(keep, g.dtype);
        const squares = np.add(np.multiply(g, g), eps);
        const dims = factoredDims(g.shape, factored, minDimSizeToFactor);
        if (dims === null) {
          const v = np.add(np.multiply(leafAt(full, i), d), np.multiply(np.astype(squares, g.dtype), k));
          newRows.push(leafAt(rows, i));
          newCols.push(leafAt(cols, i));
          newFull.push(v);
          return np.multiply(g, np.power(v, -0.5));
        }
        const [d1, d0] = dims;
        const row = np.add(np.multiply(leafAt(rows, i), d), np.multiply(np.mean(squares, { axis: d0 }), k));
        const col = np.add(np.multiply(leafAt(cols, i), d), np.multiply(np.mean(squares, { axis: d1 }), k));
        newRows.push(row);
        newCols.push(col);
        newFull.push(leafAt(full, i));
        const reducedD1 = d1 > d0 ? d1 - 1 : d1;
        const rowFactor = np.power(np.divide(row, np.mean(row, { axis: reducedD1, keepdims: true })), -0.5);
        const colFactor = np.power(col, -0.5);
        return np.multiply(np.multiply(g, np.expandDims(rowFactor, d0)), np.expandDims(colFactor, d1));
      });
      return [out, { vRow: newRows, vCol: newCols, v: newFull }];
    },
  };
}

/** optax.clip_by_block_rms: each leaf divided by max(1, rms(u) / threshold). */
export function blockRmsClipStage(threshold: number): Stage {
  return leafwise((u) => np.divide(u, np.maximum(np.divide(rms(u), threshold), 1)));
}

/** optax.scale_by_param_block_rms: each leaf times max(rms(param), minScale). */
export function paramBlockRmsStage(minScale = 1e-3): Stage {
  return leafwise((u, i, step) => np.multiply(u, np.maximum(rms(leafAt(paramsOf(step), i)), minScale)), {
    needsParams: "multiplyByParameterScale",
  });
}

/** Options of `adafactor`, as optax.adafactor's. */
export interface AdafactorOptions {
  /** A learning rate or schedule; none (the default) leaves the step relative to the parameter scale. */
  learningRate?: LearningRate | null;
  /** Factor the second moment only for leaves with two axes at least this long (default 128). */
  minDimSizeToFactor?: number;
  /** The second-moment decay exponent: decay_t = 1 - t^-decayRate (default 0.8). */
  decayRate?: number;
  /** Step offset of that schedule, for fine-tuning (default 0). */
  decayOffset?: number;
  /** Multiply the updates by each parameter's root mean square (at least 1e-3; default true). */
  multiplyByParameterScale?: boolean;
  /** Clip each leaf's update to this root mean square; null for no clipping (default 1). */
  clippingThreshold?: number | null;
  /** Decay of an exponential moving average of the updates; null for none (default null). */
  momentum?: number | null;
  /** Weight decay added after the scaling (not multiplied by the learning rate); null for none. */
  weightDecayRate?: number | null;
  /** Added to the squared gradient (default 1e-30). */
  eps?: number;
  /** Use factored second moments at all (default true). */
  factored?: boolean;
}

/** The state of `adafactor`. */
export interface AdafactorState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: HyperparamRecord<string>;
  /** Row means of the squared gradient for factored leaves ([1] zeros for the others). */
  vRow: unknown;
  /** Column means of the squared gradient for factored leaves ([1] zeros for the others). */
  vCol: unknown;
  /** The full second moment for unfactored leaves ([1] zeros for the factored ones). */
  v: unknown;
  /** The moving average of the updates, with momentum (else null). */
  ema: unknown;
}

/**
 * optax.adafactor (Shazeer and Stern 2018): `chain(scaleByFactoredRms, clipByBlockRms(clippingThreshold),
 * scaleByLearningRate(learningRate, flipSign false), scaleByParamBlockRms, ema(momentum),
 * addDecayedWeights(weightDecayRate), scale(-1))`, each part present as optax includes it.
 */
export function adafactor(options: AdafactorOptions = {}): GradientTransformation<AdafactorState> {
  const who = "adafactor";
  checkOptions(
    who,
    options,
    optionKeys<AdafactorOptions>({
      learningRate: true,
      minDimSizeToFactor: true,
      decayRate: true,
      decayOffset: true,
      multiplyByParameterScale: true,
      clippingThreshold: true,
      momentum: true,
      weightDecayRate: true,
      eps: true,
      factored: true,
    }),
  );
  const learningRate = checkOptionalLearningRate(who, options.learningRate);
  const minDimSizeToFactor = checkHyperparameter(
    who,
    "minDimSizeToFactor",
    options.minDimSizeToFactor ?? 128,
  );
  const decayRate = checkHyperparameter(who, "decayRate", options.decayRate ?? 0.8);
  const decayOffset = checkHyperparameter(who, "decayOffset", options.decayOffset ?? 0);
  const multiplyByParameterScale = options.multiplyByParameterScale ?? true;
  const clippingThreshold =
    options.clippingThreshold === null
      ? null
      : checkHyperparameter(who, "clippingThreshold", options.clippingThreshold ?? 1);
  const momentum =
    options.momentum === undefined || options.momentum === null
      ? null
      : checkHyperparameter(who, "momentum", options.momentum, { min: 0, below: 1 });
  const weightDecayRate =
    options.weightDecayRate === undefined || options.weightDecayRate === null
      ? null
      : checkHyperparameter(who, "weightDecayRate", options.weightDecayRate);
  const eps = checkHyperparameter(who, "eps", options.eps ?? 1e-30);
  const factored = options.factored ?? true;
  const stages: Stage[] = [factoredRmsStage({ factored, decayRate, decayOffset, minDimSizeToFactor, eps })];
  if (clippingThreshold !== null) stages.push(blockRmsClipStage(clippingThreshold));
  if (learningRate !== null) stages.push(learningRateStage(learningRate, undefined, false));
  if (multiplyByParameterScale) stages.push(paramBlockRmsStage());
  stages.push(
    momentum !== null ? emaStage(momentum, false) : { ...leafwise((u) => u), fields: { ema: false } },
  );
  if (weightDecayRate !== null) stages.push(weightDecayStage(weightDecayRate, "weightDecayRate"));
  stages.push(scaleStage(-1));
  // The record leaves out the parts this configuration does not have.
  const record: Record<string, LearningRate | number | boolean> = {
    minDimSizeToFactor,
    decayRate,
    decayOffset,
  };
  if (learningRate !== null) record["learningRate"] = learningRate;
  Object.assign(record, { multiplyByParameterScale, eps, factored });
  if (clippingThreshold !== null) record["clippingThreshold"] = clippingThreshold;
  if (momentum !== null) record["momentum"] = momentum;
  if (weightDecayRate !== null) record["weightDecayRate"] = weightDecayRate;
  return chainStages(who, stages, recordHyperparams(record));
}
