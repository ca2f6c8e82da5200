/**
 * Learning-rate schedules (optax's, with torch's StepLR as `stepDecay`). A schedule maps the number of
 * updates done so far (0 for the first update) to a value. Each is both a JS function of a number and,
 * through `onArray`, the same formula in array ops on the optimizer's int32 step count, so an optimizer
 * using it still traces under jit. JS and array forms compute in float64 with the same operations.
 * @module
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import * as np from "../np.js";

/** A learning-rate schedule: a function of the step count, with the same formula on arrays for tracing. */
export interface Schedule {
  /** The value at `step` (updates done before this one). */
  (step: number): number;
  /** The same value for an int32 scalar step count, as a float64 scalar array (traceable). */
  readonly onArray: (step: NdArray) => NdArray;
}

/** A learning rate: a number, a `Schedule`, or any JS function of the step (evaluated only when not tracing). */
export type LearningRate = number | Schedule | ((step: number) => number);

/** Whether `x` is a Schedule (a function with an `onArray` form), as opposed to a plain JS function. */
export function isSchedule(x: unknown): x is Schedule {
  return typeof x === "function" && typeof (x as { onArray?: unknown }).onArray === "function";
}

/** Builds a Schedule from its two forms. */
export function makeSchedule(
  onNumber: (step: number) => number,
  onArray: (step: NdArray) => NdArray,
): Schedule {
  return Object.assign((step: number) => onNumber(step), { onArray });
}

const asFloat = (step: NdArray): NdArray => np.astype(step, "float64");

function finite(who: string, name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`${who}: ${name} must be a finite number, got ${String(value)}`);
  }
  return value;
}

