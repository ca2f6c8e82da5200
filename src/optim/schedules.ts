/**
 * Learning-rate schedules (optax's, with torch's StepLR as `stepDecay`). A schedule maps the number of
 * updates done so far (0 for the first update) to a value. Each is written once, as a formula over a small
 * arithmetic (`ScheduleMath`) that `makeSchedule` runs twice: on JS numbers, and through `onArray` on the
 * optimizer's int32 step count as float64 scalar arrays, so an optimizer using it still traces under jit.
 * Both forms do the same operations in the same order.
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

/**
 * A learning rate: a number, a float scalar array (possibly traced: what `injectHyperparams` passes), a
 * `Schedule`, or any JS function of the step (evaluated only when not tracing).
 */
export type LearningRate = number | NdArray | Schedule | ((step: number) => number);

/** Whether `x` is a Schedule (a function with an `onArray` form), as opposed to a plain JS function. */
export function isSchedule(x: unknown): x is Schedule {
  return typeof x === "function" && typeof (x as { onArray?: unknown }).onArray === "function";
}

/**
 * The arithmetic a schedule's formula is written in: `T` is a JS number or a float64 scalar array, `B` a
 * boolean or a bool array. Arguments may be plain numbers in either form.
 */
export interface ScheduleMath<T, B> {
  /** a + b. */
  add(a: T | number, b: T | number): T;
  /** a - b. */
  subtract(a: T | number, b: T | number): T;
  /** a * b. */
  multiply(a: T | number, b: T | number): T;
  /** a / b. */
  divide(a: T | number, b: T | number): T;
  /** a ** b. */
  power(a: T | number, b: T | number): T;
  /** The smaller of a and b. */
  minimum(a: T | number, b: T | number): T;
  /** The larger of a and b. */
  maximum(a: T | number, b: T | number): T;
  /** a rounded down. */
  floor(a: T): T;
  /** cos(a). */
  cos(a: T): T;
  /** a < b. */
  less(a: T | number, b: T | number): B;
  /** a <= b. */
  lessEqual(a: T | number, b: T | number): B;
  /** `a` where `condition` holds, else `b` (both are computed). */
  where(condition: B, a: T | number, b: T | number): T;
  /** Another schedule at `step`, in this arithmetic. */
  schedule(s: Schedule, step: T): T;
}

/** A schedule written once: its value at `step` (the updates done so far) in either arithmetic. */
export type ScheduleFormula = <T, B>(math: ScheduleMath<T, B>, step: T) => T | number;

const numberMath: ScheduleMath<number, boolean> = {
  add: (a, b) => a + b,
  subtract: (a, b) => a - b,
  multiply: (a, b) => a * b,
  divide: (a, b) => a / b,
  power: (a, b) => a ** b,
  minimum: (a, b) => Math.min(a, b),
  maximum: (a, b) => Math.max(a, b),
  floor: Math.floor,
  cos: Math.cos,
  less: (a, b) => a < b,
  lessEqual: (a, b) => a <= b,
  where: (condition, a, b) => (condition ? a : b),
  schedule: (s, step) => s(step),
};

/** Two plain numbers become a float64 scalar first, so no result is a float32 default-dtype array. */
const both =
  (f: (a: NdArray | number, b: NdArray | number) => NdArray) =>
  (a: NdArray | number, b: NdArray | number): NdArray =>
    typeof a === "number" && typeof b === "number" ? f(np.scalar(a, "float64"), b) : f(a, b);

const arrayMath: ScheduleMath<NdArray, NdArray> = {
  add: both(np.add),
  subtract: both(np.subtract),
  multiply: both(np.multiply),
  divide: both(np.divide),
  power: both(np.power),
  minimum: both(np.minimum),
  maximum: both(np.maximum),
  floor: np.floor,
  cos: np.cos,
  less: both(np.less),
  lessEqual: both(np.lessEqual),
  where: (condition, a, b) => np.where(condition, a, b),
  schedule: (s, step) => s.onArray(step),
};

/**
 * Builds a Schedule from its formula, written once over `ScheduleMath` and run on numbers and on arrays:
 * `makeSchedule((m, step) => m.multiply(0.1, m.power(0.5, m.floor(m.divide(step, 10)))))`. The older
 * two-argument form takes the number form and the array form separately.
 */
export function makeSchedule(formula: ScheduleFormula): Schedule;
export function makeSchedule(
  onNumber: (step: number) => number,
  onArray: (step: NdArray) => NdArray,
): Schedule;
export function makeSchedule(
  formulaOrNumber: ScheduleFormula | ((step: number) => number),
  onArray?: (step: NdArray) => NdArray,
): Schedule {
  if (onArray !== undefined) {
    const onNumber = formulaOrNumber as (step: number) => number;
    return Object.assign((step: number) => onNumber(step), { onArray });
  }
  const formula = formulaOrNumber as ScheduleFormula;
  const asArray = (value: NdArray | number): NdArray =>
    typeof value === "number" ? np.scalar(value, "float64") : value;
  return Object.assign((step: number) => formula(numberMath, step), {
    onArray: (step: NdArray) => asArray(formula(arrayMath, np.astype(step, "float64"))),
  });
}

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
  return makeSchedule(() => value);
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
  return makeSchedule((m, step) => m.multiply(m.power(gamma, m.floor(m.divide(step, stepSize))), init));
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
  return makeSchedule((m, step) => {
    const elapsed = m.subtract(step, transitionBegin);
    const ratio = m.divide(elapsed, transitionSteps);
    const periods = staircase ? m.floor(ratio) : ratio;
    const decayed = m.multiply(m.power(decayRate, periods), init);
    const bounded =
      endValue === undefined
        ? decayed
        : decayRate < 1
          ? m.maximum(decayed, endValue)
          : m.minimum(decayed, endValue);
    return m.where(m.lessEqual(elapsed, 0), init, bounded);
  });
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
  return makeSchedule((m, step) => {
    const progress = m.divide(m.multiply(m.minimum(step, decaySteps), Math.PI), decaySteps);
    const cosine = m.multiply(m.add(m.cos(progress), 1), 0.5);
    return m.multiply(m.add(m.multiply(cosine, 1 - alpha), alpha), init);
  });
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
  return makeSchedule((m, step) => {
    const done = m.minimum(m.maximum(m.subtract(step, transitionBegin), 0), transitionSteps);
    return m.add(m.multiply(m.subtract(1, m.divide(done, transitionSteps)), init - end), end);
  });
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
  const [first, ...rest] = schedules as readonly [Schedule, ...Schedule[]];
  return makeSchedule((m, step) => {
    let out = m.schedule(first, step);
    rest.forEach((next, i) => {
      const b = boundaries[i] ?? 0;
      out = m.where(m.less(step, b), out, m.schedule(next, m.subtract(step, b)));
    });
    return out;
  });
}
