/**
 * Composable gradient transformations in optax's style (chain, identity, scale, scaleByLearningRate,
 * clip, clipByGlobalNorm, addWeightDecay) and `applyUpdates`. Stateless ones keep `null` as their state.
 */
import type { NdArray } from "../core/array.js";
import * as np from "../np.js";
import { map, unflatten } from "../tree/index.js";
import {
  arrayLeaves,
  checkArrayLeaves,
  checkHyperparameter,
  checkLearningRate,
  checkLikeReference,
  checkUpdateArgs,
  type GradientTransformation,
  learningRateAt,
  negate,
  nextCount,
  paramLeaves,
  scaleLeaf,
  zeroCount,
} from "./common.js";
import type { LearningRate } from "./schedules.js";

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
    update(grads, state, params) {
      checkUpdateArgs("chain.update", grads, state, [], "chain(...).init(params)");
      if (!Array.isArray(state) || state.length !== transforms.length) {
        throw new TypeError(
          `chain.update: expected a state list of ${transforms.length} entries (from chain.init)`,
        );
      }
      let updates = grads;
      const next = transforms.map((t, i) => {
        const [u, s] = t.update(updates, state[i], params);
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

/** Multiplies the updates by a constant. */
export function scale(factor: number): GradientTransformation<null> {
  const f = checkHyperparameter("scale", "factor", factor, {});
  return {
    init: () => null,
    update(grads) {
      checkUpdateArgs("scale.update", grads, null, [], "");
      checkArrayLeaves("scale.update", grads);
      return [mapLeaves(grads, (g) => np.multiply(g, f)), null];
    },
  };
}

/** The state of transformations that only count updates (e.g. `scaleByLearningRate`, for its schedule). */
export interface CountState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
}

/** Multiplies the updates by -lr (a number or a schedule of the step count): the descent step. */
export function scaleByLearningRate(lr: LearningRate): GradientTransformation<CountState> {
  const rate = checkLearningRate("scaleByLearningRate", lr);
  return {
    init: () => ({ count: zeroCount() }),
    update(grads, state) {
      const at = "scaleByLearningRate.update";
      checkUpdateArgs(at, grads, state, ["count"], "scaleByLearningRate(lr).init(params)");
      checkArrayLeaves(at, grads);
      const negLr = negate(learningRateAt("scaleByLearningRate.update", rate, state.count));
      return [mapLeaves(grads, (g) => scaleLeaf(g, negLr)), { count: nextCount(state.count) }];
    },
  };
}

/** Clips every update element to [-maxDelta, maxDelta] (optax.clip). */
export function clip(maxDelta: number): GradientTransformation<null> {
  const bound = checkHyperparameter("clip", "maxDelta", maxDelta);
  return {
    init: () => null,
    update(grads) {
      checkUpdateArgs("clip.update", grads, null, [], "");
      checkArrayLeaves("clip.update", grads);
      return [mapLeaves(grads, (g) => np.clip(g, -bound, bound)), null];
    },
  };
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

/** Adds weightDecay * params to the updates (optax.add_decayed_weights): L2 regularization. */
export function addWeightDecay(weightDecay: number): GradientTransformation<null> {
  const decay = checkHyperparameter("addWeightDecay", "weightDecay", weightDecay);
  return {
    init: () => null,
    update(grads, _state, params) {
      checkUpdateArgs("addWeightDecay.update", grads, null, [], "");
      const p = paramLeaves("addWeightDecay.update", grads, params, "weight decay");
      return [mapLeaves(grads, (g, i) => np.add(g, np.multiply(p[i]!, decay))), null];
    },
  };
}
