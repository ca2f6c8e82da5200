/**
 * Gradient accumulation (optax.MultiSteps): the inner optimizer steps once every k calls, on the mean
 * of the k gradients; the other calls return zero updates. Written with `where` over the state's leaves,
 * as optax does, so one jitted training step serves every call.
 */
import type { NdArray } from "../core/array.js";
import * as np from "../np.js";
import { map } from "../tree/index.js";
import {
  checkArrayLeaves,
  checkLikeReference,
  checkUpdateArgs,
  type GradientTransformation,
  nextCount,
  zeroCount,
} from "./common.js";

/** The state of `multiSteps` (optax.MultiStepsState's fields, camelCased). */
export interface MultiStepsState<S = unknown> {
  /** Calls since the inner optimizer last stepped, in [0, k) (int32 scalar). */
  miniStep: NdArray;
  /** How many times the inner optimizer has stepped (int32 scalar). */
  gradientStep: NdArray;
  /** The inner optimizer's state. */
  innerOptState: S;
  /** The running mean of the gradients since the last inner step (zeros right after it). */
  accGrads: unknown;
}

/** `multiSteps`' transformation, with optax's `has_updated`. */
export interface MultiSteps<S = unknown> extends GradientTransformation<MultiStepsState<S>> {
  /** Whether the last update stepped the inner optimizer (a bool scalar): miniStep 0 after some step. */
  hasUpdated(state: MultiStepsState<S>): NdArray;
}

/**
 * optax.MultiSteps(inner, every_k_schedule=k): each call adds the gradients to a running mean,
 * acc = acc + (g - acc) / (miniStep + 1); on every k-th call the inner optimizer updates with that mean
 * (and the params), its updates are returned and the mean restarts at zero; on the other calls the
 * updates are zeros and the inner state is unchanged. With a mean loss per micro-batch, k calls on k
 * micro-batches step as one call on their union would.
 */
export function multiSteps<S>(inner: GradientTransformation<S>, everyKSteps: number): MultiSteps<S> {
  const who = "multiSteps";
  if (typeof inner?.init !== "function" || typeof inner.update !== "function")
    throw new TypeError(`${who}: the inner optimizer must be a gradient transformation ({ init, update })`);
  if (!Number.isInteger(everyKSteps) || everyKSteps < 1)
    throw new RangeError(`${who}: everyKSteps must be a positive integer, got ${String(everyKSteps)}`);
  const k = everyKSteps;
  return {
    init(params) {
      checkArrayLeaves(`${who}.init`, params, "param");
      return {
        miniStep: zeroCount(),
        gradientStep: zeroCount(),
        innerOptState: inner.init(params),
        accGrads: map((p: NdArray) => np.zerosLike(p), params),
      };
    },
    update(grads, state, params, extras) {
      const at = `${who}.update`;
      checkUpdateArgs(
        at,
        grads,
        state,
        ["miniStep", "gradientStep", "innerOptState", "accGrads"],
        `${who}(...).init(params)`,
      );
      checkLikeReference(at, grads, state.accGrads, "accumulated gradients");
      const seen = np.add(state.miniStep, 1);
      const acc = map(
        (g: NdArray, a: NdArray) => np.add(a, np.divide(np.subtract(g, a), np.astype(seen, g.dtype))),
        grads,
        state.accGrads,
      );
      const [innerUpdates, innerNext] = inner.update(acc, state.innerOptState, params, extras);
      const emit = np.equal(state.miniStep, k - 1);
      const pick = <T>(a: T, b: T): T => map((x: NdArray, y: NdArray) => np.where(emit, x, y), a, b);
      const zeros = (t: unknown) => map((x: NdArray) => np.zerosLike(x), t);
      return [
        pick(innerUpdates, zeros(innerUpdates)) as typeof grads,
        {
          miniStep: np.where(emit, zeroCount(), seen),
          gradientStep: np.where(emit, nextCount(state.gradientStep), state.gradientStep),
          innerOptState: pick(innerNext, state.innerOptState),
          accGrads: pick(zeros(acc), acc),
        },
      ];
    },
    hasUpdated: (state) => np.logicalAnd(np.equal(state.miniStep, 0), np.greater(state.gradientStep, 0)),
  };
}
