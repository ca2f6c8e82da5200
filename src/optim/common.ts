/**
 * What every gradient transformation shares: the optax-style interface, hyperparameter validation,
 * learning rates that may be schedules, and the checks that gradients match the optimizer's state.
 */
import { ConcretizationError, NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { fmtShape, ShapeError, shapeEquals } from "../core/shape.js";
import * as np from "../np.js";
import { assertSameStructureOf, flatten, leaves, type TreeDef } from "../tree/index.js";
import { leafPaths } from "../tree/treedef.js";
import { isSchedule, type LearningRate } from "./schedules.js";

/**
 * A pure gradient transformation (optax's GradientTransformation): `init(params)` builds the state,
 * `update(grads, state, params?)` returns the updates (what gets ADDED to the parameters, see
 * `applyUpdates`) and the next state. Nothing is mutated; the state is a plain tree of arrays.
 */
export interface GradientTransformation<S = unknown> {
  /** The initial state for a parameter tree (moments start at zero, the step count at 0). */
  init<T>(params: T): S;
  /**
   * The updates for `grads` (a tree of the parameters' structure) and the next state; `params` is needed
   * only by transformations that read them (weight decay); `extras` only by those that evaluate the
   * objective (line searches, optax's GradientTransformationExtraArgs), every other one ignores them.
   */
  update<T>(grads: T, state: S, params?: T, extras?: UpdateExtras<T>): [T, S];
}

/**
 * What a line search needs besides the updates (optax's `value`, `grad` and `value_fn` keywords): the
 * objective's value and gradient at the current params, and the objective itself.
 */
export interface UpdateExtras<T> {
  /** The objective at the current params (a scalar array or number). */
  readonly value?: NdArray | number;
  /** The objective's gradient at the current params (a tree of the params' structure). */
  readonly grad?: T;
  /** The objective: params to a scalar array (differentiated with `valueAndGrad`). */
  readonly valueFn?: (params: T) => NdArray;
}

/** `x * factor`, with a scalar-array factor cast to x's dtype first (so float32 leaves stay float32). */
export function scaleLeaf(x: NdArray, factor: number | NdArray): NdArray {
  return np.multiply(x, typeof factor === "number" ? factor : np.astype(factor, x.dtype));
}

export function negate(x: number | NdArray): number | NdArray {
  return typeof x === "number" ? -x : np.negative(x);
}

export interface Bounds {
  min?: number;
  /** Exclusive upper bound. */
  below?: number;
}

/** Checks that a hyperparameter is a finite number in range: `sgd: momentum must be a finite number >= 0, got -1`. */
export function checkHyperparameter(
  who: string,
  name: string,
  value: unknown,
  bounds: Bounds = { min: 0 },
): number {
  const { min, below } = bounds;
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (min === undefined || value >= min) &&
    (below === undefined || value < below);
  if (!ok) {
    const range =
      min !== undefined && below !== undefined
        ? `in [${min}, ${below})`
        : min !== undefined
          ? `>= ${min}`
          : below !== undefined
            ? `< ${below}`
            : "";
    throw new RangeError(
      `${who}: ${name} must be a finite number${range ? ` ${range}` : ""}, got ${String(value)}`,
    );
  }
  return value as number;
}

/** Validates a learning rate given as a number, a scalar array or a schedule (`name` is its option's name). */
export function checkLearningRate(who: string, lr: unknown, name = "lr"): LearningRate {
  if (typeof lr === "function") return lr as LearningRate;
  return checkArrayHyperparameter(who, name, lr);
}

/**
 * A hyperparameter that may also be a float scalar array (e.g. a traced value from `injectHyperparams`'s
 * state): a number is range-checked as `checkHyperparameter` does; an array must be a float scalar (its
 * value is not read, so it can be traced).
 */
export function checkArrayHyperparameter(
  who: string,
  name: string,
  value: unknown,
  bounds: Bounds = { min: 0 },
): number | NdArray {
  if (value instanceof NdArray) {
    if (value.ndim !== 0 || !isFloat(value.dtype)) {
      throw new TypeError(
        `${who}: ${name} given as an array must be a float scalar, got ${value.dtype}${fmtShape(value.shape)}`,
      );
    }
    return value;
  }
  return checkHyperparameter(who, name, value, bounds);
}

/** a * b: a JS number when both are numbers, else a scalar array. */
export function multiplyScalars(a: number | NdArray, b: number | NdArray): number | NdArray {
  return typeof a === "number" && typeof b === "number" ? a * b : np.multiply(a, b);
}

/** optax's optional `learningRate` (lbfgs, adafactor): null or undefined means none (a scale of -1). */
export function checkOptionalLearningRate(who: string, lr: unknown): LearningRate | null {
  return lr === undefined || lr === null ? null : checkLearningRate(who, lr, "learningRate");
}

/** Hyperparameters as recorded in a state: float64 (or bool) scalar arrays, null for a schedule's lr. */
export type HyperparamRecord<K extends string> = { readonly [P in K]: NdArray | null };

/**
 * The record of hyperparameters kept in a state so a checkpoint says what produced it. Arrays, not JS
 * numbers: transforms turn number leaves into float32 tracers, while float64 arrays pass through jit
 * unchanged. Updates compute with the optimizer's own configuration, not with this record.
 */
export function recordHyperparams<K extends string>(
  values: { readonly [P in K]: LearningRate | number | boolean | readonly number[] },
): HyperparamRecord<K> {
  const out = {} as { [P in K]: NdArray | null };
  for (const name of Object.keys(values) as K[]) {
    const v: LearningRate | number | boolean | readonly number[] = values[name];
    out[name] =
      typeof v === "function"
        ? null
        : v instanceof NdArray
          ? v
          : typeof v === "boolean"
            ? np.scalar(v, "bool")
            : typeof v === "number"
              ? np.scalar(v, "float64")
              : np.array([...v], { dtype: "float64" });
  }
  return out;
}

/**
 * The learning rate for the update after `count` updates: a number, a float64 scalar array from a
 * `Schedule` (traceable), or a plain JS function of the step, which needs the step's value and so only
 * works when the count is concrete (eager mode, grad) — not inside jit, vmap or makeProgram.
 */
export function learningRateAt(who: string, lr: LearningRate, count: NdArray): number | NdArray {
  if (typeof lr === "number" || lr instanceof NdArray) return lr;
  if (isSchedule(lr)) return lr.onArray(count);
  let step: number;
  try {
    step = count.item();
  } catch (error) {
    if (error instanceof ConcretizationError) {
      throw new ConcretizationError(
        `${who}: the learning rate is a plain JS function of the step, which cannot be evaluated on a traced ` +
          "step count (inside jit, vmap or makeProgram); build it from optim.schedules (or give it an onArray form " +
          "with optim.schedules.makeSchedule)",
      );
    }
    throw error;
  }
  const value = lr(step);
  return checkHyperparameter(`${who} (learning-rate schedule at step ${step})`, "lr", value);
}

/** The step count a transformation starts from: an int32 scalar array, so it can be traced. */
export function zeroCount(): NdArray {
  return np.scalar(0, "int32");
}

export function nextCount(count: NdArray): NdArray {
  return np.add(count, 1);
}

const pathName = (path: string): string => (path === "" ? "<root>" : path);

/**
 * Checks that `tree` (gradients or updates) is a tree of arrays with exactly the structure, leaf shapes
 * and dtypes of `reference` (a state buffer or the params): nothing is broadcast or cast. Errors name
 * the transformation and the first differing path (`conv1.weight`).
 */
export function checkLikeReference(
  who: string,
  tree: unknown,
  reference: unknown,
  what: string,
  leafName = "gradient",
): void {
  assertSameStructureOf(
    `${who}: ${leafName === "gradient" ? "grads" : `${leafName}s`} vs ${what}`,
    tree,
    reference,
  );
  const expected = leaves<unknown>(reference);
  // Paths are written only for an error: the check runs at every optimizer step.
  const [treeLeaves, def] = flatten<unknown>(tree);
  treeLeaves.forEach((leaf, i) => {
    const at = () => leafPathName(def, i);
    const ref = expected[i];
    if (!(leaf instanceof NdArray)) {
      throw new TypeError(`${who}: the ${leafName} at ${at()} is not an array (got ${typeof leaf})`);
    }
    if (!(ref instanceof NdArray)) return;
    if (!shapeEquals(leaf.shape, ref.shape)) {
      throw new ShapeError(
        `${who}: the ${leafName} at ${at()} has shape ${fmtShape(leaf.shape)} but the ${what} has ${fmtShape(ref.shape)}`,
      );
    }
    if (leaf.dtype !== ref.dtype) {
      throw new ShapeError(
        `${who}: the ${leafName} at ${at()} is ${leaf.dtype} but the ${what} is ${ref.dtype} (cast it explicitly)`,
      );
    }
  });
}

/** Checks grads against a reference tree (a state buffer or the params); see checkLikeReference. */
export function checkGrads(who: string, grads: unknown, reference: unknown, what: string): void {
  checkLikeReference(who, grads, reference, what);
}

/**
 * Checks `update`'s arguments before anything reads them: grads present, and a state object with the
 * fields `init` makes (a plain-JS caller that forgets the state gets this, not a TypeError from deep
 * inside). `init` names where the state comes from, e.g. `adam(...).init(params)`.
 */
export function checkUpdateArgs(
  who: string,
  grads: unknown,
  state: unknown,
  stateFields: readonly string[],
  init: string,
): void {
  if (grads === undefined || grads === null) {
    throw new TypeError(
      `${who}: the gradients are missing (got ${String(grads)}): call update(grads, state, params)`,
    );
  }
  if (stateFields.length === 0) return;
  if (typeof state !== "object" || state === null || Array.isArray(state)) {
    throw new TypeError(
      `${who}: the optimizer state is missing (got ${state === null ? "null" : Array.isArray(state) ? "an array" : typeof state}): ` +
        `call update(grads, state, params) with the state from ${init} or from the previous update`,
    );
  }
  const missing = stateFields.filter((f) => !(f in state));
  if (missing.length > 0) {
    throw new TypeError(
      `${who}: the state has no ${missing.join(", ")}: expected the state from ${init} or from the previous update ` +
        `(fields ${stateFields.join(", ")}), got one with ${Object.keys(state).join(", ") || "no fields"}`,
    );
  }
}

/** Checks that every leaf of `grads` is an array (`leafName` says what the leaves are in errors). */
export function checkArrayLeaves(who: string, grads: unknown, leafName = "gradient"): void {
  const [treeLeaves, def] = flatten<unknown>(grads);
  treeLeaves.forEach((leaf, i) => {
    if (!(leaf instanceof NdArray)) {
      throw new TypeError(
        `${who}: the ${leafName} at ${leafPathName(def, i)} is not an array (got ${typeof leaf})`,
      );
    }
  });
}

/** Leaf `i`'s path in `def` for an error message (`conv1.weight`, `<root>` for a lone leaf). */
function leafPathName(def: TreeDef, i: number): string {
  return pathName(leafPaths(def)[i]!);
}

/** The params' leaves, checked against grads; throws if params were needed but not given. */
export function paramLeaves(who: string, grads: unknown, params: unknown, why: string): NdArray[] {
  if (params === undefined)
    throw new TypeError(`${who}: ${why} needs the params: call update(grads, state, params)`);
  checkGrads(who, grads, params, "params");
  return leaves<NdArray>(params);
}

/** A tree's leaves as arrays with its structure, for per-leaf arithmetic over several aligned trees. */
export function arrayLeaves(tree: unknown): [NdArray[], TreeDef] {
  return flatten<NdArray>(tree);
}
