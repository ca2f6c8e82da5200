/**
 * Composable gradient transformations in optax's style and `applyUpdates`: `chain`, `identity`, `scale`,
 * `clip`, `clipByGlobalNorm`, and the stage-built atoms every optimizer is made of — `addWeightDecay`,
 * `trace`, `scaleByLearningRate`, `addDecoupledWeightDecay` here, the gradient statistics
 * (`scaleByAdam`, …) in scale-by.ts. Each atom is a `Stage` factory (for optimizers, which chain stages
 * into one flat state) and a public transformation (the stage alone). Stateless ones keep `null` as their
 * state; the others `{ count, ...buffers }`.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import * as np from "../np.js";
import { map, unflatten } from "../tree/index.js";
import {
  arrayLeaves,
  checkArrayHyperparameter,
  checkArrayLeaves,
  checkHyperparameter,
  checkLearningRate,
  checkLikeReference,
  checkUpdateArgs,
  type GradientTransformation,
  learningRateAt,
  multiplyScalars,
  negate,
  scaleLeaf,
} from "./common.js";
import { type LeafMask, leafMask, leafSelector, type Mask } from "./mask.js";
import type { LearningRate } from "./schedules.js";
import {
  type Buffers,
  buffer,
  chainStages,
  leafAt,
  leafwise,
  paramsOf,
  type Stage,
  zerosFor,
} from "./stage.js";

/**
 * `params + updates`, leaf by leaf. The updates must have exactly the params' structure, shapes and
 * dtypes (a ShapeError names the first path that differs): a broadcast or a cast here would silently
 * change the parameters' shapes or precision.
 */
export function applyUpdates<T>(params: T, updates: T): T {
  const who = "optim.applyUpdates";
  if (updates === undefined)
    throw new TypeError(`${who}: the updates are missing: call applyUpdates(params, updates)`);
  checkArrayLeaves(who, params, "param");
  checkLikeReference(who, updates, params, "param", "update");
  return map((p: NdArray, u: NdArray) => np.add(p, u), params, updates);
}

/** Leaves of `tree` mapped by `f`, rebuilt with the same structure. */
function mapLeaves<T>(tree: T, f: (leaf: NdArray, i: number) => NdArray): T {
  const [leaves, def] = arrayLeaves(tree);
  return unflatten<T>(def, leaves.map(f));
}

/**
 * Applies transformations in order, each to the previous one's updates (optax.chain). The state is the
 * list of the transformations' states.
 */
export function chain(...transforms: GradientTransformation[]): GradientTransformation<unknown[]> {
  return {
    init: (params) => transforms.map((t) => t.init(params)),
    update(grads, state, params, extras) {
      checkUpdateArgs("chain.update", grads, state, [], "chain(...).init(params)");
      if (!Array.isArray(state) || state.length !== transforms.length) {
        throw new TypeError(
          `chain.update: expected a state list of ${transforms.length} entries (from chain.init)`,
        );
      }
      let updates = grads;
      const next = transforms.map((t, i) => {
        const [u, s] = t.update(updates, state[i], params, extras);
        updates = u;
        return s;
      });
      return [updates, next];
    },
  };
}

/** Leaves the updates unchanged. */
export function identity(): GradientTransformation<null> {
  return {
    init: () => null,
    update(grads) {
      checkUpdateArgs("identity.update", grads, null, [], "identity().init(params)");
      return [grads, null];
    },
  };
}

/** The stage of `scale`. */
export function scaleStage(factor: number): Stage {
  return leafwise((u) => np.multiply(u, factor));
}

/** Multiplies the updates by a constant. */
export function scale(factor: number): GradientTransformation<null> {
  return chainStages("scale", [scaleStage(checkHyperparameter("scale", "factor", factor, {}))]);
}

/** The state of transformations that only count updates (e.g. `scaleByLearningRate`, for its schedule). */
export interface CountState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
}

/**
 * How an optimizer turns its learning rate at a step into the factor its updates are multiplied by
 * (before the sign flip): torch folds bias corrections and decays into this scalar (Adam's
 * `lr / (1 - beta1^t)`), and doing the same here keeps its rounding.
 */
export type StepSize = (rate: number | NdArray, count: NdArray) => number | NdArray;

/**
 * The stage of `scaleByLearningRate`: updates times -stepSize(lr at this step), or times +stepSize with
 * `flipSign` false (optax's flip_sign, for chains that negate at their end).
 */
export function learningRateStage(lr: LearningRate, stepSize?: StepSize, flipSign = true): Stage {
  return {
    fields: {},
    needsParams: null,
    usesCount: true,
    init: () => ({}),
    update(updates, _buffers, step) {
      const rate = learningRateAt(step.at, lr, step.count);
      const size = stepSize === undefined ? rate : stepSize(rate, step.count);
      const factor = flipSign ? negate(size) : size;
      return [updates.map((u) => scaleLeaf(u, factor)), {}];
    },
  };
}