function positiveInteger(who: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new RangeError(`${who}: ${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInteger(who: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${who}: ${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/** The same value at every step. */
export function constant(value: number): Schedule {
  finite("schedules.constant", "value", value);
  return makeSchedule(
    () => value,
    () => np.scalar(value, "float64"),
  );
}

/** Options of `stepDecay`. */
export interface StepDecayOptions {
  /** The value at step 0. */
  init: number;
  /** Steps between decays. */
  stepSize: number;
  /** Multiplier at each decay. Default 0.1 (torch.optim.lr_scheduler.StepLR). */
  gamma?: number;
}

/** torch's StepLR: init * gamma^floor(step / stepSize). */
export function stepDecay(options: StepDecayOptions): Schedule {
  checkOptions("schedules.stepDecay", options, ["init", "stepSize", "gamma"]);
  const { init, stepSize, gamma = 0.1 } = options;
  const who = "schedules.stepDecay";
  finite(who, "init", init);
  finite(who, "gamma", gamma);
  positiveInteger(who, "stepSize", stepSize);
  return makeSchedule(
    (step) => init * gamma ** Math.floor(step / stepSize),
    (step) => np.multiply(np.power(gamma, np.floor(np.divide(asFloat(step), stepSize))), init),
  );
}

/** Options of `exponentialDecay`, as optax's exponential_decay. */
export interface ExponentialDecayOptions {
  /** The value at step 0. */
  init: number;
  /** The factor the value is multiplied by every `transitionSteps` steps. */
  decayRate: number;
  /** Steps over which the value is multiplied by `decayRate`. */
  transitionSteps: number;
  /** Steps before the decay starts. Default 0. */
  transitionBegin?: number;
  /** Decay in whole periods (a staircase) rather than continuously. Default false. */
  staircase?: boolean;
  /** A floor (for decayRate < 1) or ceiling (> 1) on the value. */
  endValue?: number;
}

/** optax's exponential_decay: init * decayRate^((step - begin) / transitionSteps), held at init before begin. */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const who = "schedules.exponentialDecay";
  checkOptions(who, options, [
    "init",
    "decayRate",
    "transitionSteps",
    "transitionBegin",
    "staircase",
    "endValue",
  ]);
  const { init, decayRate, transitionSteps, transitionBegin = 0, staircase = false, endValue } = options;
  finite(who, "init", init);
  finite(who, "decayRate", decayRate);
  positiveInteger(who, "transitionSteps", transitionSteps);
  nonNegativeInteger(who, "transitionBegin", transitionBegin);
  if (endValue !== undefined) finite(who, "endValue", endValue);
  const bound = (v: number): number =>
    endValue === undefined ? v : decayRate < 1 ? Math.max(v, endValue) : Math.min(v, endValue);
  const boundArray = (v: NdArray): NdArray =>
    endValue === undefined ? v : decayRate < 1 ? np.maximum(v, endValue) : np.minimum(v, endValue);
  return makeSchedule(
    (step) => {
      const elapsed = step - transitionBegin;
      if (elapsed <= 0) return init;
      const periods = staircase ? Math.floor(elapsed / transitionSteps) : elapsed / transitionSteps;
      return bound(init * decayRate ** periods);
    },
    (step) => {
      const elapsed = np.subtract(asFloat(step), transitionBegin);
      const ratio = np.divide(elapsed, transitionSteps);
      const periods = staircase ? np.floor(ratio) : ratio;
      const decayed = boundArray(np.multiply(np.power(decayRate, periods), init));
      return np.where(np.lessEqual(elapsed, 0), init, decayed);
    },
  );
}

/** Options of `cosineDecay`, as optax's cosine_decay_schedule. */
export interface CosineDecayOptions {
  /** The value at step 0. */
  init: number;
  /** Steps over which the value decays (constant afterwards). */
  decaySteps: number;
  /** The final value as a fraction of init. Default 0. */
  alpha?: number;
}

/** optax's cosine_decay_schedule: init * ((1 - alpha) * (1 + cos(pi * min(step, decaySteps) / decaySteps)) / 2 + alpha). */
export function cosineDecay(options: CosineDecayOptions): Schedule {
  checkOptions("schedules.cosineDecay", options, ["init", "decaySteps", "alpha"]);
  const { init, decaySteps, alpha = 0 } = options;
  const who = "schedules.cosineDecay";
  finite(who, "init", init);
  finite(who, "alpha", alpha);
  positiveInteger(who, "decaySteps", decaySteps);
  return makeSchedule(
    (step) => {
      const cosine = 0.5 * (1 + Math.cos((Math.PI * Math.min(step, decaySteps)) / decaySteps));
      return init * ((1 - alpha) * cosine + alpha);
    },
    (step) => {
      const progress = np.divide(np.multiply(np.minimum(asFloat(step), decaySteps), Math.PI), decaySteps);
      const cosine = np.multiply(np.add(np.cos(progress), 1), 0.5);
      return np.multiply(np.add(np.multiply(cosine, 1 - alpha), alpha), init);
    },
  );
}

/** Options of `linearSchedule`, as optax's linear_schedule. */
export interface LinearScheduleOptions {
  /** The value before the transition. */
  init: number;
  /** The value after it. */
  end: number;
  /** The length of the transition in steps. */
  transitionSteps: number;
  /** Steps before the transition starts. Default 0. */
  transitionBegin?: number;
}

/** optax's linear_schedule: from init to end over transitionSteps (after transitionBegin), then end. */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  checkOptions("schedules.linearSchedule", options, ["init", "end", "transitionSteps", "transitionBegin"]);
  const { init, end, transitionSteps, transitionBegin = 0 } = options;
  const who = "schedules.linearSchedule";
  finite(who, "init", init);
  finite(who, "end", end);
  positiveInteger(who, "transitionSteps", transitionSteps);
  nonNegativeInteger(who, "transitionBegin", transitionBegin);
  return makeSchedule(
    (step) => {
      const done = Math.min(Math.max(step - transitionBegin, 0), transitionSteps);
      return (init - end) * (1 - done / transitionSteps) + end;
    },
    (step) => {
      const done = np.clip(np.subtract(asFloat(step), transitionBegin), 0, transitionSteps);
      return np.add(np.multiply(np.subtract(1, np.divide(done, transitionSteps)), init - end), end);
    },
  );
}

/** Options of `linearWarmup`. */
export interface LinearWarmupOptions {
  /** Value at step 0. Default 0. */
  init?: number;
  /** The value reached at `warmupSteps` and kept after. */
  peak: number;
  /** The length of the warm-up in steps. */
  warmupSteps: number;
}

/** Linear warm-up from init to peak over warmupSteps, then constant at peak. */
export function linearWarmup(options: LinearWarmupOptions): Schedule {
  checkOptions("schedules.linearWarmup", options, ["init", "peak", "warmupSteps"]);
  const { init = 0, peak, warmupSteps } = options;
  return linearSchedule({ init, end: peak, transitionSteps: warmupSteps });
}

/** Options of `warmupCosineDecay`, as optax's warmup_cosine_decay_schedule. */
export interface WarmupCosineDecayOptions {
  /** Value at step 0. Default 0. */
  init?: number;
  /** The value reached at the end of the warm-up. */
  peak: number;
  /** The length of the warm-up in steps. */
  warmupSteps: number;
  /** Total steps including warm-up, as optax. */
  decaySteps: number;
  /** Final value. Default 0. */
  end?: number;
}

/** optax's warmup_cosine_decay_schedule: linear warm-up to peak, then cosine decay to end by decaySteps. */
export function warmupCosineDecay(options: WarmupCosineDecayOptions): Schedule {
  checkOptions("schedules.warmupCosineDecay", options, ["init", "peak", "warmupSteps", "decaySteps", "end"]);
  const { init = 0, peak, warmupSteps, decaySteps, end = 0 } = options;
  const who = "schedules.warmupCosineDecay";
  finite(who, "peak", peak);
  if (peak === 0) throw new RangeError(`${who}: peak must be non-zero`);
  positiveInteger(who, "warmupSteps", warmupSteps);
  if (!Number.isInteger(decaySteps) || decaySteps <= warmupSteps) {
    throw new RangeError(
      `${who}: decaySteps must be an integer greater than warmupSteps (${warmupSteps}), got ${decaySteps}`,
    );
  }
  return joinSchedules(
    [
      linearSchedule({ init, end: peak, transitionSteps: warmupSteps }),
      cosineDecay({ init: peak, decaySteps: decaySteps - warmupSteps, alpha: end / peak }),
    ],
    [warmupSteps],
  );
}

/**
 * optax's join_schedules: schedules[0] before boundaries[0], then schedules[i + 1] from boundaries[i] on,
 * each counting steps from its own boundary.
 */
export function joinSchedules(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  const who = "schedules.joinSchedules";
  if (schedules.length === 0 || boundaries.length !== schedules.length - 1) {
    throw new RangeError(
      `${who}: need n schedules and n - 1 boundaries, got ${schedules.length} and ${boundaries.length}`,
    );
  }
  if (!schedules.every(isSchedule))
    throw new TypeError(`${who}: every schedule must be a Schedule (from optim.schedules)`);
  boundaries.forEach((b, i) => {
    nonNegativeInteger(who, `boundaries[${i}]`, b);
    if (i > 0 && b < boundaries[i - 1]!) throw new RangeError(`${who}: boundaries must be non-decreasing`);
  });
  return makeSchedule(
    (step) => {
      let out = schedules[0]!(step);
      boundaries.forEach((b, i) => {
        if (step >= b) out = schedules[i + 1]!(step - b);
      });
      return out;
    },
    (step) => {
      let out = schedules[0]!.onArray(step);
      boundaries.forEach((b, i) => {
        out = np.where(np.less(step, b), out, schedules[i + 1]!.onArray(np.subtract(step, b)));
      });
      return out;
    },
  );
}
