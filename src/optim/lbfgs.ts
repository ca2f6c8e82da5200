/**
 * optax's L-BFGS preconditioner (optax.scale_by_lbfgs) and `lbfgs` without a line search: the memory of
 * the last `memorySize` parameter and gradient differences, in optax's state layout (stacked [m, ...]
 * leaves, a ring buffer indexed by the step count), and the two-loop recursion of Nocedal and Wright's
 * Algorithm 7.4, in array ops only (traceable).
 */
import type { NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import * as np from "../np.js";
import {
  checkHyperparameter,
  checkOptionalLearningRate,
  type GradientTransformation,
  type HyperparamRecord,
  recordHyperparams,
} from "./common.js";
import { scaleByZoomLinesearch } from "./linesearch.js";
import type { LearningRate } from "./schedules.js";
import { buffer, chainStages, leafAt, paramsOf, type Stage, zerosFor } from "./stage.js";
import { learningRateStage, scaleStage } from "./transforms.js";

/** The inner product of two aligned lists of leaves, in float64. */
function vdot(a: readonly NdArray[], b: readonly NdArray[]): NdArray {
  return a
    .map((x, i) => np.astype(np.sum(np.multiply(x, leafAt(b, i))), "float64"))
    .reduce((s, x) => np.add(s, x), np.scalar(0, "float64"));
}

/** `x + factor * y` leaf by leaf, the float64 scalar factor cast to each leaf's dtype. */
function addScaled(x: readonly NdArray[], factor: NdArray, y: readonly NdArray[]): NdArray[] {
  return x.map((v, i) => np.add(v, np.multiply(leafAt(y, i), np.astype(factor, v.dtype))));
}

/** Row `index` (an int32 scalar array, maybe traced) of each stacked leaf. */
const row = (stacked: readonly NdArray[], index: NdArray): NdArray[] =>
  stacked.map((s) => np.take(s, index, { axis: 0 }));

/**
 * optax.scale_by_lbfgs: records s = params - previous params and y = updates - previous updates (with
 * rho = 1 / <y, s>, 0 when that is 0; nothing at the first step) in the ring buffer, then returns
 * P u for the L-BFGS inverse-Hessian estimate P, its initial scale gamma = <y, s> / <y, y> (at the first
 * step min(1, 1 / ||u||)) with `scaleInitPrecond`, else 1.
 */
export function lbfgsStage(options: { memorySize: number; scaleInitPrecond: boolean }): Stage {
  const { memorySize: m, scaleInitPrecond } = options;
  const slots = np.arange(m, undefined, 1, { dtype: "int32" });
  return {
    fields: {
      params: true,
      updates: true,
      diffParamsMemory: "tree",
      diffUpdatesMemory: "tree",
      weightsMemory: "single",
    },
    needsParams: "the memory of parameter differences",
    usesCount: true,
    init: (params) => {
      const stacked = params.map((p) => np.zeros([m, ...p.shape], { dtype: p.dtype }));
      return {
        params: zerosFor(params),
        updates: zerosFor(params),
        diffParamsMemory: stacked,
        diffUpdatesMemory: stacked,
        weightsMemory: [np.zeros([m], { dtype: "float64" })],
      };
    },
    update(updates, buffers, step) {
      const params = paramsOf(step);
      const count = step.count;
      const started = np.greater(count, 0);
      const memoryIndex = np.mod(count, m);
      const previousIndex = np.mod(np.subtract(count, 1), m);
      // 1. The newest pair (s, y) and its weight, into the slot of step k - 1.
      const keepIfStarted = (x: NdArray): NdArray => np.where(started, x, np.zerosLike(x));
      const s = params.map((p, i) => keepIfStarted(np.subtract(p, leafAt(buffer(buffers, "params"), i))));
      const y = updates.map((u, i) => keepIfStarted(np.subtract(u, leafAt(buffer(buffers, "updates"), i))));
      const sy = vdot(y, s);
      const weight = keepIfStarted(np.where(np.equal(sy, 0), np.zerosLike(sy), np.divide(1, sy)));
      const write = (stacked: NdArray, fresh: NdArray): NdArray => {
        const at = np.reshape(np.equal(slots, previousIndex), [m, ...fresh.shape.map(() => 1)]);
        return np.where(at, np.expandDims(fresh, 0), stacked);
      };
      const dParams = buffer(buffers, "diffParamsMemory").map((x, i) => write(x, leafAt(s, i)));
      const dUpdates = buffer(buffers, "diffUpdatesMemory").map((x, i) => write(x, leafAt(y, i)));
      const rhos = write(leafAt(buffer(buffers, "weightsMemory"), 0), weight);
      // 2. The scale of the initial estimate.
      let gamma: NdArray = np.scalar(1, "float64");
      if (scaleInitPrecond) {
        const yy = vdot(y, y);
        const ratio = np.where(np.greater(yy, 0), np.divide(sy, yy), np.ones([], { dtype: "float64" }));
        const cappedInverseNorm = np.minimum(np.divide(1, np.sqrt(vdot(updates, updates))), 1);
        gamma = np.where(started, ratio, cappedInverseNorm);
      }
      // 3. The two-loop recursion, newest to oldest and back, over slots k, k + 1, ..., k + m - 1 (mod m).
      const order = Array.from({ length: m }, (_, j) => np.mod(np.add(memoryIndex, j), m));
      let v: NdArray[] = [...updates];
      const alphas: NdArray[] = new Array<NdArray>(m);
      for (let j = m - 1; j >= 0; j--) {
        const index = leafAt(order, j);
        const alpha = np.multiply(np.take(rhos, index), vdot(row(dParams, index), v));
        alphas[j] = alpha;
        v = addScaled(v, np.negative(alpha), row(dUpdates, index));
      }
      v = v.map((x) => np.multiply(x, np.astype(gamma, x.dtype)));
      for (let j = 0; j < m; j++) {
        const index = leafAt(order, j);
        const beta = np.multiply(np.take(rhos, index), vdot(row(dUpdates, index), v));
        v = addScaled(v, np.subtract(leafAt(alphas, j), beta), row(dParams, index));
      }
      return [
        v,
        {
          params: [...params],
          updates: [...updates],
          diffParamsMemory: dParams,
          diffUpdatesMemory: dUpdates,
          weightsMemory: [rhos],
        },
      ];
    },
  };
}

/** Options of `lbfgs`, as optax.lbfgs's. */
export interface LbfgsOptions {
  /** A learning rate or schedule; none (the default) takes the step -P g, as optax's scale(-1). */
  learningRate?: LearningRate | null;
  /** The number of (s, y) pairs remembered (default 10). */
  memorySize?: number;
  /** Scale the initial inverse-Hessian estimate by <y, s> / <y, y> (default true). */
  scaleInitPrecond?: boolean;
  /**
   * The line search chained last, given `update`'s `{ value, grad, valueFn }`. Default: optax's,
   * `scaleByZoomLinesearch({ maxLinesearchSteps: 20, initialGuessStrategy: "one" })` (it runs eagerly,
   * not under `jit`); null for none (then the step is -learningRate * P g, optax's `linesearch=None`).
   */
  linesearch?: GradientTransformation | null;
}

/** The state of `lbfgs` (optax's ScaleByLBFGSState, with the hyperparameter record). */
export interface LbfgsState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The configuration, recorded so a checkpoint says what produced it (updates do not read it). */
  hyperparams: HyperparamRecord<string>;
  /** The params of the last update. */
  params: unknown;
  /** The gradients of the last update. */
  updates: unknown;
  /** Parameter differences s, each leaf stacked [memorySize, ...]. */
  diffParamsMemory: unknown;
  /** Gradient differences y, each leaf stacked [memorySize, ...]. */
  diffUpdatesMemory: unknown;
  /** rho = 1 / <y, s> per memory slot (float64 [memorySize]). */
  weightsMemory: NdArray;
  /** The line search's state (a `ZoomLinesearchState` for the default); absent with `linesearch: null`. */
  linesearch?: unknown;
}