/** Multiplies the updates by -lr (a number or a schedule of the step count): the descent step. */
export function scaleByLearningRate(lr: LearningRate): GradientTransformation<CountState> {
  return chainStages("scaleByLearningRate", [
    learningRateStage(checkLearningRate("scaleByLearningRate", lr)),
  ]);
}

/** Clips every update element to [-maxDelta, maxDelta] (optax.clip). */
export function clip(maxDelta: number): GradientTransformation<null> {
  const bound = checkHyperparameter("clip", "maxDelta", maxDelta);
  return chainStages("clip", [leafwise((u) => np.clip(u, -bound, bound))]);
}

/**
 * Rescales the updates so that their global L2 norm (over all leaves) is at most maxNorm
 * (optax.clip_by_global_norm: u / norm * maxNorm when norm >= maxNorm).
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<null> {
  const bound = checkHyperparameter("clipByGlobalNorm", "maxNorm", maxNorm);
  return {
    init: () => null,
    update(grads) {
      checkUpdateArgs("clipByGlobalNorm.update", grads, null, [], "");
      checkArrayLeaves("clipByGlobalNorm.update", grads);
      const [leaves] = arrayLeaves(grads);
      if (leaves.length === 0) return [grads, null];
      // The sum of squares accumulates in float64 so float32 trees do not lose the small leaves.
      const squares = leaves.map((g) => np.astype(np.sum(np.multiply(g, g)), "float64"));
      const norm = np.sqrt(squares.reduce((a, b) => np.add(a, b)));
      const small = np.less(norm, bound);
      return [
        mapLeaves(grads, (g) => {
          const n = np.astype(norm, g.dtype);
          return np.where(small, g, np.multiply(np.divide(g, n), bound));
        }),
        null,
      ];
    },
  };
}

/**
 * The stage of `addWeightDecay`: updates + weightDecay * params (torch's L2 penalty on the gradient), on the
 * leaves `mask` selects (all by default; see `masked`). `option` names the hyperparameter in the error when
 * the params are missing; a weight decay of 0 (the number) leaves the updates alone.
 */
export function weightDecayStage(
  weightDecay: number | NdArray,
  option = "weightDecay",
  mask?: LeafMask,
): Stage {
  if (weightDecay === 0) return leafwise((u) => u);
  const decays = leafSelector(mask);
  return leafwise(
    (u, i, step) => (decays(step, i) ? np.add(u, scaleLeaf(leafAt(paramsOf(step), i), weightDecay)) : u),
    { needsParams: option },
  );
}

/** Adds weightDecay * params to the updates (optax.add_decayed_weights): L2 regularization. */
export function addWeightDecay(weightDecay: number): GradientTransformation<null> {
  const decay = checkHyperparameter("addWeightDecay", "weightDecay", weightDecay);
  return chainStages("addWeightDecay", [weightDecayStage(decay, "weight decay")]);
}

/** Options of `addDecayedWeights`. */
export interface AddDecayedWeightsOptions {
  /**
   * Which parameters are decayed: a tree of booleans shaped like the params (or a prefix of them: a
   * boolean for a whole subtree), or a function of the params returning one (see `decayMask`). Default:
   * all of them.
   */
  mask?: Mask;
}

/**
 * optax.add_decayed_weights: adds weightDecay * params to the updates of the parameters `mask` selects
 * (the others pass through). Before the learning rate in a chain this is L2 regularization; after an
 * Adam-type scaling and before `scaleByLearningRate` it is AdamW's decoupled decay, optax's way.
 */
export function addDecayedWeights(
  weightDecay: number | NdArray,
  options: AddDecayedWeightsOptions = {},
): GradientTransformation<null> {
  const who = "addDecayedWeights";
  checkOptions(who, options, optionKeys<AddDecayedWeightsOptions>({ mask: true }));
  const decay = checkArrayHyperparameter(who, "weightDecay", weightDecay);
  const mask = options.mask === undefined ? undefined : leafMask(who, options.mask);
  return chainStages(who, [weightDecayStage(decay, "weightDecay", mask)]);
}

/**
 * The stage of `addDecoupledWeightDecay`: updates - lr * weightDecay * params, after the learning-rate
 * step (AdamW's decay, `p *= 1 - lr * weightDecay`, as an update), on the leaves `mask` selects.
 */
export function decoupledWeightDecayStage(
  lr: LearningRate,
  weightDecay: number | NdArray,
  mask?: LeafMask,
): Stage {
  if (weightDecay === 0) return leafwise((u) => u);
  const decays = leafSelector(mask);
  return {
    fields: {},
    needsParams: "weightDecay",
    usesCount: true,
    init: () => ({}),
    update(updates, _buffers, step) {
      const rate = learningRateAt(step.at, lr, step.count);
      const factor = negate(multiplyScalars(rate, weightDecay));
      const params = paramsOf(step);
      return [
        updates.map((u, i) => (decays(step, i) ? np.add(scaleLeaf(leafAt(params, i), factor), u) : u)),
        {},
      ];
    },
  };
}

