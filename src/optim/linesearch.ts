/**
 * optax's zoom line search (optax.scale_by_zoom_linesearch, optax/_src/linesearch.py): scales the
 * updates u by a stepsize t for which the strong Wolfe conditions hold at params + t u — sufficient
 * decrease f(w + t u) <= f(w) + slopeRtol t <u, g> (or optax's approximate Wolfe condition) and small
 * curvature |<u, g(w + t u)>| <= curvRtol |<u, g>| — by Nocedal and Wright's Algorithms 3.5 (grow the
 * stepsize until an interval holds an acceptable one) and 3.6 (zoom into it by safeguarded cubic,
 * quadratic or bisection steps), with optax's fallback to the best step of sufficient decrease.
 *
 * The search runs eagerly: a JS loop over evaluations of the objective, whose values it reads. Under
 * `jit` or `vmap` it throws (the loop is not yet written with `whileLoop`); call `update` outside them.
 */
import { ConcretizationError, type NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import * as np from "../np.js";
import { valueAndGrad } from "../transforms/vjp.js";
import { unflatten } from "../tree/index.js";
import {
  arrayLeaves,
  checkArrayLeaves,
  checkGrads,
  checkHyperparameter,
  type GradientTransformation,
  type UpdateExtras,
} from "./common.js";

/** Options of `scaleByZoomLinesearch`, optax's with its defaults. */
export interface ZoomLinesearchOptions {
  /** The most evaluations of the objective per update (required, as in optax). */
  maxLinesearchSteps: number;
  /** The largest admissible stepsize; null (default) for none. */
  maxLearningRate?: number | null;
  /** Tolerance on both conditions (default 0). */
  tol?: number;
  /** Factor growing the stepsize while no interval is found (default 2). */
  increaseFactor?: number;
  /** c1 of the sufficient decrease condition (default 1e-4). */
  slopeRtol?: number;
  /** c2 of the small curvature condition (default 0.9). */
  curvRtol?: number;
  /** Relative tolerance of the approximate Wolfe condition; null turns it off (default 1e-6). */
  approxDecRtol?: number | null;
  /** Below this interval length the search stops with the best safe step (default 1e-5). */
  stepsizePrecision?: number;
  /** The first stepsize tried: 1 ("one"), or the last update's ("keep", the default, as optax's). */
  initialGuessStrategy?: "one" | "keep";
}

/** What the last search did (optax's ZoomLinesearchInfo). */
export interface ZoomLinesearchInfo {
  /** Evaluations of the objective (int32 scalar). */
  numLinesearchSteps: NdArray;
  /** How far the accepted step is from sufficient decrease (0 when it holds). */
  decreaseError: NdArray;
  /** How far it is from small curvature (0 when it holds). */
  curvatureError: NdArray;
}

/** The state of `scaleByZoomLinesearch` (optax's ScaleByZoomLinesearchState). */
export interface ZoomLinesearchState {
  /** The last accepted stepsize (1 before the first update). */
  learningRate: NdArray;
  /** The objective at the accepted step (Infinity before the first update). */
  value: NdArray;
  /** Its gradient there (a tree of the params' structure; zeros before the first update). */
  grad: unknown;
  info: ZoomLinesearchInfo;
}

/** One point of the line t -> f(w + t u): its stepsize, value, gradient and slope <u, g>. */
interface LinePoint {
  t: number;
  value: number;
  grad: NdArray[];
  slope: number;
}

/** The search's state, over JS numbers (optax's ZoomLinesearchState less what does not change). */
interface Search {
  count: number;
  current: LinePoint;
  decreaseError: number;
  curvatureError: number;
  intervalFound: boolean;
  done: boolean;
  failed: boolean;
  low: LinePoint;
  high: LinePoint;
  cubicRef: LinePoint;
  safe: LinePoint;
}

/** A critical point of the cubic through (a, fa), (b, fb), (c, fc) of slope fpa at a (NaN if none). */
function cubicMin(a: number, fa: number, fpa: number, b: number, fb: number, c: number, fc: number): number {
  const db = b - a;
  const dc = c - a;
  const denom = (db * dc) ** 2 * (db - dc);
  const rb = fb - fa - fpa * db;
  const rc = fc - fa - fpa * dc;
  const A = (dc ** 2 * rb - db ** 2 * rc) / denom;
  const B = (-(dc ** 3) * rb + db ** 3 * rc) / denom;
  return a + (-B + Math.sqrt(B * B - 3 * A * fpa)) / (3 * A);
}

/** The critical point of the quadratic through (a, fa), (b, fb) of slope fpa at a. */
function quadMin(a: number, fa: number, fpa: number, b: number, fb: number): number {
  const db = b - a;
  const B = (fb - fa - fpa * db) / db ** 2;
  return a - fpa / (2 * B);
}

/** A JS number read from a scalar array; traced values name the reason. */
function concrete(who: string, x: NdArray | number): number {
  if (typeof x === "number") return x;
  try {
    return x.item();
  } catch (e) {
    if (e instanceof ConcretizationError) {
      throw new ConcretizationError(
        `${who}: the line search runs eagerly (a JS loop over evaluations of valueFn) and cannot run under jit or vmap (it is not yet written with whileLoop); call update outside jit`,
      );
    }
    throw e;
  }
}

/** sum_i <a_i, b_i> over aligned leaves, as a JS number (float64). */
function vdot(who: string, a: readonly NdArray[], b: readonly NdArray[]): number {
  return a.reduce((s, x, i) => {
    const y = b[i];
    if (y === undefined) throw new Error(`${who}: internal error, no leaf ${i}`);
    return s + concrete(who, np.sum(np.multiply(np.astype(x, "float64"), np.astype(y, "float64"))));
  }, 0);
}

/**
 * optax.scale_by_zoom_linesearch: `update(updates, state, params, { value, grad, valueFn })` returns
 * `t * updates` for a stepsize t satisfying the strong Wolfe conditions along `updates` (see the module
 * comment), and keeps t, the value and the gradient at the accepted step. `updates` must be a descent
 * direction (<updates, grad> < 0). Runs eagerly; not under `jit` (a JS loop, not yet written with `whileLoop`).
 */
export function scaleByZoomLinesearch(
  options: ZoomLinesearchOptions,
): GradientTransformation<ZoomLinesearchState> {
  const who = "scaleByZoomLinesearch";
  checkOptions(
    who,
    options,
    optionKeys<ZoomLinesearchOptions>({
      maxLinesearchSteps: true,
      maxLearningRate: true,
      tol: true,
      increaseFactor: true,
      slopeRtol: true,
      curvRtol: true,
      approxDecRtol: true,
      stepsizePrecision: true,
      initialGuessStrategy: true,
    }),
  );
  const maxSteps = checkHyperparameter(who, "maxLinesearchSteps", options.maxLinesearchSteps, { min: 1 });
  if (!Number.isInteger(maxSteps))
    throw new RangeError(`${who}: maxLinesearchSteps must be an integer >= 1, got ${maxSteps}`);
  const maxStepsize =
    options.maxLearningRate === undefined || options.maxLearningRate === null
      ? null
      : checkHyperparameter(who, "maxLearningRate", options.maxLearningRate);
  const tol = checkHyperparameter(who, "tol", options.tol ?? 0);
  const increaseFactor = checkHyperparameter(who, "increaseFactor", options.increaseFactor ?? 2, { min: 1 });
  const slopeRtol = checkHyperparameter(who, "slopeRtol", options.slopeRtol ?? 1e-4);
  const curvRtol = checkHyperparameter(who, "curvRtol", options.curvRtol ?? 0.9);
  const approxDecRtol =
    options.approxDecRtol === null
      ? null
      : checkHyperparameter(who, "approxDecRtol", options.approxDecRtol ?? 1e-6);
  const intervalThreshold = checkHyperparameter(who, "stepsizePrecision", options.stepsizePrecision ?? 1e-5);
  const strategy = options.initialGuessStrategy ?? "keep";
  if (strategy !== "one" && strategy !== "keep")
    throw new RangeError(`${who}: initialGuessStrategy must be "one" or "keep", got ${String(strategy)}`);

  const decreaseErrorOf = (p: LinePoint, init: LinePoint): number => {
    let error = p.value - init.value - slopeRtol * p.t * init.slope;
    if (approxDecRtol !== null) {
      const approx = Math.max(
        p.slope - (2 * slopeRtol - 1) * init.slope,
        p.value - init.value - approxDecRtol * Math.abs(init.value),
      );
      error = Math.min(approx, error);
    }
    error = Math.max(error, 0);
    return Number.isNaN(error) ? Number.POSITIVE_INFINITY : error;
  };
  const curvatureErrorOf = (p: LinePoint, init: LinePoint): number => {
    const error = Math.max(Math.abs(p.slope) - curvRtol * Math.abs(init.slope), 0);
    return Number.isNaN(error) ? Number.POSITIVE_INFINITY : error;
  };

  return {
    init(params) {
      checkArrayLeaves(`${who}.init`, params);
      const [leaves, def] = arrayLeaves(params);
      const dtype = leaves[0]?.dtype === "float32" ? "float32" : "float64";
      return {
        learningRate: np.scalar(1, dtype),
        value: np.scalar(Number.POSITIVE_INFINITY, dtype),
        grad: unflatten(
          def,
          leaves.map((p) => np.zerosLike(p)),
        ),
        info: {
          numLinesearchSteps: np.scalar(0, "int32"),
          decreaseError: np.scalar(Number.POSITIVE_INFINITY, dtype),
          curvatureError: np.scalar(Number.POSITIVE_INFINITY, dtype),
        },
      };
    },
    update<T>(updates: T, state: ZoomLinesearchState, params?: T, extras?: UpdateExtras<T>) {
      const at = `${who}.update`;
      if (updates === undefined)
        throw new TypeError(
          `${at}: the updates are missing: call update(updates, state, params, { value, grad, valueFn })`,
        );
      if (state === undefined || state === null || !("learningRate" in state))
        throw new TypeError(`${at}: expected the state from ${who}(...).init(params) or the previous update`);
      if (params === undefined)
        throw new TypeError(
          `${at}: the line search needs the params: call update(updates, state, params, { value, grad, valueFn })`,
        );
      const { value, grad, valueFn } = extras ?? {};
      if (value === undefined || grad === undefined || valueFn === undefined) {
        const missing = [
          value === undefined ? "value" : null,
          grad === undefined ? "grad" : null,
          valueFn === undefined ? "valueFn" : null,
        ].filter((x) => x !== null);
        throw new TypeError(
          `${at}: the line search needs ${missing.join(", ")}: call update(updates, state, params, { value, grad, valueFn }) with the objective's value and gradient at params`,
        );
      }
      checkGrads(at, updates, params, "params");
      checkGrads(at, grad, params, "params");
      const [p, def] = arrayLeaves(params);
      const [u] = arrayLeaves(updates);
      const [g0] = arrayLeaves(grad);
      const evaluate = valueAndGrad(valueFn);
      const pointAt = (t: number): LinePoint => {
        const step = p.map((x, i) => {
          const d = u[i];
          if (d === undefined) throw new Error(`${at}: internal error, no leaf ${i}`);
          return np.add(x, np.multiply(d, np.scalar(t, d.dtype)));
        });
        const [v, gt] = evaluate(unflatten<T>(def, step));
        const [gl] = arrayLeaves(gt);
        return { t, value: concrete(at, v), grad: gl, slope: vdot(at, gl, u) };
      };

      const init: LinePoint = { t: 0, value: concrete(at, value), grad: g0, slope: vdot(at, u, g0) };
      const guess = strategy === "one" ? 1 : concrete(at, state.learningRate);
      let s: Search = {
        count: 0,
        current: init,
        decreaseError: Number.POSITIVE_INFINITY,
        curvatureError: Number.POSITIVE_INFINITY,
        intervalFound: false,
        done: false,
        failed: false,
        low: init,
        high: init,
        cubicRef: init,
        safe: init,
      };

      // Algorithm 3.5: grow the stepsize until [low, high] brackets an acceptable one.
      const searchInterval = (s: Search): Search => {
        const prev = s.current;
        let t = s.count === 0 ? guess : increaseFactor * prev.t;
        let maxReached = false;
        if (maxStepsize !== null) {
          maxReached = t >= maxStepsize;
          t = Math.min(t, maxStepsize);
        }
        const next = pointAt(t);
        const decreaseError = decreaseErrorOf(next, init);
        const curvatureError = curvatureErrorOf(next, init);
        const error = Math.max(decreaseError, curvatureError);
        const safe = decreaseError <= tol ? next : s.safe;
        const highToNew = decreaseError > 0 || (next.value >= prev.value && s.count > 0);
        const lowToNew = next.slope >= 0 && !highToNew;
        const [low, high] = lowToNew ? [next, prev] : [prev, next];
        const intervalFound = highToNew || lowToNew || error <= tol;
        const done = error <= tol || (maxReached && !intervalFound);
        return {
          count: s.count + 1,
          current: next,
          decreaseError,
          curvatureError,
          intervalFound,
          done,
          failed: s.count + 1 >= maxSteps && !done,
          low,
          high,
          cubicRef: low,
          safe,
        };
      };

      // Algorithm 3.6: shrink [low, high] by a cubic, quadratic or bisection step, safeguarded.
      const zoomIntoInterval = (s: Search): Search => {
        const { low, high, cubicRef } = s;
        const delta = Math.abs(high.t - low.t);
        const left = Math.min(high.t, low.t);
        const right = Math.max(high.t, low.t);
        const tooSmall = delta <= intervalThreshold;
        const cubic = cubicMin(low.t, low.value, low.slope, high.t, high.value, cubicRef.t, cubicRef.value);
        const quad = quadMin(low.t, low.value, low.slope, high.t, high.value);
        const middle =
          cubic > left + 0.2 * delta && cubic < right - 0.2 * delta
            ? cubic
            : quad > left + 0.1 * delta && quad < right - 0.1 * delta
              ? quad
              : (low.t + high.t) / 2;
        const mid = pointAt(middle);
        const decreaseError = decreaseErrorOf(mid, init);
        const curvatureError = curvatureErrorOf(mid, init);
        const error = Math.max(decreaseError, curvatureError);
        const safe = decreaseError <= tol && mid.value < s.safe.value ? mid : s.safe;
        const done = error <= tol;
        const highToMiddle = decreaseError > 0 || mid.value >= low.value;
        const highToLow = mid.slope * (high.t - low.t) >= 0 && !highToMiddle;
        const newHigh = highToLow ? low : highToMiddle ? mid : high;
        const newLow = highToMiddle ? low : mid;
        const newCubicRef = highToMiddle || highToLow ? high : low;
        const presumablyFailed = s.count + 1 >= maxSteps || (tooSmall && safe.t > 0);
        return {
          count: s.count + 1,
          current: mid,
          decreaseError,
          curvatureError,
          intervalFound: s.intervalFound,
          done,
          failed: presumablyFailed && !done,
          low: newLow,
          high: newHigh,
          cubicRef: newCubicRef,
          safe,
        };
      };

      // On failure, the best step of sufficient decrease found (if any, or if the last one left the domain).
      const trySafeStep = (s: Search): Search =>
        s.safe.t > 0 || s.decreaseError === Number.POSITIVE_INFINITY ? { ...s, current: s.safe } : s;

      while (!(s.done || s.failed)) {
        s = s.intervalFound ? zoomIntoInterval(s) : searchInterval(s);
        if (s.failed) s = trySafeStep(s);
      }

      const dtype = state.learningRate.dtype;
      const t = s.current.t;
      const scaled = u.map((x) => np.multiply(x, np.scalar(t, x.dtype)));
      return [
        unflatten<T>(def, scaled),
        {
          learningRate: np.scalar(t, dtype),
          value: np.scalar(s.current.value, dtype),
          grad: unflatten(def, s.current.grad),
          info: {
            numLinesearchSteps: np.scalar(s.count, "int32"),
            decreaseError: np.scalar(s.decreaseError, dtype),
            curvatureError: np.scalar(s.curvatureError, dtype),
          },
        },
      ];
    },
  };
}
