/**
 * optax.inject_hyperparams: an optimizer whose numeric hyperparameters live in its state as float64
 * scalar arrays, so they can be read, logged and changed between steps (by hand or by a schedule)
 * without rebuilding the optimizer or retracing a jitted step.
 */
import { NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { checkOptions, optionKeys } from "../core/options.js";
import * as np from "../np.js";
import { checkUpdateArgs, type GradientTransformation, nextCount, zeroCount } from "./common.js";
import { isSchedule, type Schedule } from "./schedules.js";

/** The state of an `injectHyperparams` optimizer. */
export interface InjectHyperparamsState<S = unknown> {
  /** Updates done so far (int32 scalar): the step the schedules are evaluated at. */
  count: NdArray;
  /**
   * The injected hyperparameters by option name, as float64 scalar arrays: the values the last update
   * used (a schedule's value at its step). Replace one in the state to change it for the next updates.
   */
  hyperparams: Record<string, NdArray>;
  /** The inner optimizer's state. */
  innerState: S;
}

/** Options of `injectHyperparams`. */
export interface InjectHyperparamsOptions {
  /** Numeric options passed to the factory as they are, not injected (optax's static_args). */
  staticArgs?: readonly string[];
}

/**
 * optax.inject_hyperparams: `injectHyperparams(optim.adamw)({ lr: 1e-3, weightDecay: 0.1 })` is adamw
 * whose numeric options (numbers, or `Schedule`s of the step count) are kept in
 * `state.hyperparams` as float64 scalar arrays; every `update` evaluates the schedules at the count,
 * builds the inner optimizer from the factory with those arrays in place of the numbers, and steps it.
 * Other options (booleans, tuples such as betas, masks) and the names in `staticArgs` are passed as
 * given. The factory must accept a scalar array for each injected option: `lr`/`learningRate` everywhere
 * and `weightDecay` of sgd, adam, adamw and addDecayedWeights do; a factory that needs a number for one
 * fails when this is called, naming it (list it in `staticArgs` then). A factory with positional
 * arguments is wrapped: `injectHyperparams(({ lr }) => optim.scaleByLearningRate(lr))({ lr: 0.1 })`.
 *
 * ```ts
 * const opt = optim.injectHyperparams(optim.adam)({ lr: 1e-3 });
 * let state = opt.init(params);
 * // ... later, between steps:
 * state = { ...state, hyperparams: { ...state.hyperparams, lr: np.scalar(1e-4, "float64") } };
 * ```
 */
export function injectHyperparams<O extends object, S>(
  factory: (hyperparams: O) => GradientTransformation<S>,
  options: InjectHyperparamsOptions = {},
): (hyperparams: O) => GradientTransformation<InjectHyperparamsState<S>> {
  const who = "injectHyperparams";
  checkOptions(who, options, optionKeys<InjectHyperparamsOptions>({ staticArgs: true }));
  if (typeof factory !== "function")
    throw new TypeError(
      `${who}: expected an optimizer factory (a function of its options), got ${typeof factory}`,
    );
  const staticArgs = new Set(options.staticArgs ?? []);
  return (hyperparams) => {
    if (typeof hyperparams !== "object" || hyperparams === null || Array.isArray(hyperparams))
      throw new TypeError(
        `${who}: the hyperparameters must be an object of options, got ${typeof hyperparams}`,
      );
    const fixed: Record<string, unknown> = {};
    const numbers: Record<string, number> = {};
    const schedules: Record<string, Schedule> = {};
    for (const [name, value] of Object.entries(hyperparams)) {
      if (staticArgs.has(name)) fixed[name] = value;
      else if (typeof value === "number") numbers[name] = value;
      else if (isSchedule(value)) schedules[name] = value;
      else fixed[name] = value;
    }
    const injected = [...Object.keys(numbers), ...Object.keys(schedules)];
    const build = (values: Record<string, NdArray>): GradientTransformation<S> =>
      factory({ ...fixed, ...values } as O);
    const valuesAt = (count: NdArray, current: Record<string, NdArray>): Record<string, NdArray> => {
      const out: Record<string, NdArray> = { ...current };
      for (const [name, s] of Object.entries(schedules)) out[name] = np.astype(s.onArray(count), "float64");
      return out;
    };
    // Fresh arrays on every call: a state's leaves must be distinct arrays (a jitted step refuses a
    // donated array passed twice), and the inner optimizer records the values it is built with.
    const initialValues = (): Record<string, NdArray> =>
      valuesAt(
        zeroCount(),
        Object.fromEntries(Object.entries(numbers).map(([n, v]) => [n, np.scalar(v, "float64")])),
      );
    // Built once here so that a factory refusing an array for some option fails now, naming it.
    try {
      build(initialValues());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new TypeError(
        `${who}: the factory refused the injected hyperparameters (${injected.join(", ")}) as float64 scalar arrays: ` +
          `${message}. Pass the options it needs as numbers in staticArgs.`,
      );
    }
    const at = `${who}.update`;
    const readState = (state: InjectHyperparamsState<S>): Record<string, NdArray> => {
      const record = state.hyperparams as unknown;
      if (typeof record !== "object" || record === null)
        throw new TypeError(`${at}: state.hyperparams must be an object of scalar arrays`);
      const out: Record<string, NdArray> = {};
      for (const name of injected) {
        const v = (record as Record<string, unknown>)[name];
        if (typeof v === "number") out[name] = np.scalar(v, "float64");
        else if (v instanceof NdArray && v.ndim === 0 && isFloat(v.dtype)) out[name] = v;
        else
          throw new TypeError(
            `${at}: state.hyperparams.${name} must be a float scalar array (or a number), got ${v instanceof NdArray ? `${v.dtype}[${v.shape.join(", ")}]` : typeof v}`,
          );
      }
      return out;
    };
    return {
      init(params) {
        return {
          count: zeroCount(),
          hyperparams: initialValues(),
          innerState: build(initialValues()).init(params),
        };
      },
      update(grads, state, params, extras) {
        checkUpdateArgs(
          at,
          grads,
          state,
          ["count", "hyperparams", "innerState"],
          `${who}(...)(...).init(params)`,
        );
        const values = valuesAt(state.count, readState(state));
        const [updates, innerState] = build(values).update(grads, state.innerState, params, extras);
        return [updates, { count: nextCount(state.count), hyperparams: values, innerState }];
      },
    };
  };
}