/** Options of `addDecoupledWeightDecay`. */
export interface DecoupledWeightDecayOptions {
  /** The learning rate the decay is scaled by, or a schedule of the step count. */
  lr: LearningRate;
  /** The decay coefficient (a number, or a float scalar array). */
  weightDecay: number | NdArray;
  /** Which parameters are decayed (a boolean tree or a function of the params, as `addDecayedWeights`). */
  mask?: Mask;
}

/**
 * Adds -lr * weightDecay * params to updates that already carry the learning rate (torch's decoupled
 * weight decay, AdamW's `p *= 1 - lr * weightDecay`); goes after `scaleByLearningRate` in a chain.
 */
export function addDecoupledWeightDecay(
  options: DecoupledWeightDecayOptions,
): GradientTransformation<CountState> {
  const who = "addDecoupledWeightDecay";
  checkOptions(
    who,
    options,
    optionKeys<DecoupledWeightDecayOptions>({ lr: true, weightDecay: true, mask: true }),
  );
  const lr = checkLearningRate(who, options.lr);
  const weightDecay = checkArrayHyperparameter(who, "weightDecay", options.weightDecay);
  const mask = options.mask === undefined ? undefined : leafMask(who, options.mask);
  return chainStages(who, [decoupledWeightDecayStage(lr, weightDecay, mask)]);
}

/** Options of `trace`, as torch.optim.SGD's momentum options. */
export interface TraceOptions {
  /** Momentum factor (0 leaves the updates alone and keeps no buffer). */
  momentum: number;
  /** Dampening of the new update's term (default 0). */
  dampening?: number;
  /** Nesterov momentum: the step is u + momentum * buf (default false). */
  nesterov?: boolean;
}

/**
 * The stage of `trace`, torch's momentum buffer (`momentumBuffer`): buf = momentum * buf +
 * (1 - dampening) * u, the step is buf (u + momentum * buf with nesterov). `copyFirst` is torch.optim.SGD's
 * first step, buf = u (no dampening); without it the buffer starts at zero, as RMSprop's.
 */
export function traceStage(
  momentum: number,
  options: { dampening?: number; nesterov?: boolean; copyFirst: boolean },
): Stage {
  const { dampening = 0, nesterov = false, copyFirst } = options;
  if (momentum === 0) {
    return { ...leafwise((u) => u), fields: { momentumBuffer: false } };
  }
  return {
    fields: { momentumBuffer: true },
    needsParams: null,
    usesCount: copyFirst,
    init: (params) => ({ momentumBuffer: zerosFor(params) }),
    update(updates, buffers: Buffers, step) {
      const previous = buffer(buffers, "momentumBuffer");
      const first = copyFirst ? np.equal(step.count, 0) : null;
      const next: NdArray[] = [];
      const out = updates.map((u, i) => {
        const decayed = np.multiply(leafAt(previous, i), momentum);
        const added = np.add(decayed, dampening === 0 ? u : np.multiply(u, 1 - dampening));
        const buf = first === null ? added : np.where(first, u, added);
        next.push(buf);
        return nesterov ? np.add(u, np.multiply(buf, momentum)) : buf;
      });
      return [out, { momentumBuffer: next }];
    },
  };
}

/** The state of `trace`. */
export interface TraceState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** torch's momentum_buffer per parameter (null with momentum 0). */
  momentumBuffer: unknown;
}

/**
 * torch.optim.SGD's momentum as an atom: buf = u at the first step, then momentum * buf +
 * (1 - dampening) * u; the updates become buf (or u + momentum * buf with nesterov).
 */
export function trace(options: TraceOptions): GradientTransformation<TraceState> {
  const who = "trace";
  checkOptions(who, options, optionKeys<TraceOptions>({ momentum: true, dampening: true, nesterov: true }));
  const momentum = checkHyperparameter(who, "momentum", options.momentum);
  const dampening = checkHyperparameter(who, "dampening", options.dampening ?? 0);
  const nesterov = options.nesterov ?? false;
  checkNesterov(who, nesterov, momentum, dampening);
  return chainStages(who, [traceStage(momentum, { dampening, nesterov, copyFirst: true })]);
}

/** torch's rule: nesterov momentum needs momentum > 0 and no dampening. */
export function checkNesterov(who: string, nesterov: boolean, momentum: number, dampening: number): void {
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new RangeError(
      `${who}: nesterov requires momentum > 0 and dampening = 0, got momentum ${momentum}, dampening ${dampening}`,
    );
  }
}
