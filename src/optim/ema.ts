/**
 * Exponential moving averages: `ema(decay, { debias })`, optax's transformation that replaces the
 * updates by their moving average, and `emaParams(decay)`, a moving average of the parameters
 * themselves (the "EMA model" evaluated in place of the trained one, as timm's ModelEmaV2 and flax
 * recipes keep), updated after each optimizer step.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import * as np from "../np.js";
import { flatten, unflatten } from "../tree/index.js";
import {
  checkArrayLeaves,
  checkHyperparameter,
  checkLikeReference,
  checkUpdateArgs,
  type GradientTransformation,
  nextCount,
  zeroCount,
} from "./common.js";
import { stepNumber } from "./scale-by.js";
import { isSchedule, type Schedule } from "./schedules.js";
import { buffer, chainStages, leafAt, type Stage, zerosFor } from "./stage.js";

/**
 * The stage of `ema`: ema = (1 - decay) u + decay ema (optax's order), starting at zero; the updates
 * become ema, divided by 1 - decay^t (t = count + 1) with `debias`.
 */
export function emaStage(decay: number, debias: boolean): Stage {
  return {
    fields: { ema: true },
    needsParams: null,
    usesCount: true,
    init: (params) => ({ ema: zerosFor(params) }),
    update(updates, buffers, step) {
      const ema = buffer(buffers, "ema");
      const next = updates.map((u, i) =>
        np.add(np.multiply(u, 1 - decay), np.multiply(leafAt(ema, i), decay)),
      );
      if (!debias) return [next, { ema: next }];
      const correction = np.subtract(1, np.power(decay, stepNumber(step.count)));
      return [next.map((m) => np.divide(m, np.astype(correction, m.dtype))), { ema: next }];
    },
  };
}

/** Options of `ema`. */
export interface EmaOptions {
  /** Divide by 1 - decay^t so that early averages are not biased towards zero (default true, as optax). */
  debias?: boolean;
}

/** The state of `ema`. */
export interface EmaState {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The moving average of the updates (not debiased). */
  ema: unknown;
}

/**
 * optax.ema: the updates become their exponential moving average, ema = (1 - decay) u + decay ema
 * (starting at zero), divided by 1 - decay^t with `debias` (the default). Momentum as a transformation.
 */
export function ema(decay: number, options: EmaOptions = {}): GradientTransformation<EmaState> {
  const who = "ema";
  checkOptions(who, options, optionKeys<EmaOptions>({ debias: true }));
  const d = checkHyperparameter(who, "decay", decay, { min: 0, below: 1 });
  const debias = options.debias ?? true;
  if (typeof debias !== "boolean")
    throw new TypeError(`${who}: debias must be a boolean, got ${typeof debias}`);
  return chainStages(who, [emaStage(d, debias)]);
}

/** The state of `emaParams`: the averaged parameters and how many updates made them. */
export interface EmaParamsState<T = unknown> {
  /** Updates done so far (int32 scalar). */
  count: NdArray;
  /** The averaged parameters, with the params' structure: evaluate the model with these. */
  ema: T;
}

/** A moving average of the parameters: `init(params)`, then `update(params, state)` after every step. */
export interface EmaParams {
  /** The average starts at (a copy of) the params. */
  init<T>(params: T): EmaParamsState<T>;
  /** ema = (1 - decay) params + decay ema, with decay at this update's count when it is a schedule. */
  update<T>(params: T, state: EmaParamsState<T>): EmaParamsState<T>;
}

/**
 * An exponential moving average of the parameters (the EMA model of timm's ModelEmaV2 and of flax
 * recipes): it starts at the params and follows them as ema = (1 - decay) params + decay ema after each
 * optimizer step. `decay` is a number in [0, 1) or a `Schedule` of the update count (e.g. a warmup
 * `schedules.makeSchedule((m, t) => m.minimum(0.999, m.divide(m.add(t, 1), m.add(t, 10))))`). Both
 * functions are pure and trace under jit:
 *
 * ```ts
 * const avg = optim.emaParams(0.999);
 * let emaState = avg.init(params);
 * // in the training step, after applyUpdates:
 * emaState = avg.update(params, emaState);   // evaluate with emaState.ema
 * ```
 */
export function emaParams(decay: number | Schedule): EmaParams {
  const who = "emaParams";
  if (typeof decay === "function" && !isSchedule(decay)) {
    throw new TypeError(
      `${who}: decay must be a number or a Schedule (optim.schedules), not a plain function, so that it traces`,
    );
  }
  const fixed =
    typeof decay === "function" ? null : checkHyperparameter(who, "decay", decay, { min: 0, below: 1 });
  return {
    init(params) {
      checkArrayLeaves(`${who}.init`, params, "param");
      const [leaves, def] = flatten<NdArray>(params);
      // A copy, so that donating the params to a jitted step does not free the average's buffers.
      return {
        count: zeroCount(),
        ema: unflatten(
          def,
          leaves.map((p) => np.multiply(p, 1)),
        ),
      };
    },
    update(params, state) {
      const at = `${who}.update`;
      checkUpdateArgs(at, params, state, ["count", "ema"], `${who}(...).init(params)`);
      checkLikeReference(at, params, state.ema, "average", "param");
      const d = fixed ?? (decay as Schedule).onArray(state.count);
      const [leaves, def] = flatten<NdArray>(params);
      const [averages] = flatten<NdArray>(state.ema);
      const next = leaves.map((p, i) => {
        const a = averages[i]!;
        if (typeof d === "number") return np.add(np.multiply(p, 1 - d), np.multiply(a, d));
        const w = np.astype(d, p.dtype);
        return np.add(np.multiply(p, np.subtract(1, w)), np.multiply(a, w));
      });
      return { count: nextCount(state.count), ema: unflatten(def, next) };
    },
  };
}