/**
 * optax.lbfgs: `chain(scaleByLbfgs, scaleByLearningRate(learningRate) or scale(-1), linesearch)`. With
 * the default line search (optax's zoom line search, see `scaleByZoomLinesearch`) call
 * `update(grads, state, params, { value, grad, valueFn })` eagerly, outside `jit` (the search is a JS
 * loop, not yet written with `whileLoop`). With `linesearch: null` it is optax's
 * `lbfgs(linesearch=None)`, traceable: the step is -learningRate * P g (pass a small learningRate on
 * problems that are not near-quadratic).
 */
export function lbfgs(options: LbfgsOptions = {}): GradientTransformation<LbfgsState> {
  const who = "lbfgs";
  checkOptions(
    who,
    options,
    optionKeys<LbfgsOptions>({
      learningRate: true,
      memorySize: true,
      scaleInitPrecond: true,
      linesearch: true,
    }),
  );
  const learningRate = checkOptionalLearningRate(who, options.learningRate);
  const memorySize = checkHyperparameter(who, "memorySize", options.memorySize ?? 10, { min: 1 });
  if (!Number.isInteger(memorySize))
    throw new RangeError(`${who}: memorySize must be an integer >= 1, got ${memorySize}`);
  const scaleInitPrecond = options.scaleInitPrecond ?? true;
  const record: Record<string, LearningRate | number | boolean> = { memorySize, scaleInitPrecond };
  if (learningRate !== null) record["learningRate"] = learningRate;
  const preconditioned = chainStages<LbfgsState>(
    who,
    [
      lbfgsStage({ memorySize, scaleInitPrecond }),
      learningRate === null ? scaleStage(-1) : learningRateStage(learningRate),
    ],
    recordHyperparams(record),
  );
  const linesearch =
    options.linesearch === undefined
      ? scaleByZoomLinesearch({ maxLinesearchSteps: 20, initialGuessStrategy: "one" })
      : options.linesearch;
  if (linesearch === null) return preconditioned;
  if (typeof linesearch !== "object" || typeof linesearch.update !== "function")
    throw new TypeError(
      `${who}: linesearch must be a gradient transformation or null, got ${String(linesearch)}`,
    );
  return {
    init: (params) => ({ ...preconditioned.init(params), linesearch: linesearch.init(params) }),
    update(grads, state, params, extras) {
      if (state === undefined || state === null || !("linesearch" in state))
        throw new TypeError(
          `${who}.update: expected the state from ${who}(...).init(params) or the previous update`,
        );
      const { linesearch: searchState, ...rest } = state;
      const [direction, next] = preconditioned.update(grads, rest, params);
      const [updates, nextSearch] = linesearch.update(direction, searchState, params, extras);
      return [updates, { ...next, linesearch: nextSearch }];
    },
  };
}
