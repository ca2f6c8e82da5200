/**
 * checkGrads: compares a function's forward-mode (jvp) and reverse-mode (vjp) derivatives with central
 * finite differences, in float64.
 *
 * - jvp: along random directions, and per input coordinate (every coordinate of small inputs, a random
 *   sample of larger ones), element by element of the output.
 * - vjp: per input coordinate, (Jᵀu)_i against the finite difference of <u, f> along e_i; and the
 *   dot-product test <Jᵀu, v> = <u, J v>, with J v from finite differences and from jvp.
 * - order 2: the same checks applied to x ↦ Jᵀu (jvp of vjp, vjp of vjp) and to x ↦ J v (jvp of jvp,
 *   vjp of jvp), whose finite differences use the first-order derivatives (checked by order 1).
 *
 * Float inputs (float32 too) are converted to float64 before anything runs, so the finite differences
 * are accurate; integer and bool leaves are held constant. Outputs that are not floats are ignored.
 */
import { ConcreteArray, fmtAval, NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { checkOptions, checkOptionValue, optionKeys } from "../core/options.js";
import { type Shape, sizeOf } from "../core/shape.js";
import { zip } from "../core/tuple.js";
import { jvp } from "../transforms/jvp.js";
import { vjp } from "../transforms/vjp.js";
import { flatten, leafPaths, unflatten } from "../tree/treedef.js";
import {
  formatIndex,
  formatNumber,
  formatSetting,
  formatShort,
  joinLeafPath,
  uniformStream,
} from "./format.js";

/** A differentiation mode to check: forward (jvp) or reverse (vjp). */
export type GradMode = "fwd" | "rev";

/** Options of `checkGrads`: what to check and the tolerances. */
export interface CheckGradsOptions {
  /** 1: first derivatives; 2: also the derivatives of the derivatives (default 1). */
  order?: 1 | 2;
  /** Which modes to check (default both); functions with a customVjp only support "rev". */
  modes?: readonly GradMode[];
  /** Step of the central differences, absolute (default 1e-6). */
  eps?: number;
  /** Absolute tolerance per output element (default 1e-7). */
  atol?: number;
  /** Relative tolerance, relative to the finite-difference value (default 1e-5). */
  rtol?: number;
  /** Random directions (and cotangents) per check (default 2). */
  directions?: number;
  /** Inputs with at most this many elements are checked coordinate by coordinate; larger ones at a random sample of this many (default 24). */
  maxCoordinates?: number;
  /** Seed of the random directions and coordinate sample (default 0). */
  seed?: number;
}

/** One comparison that failed: which check, where, and both values. */
export interface GradientMismatch {
  /** Which derivative was checked, e.g. "reverse mode (vjp), per coordinate". */
  readonly check: string;
  /** The input element, e.g. `args.0.conv1.weight[3]`, or the direction checked along. */
  readonly path: string;
  /** The output element compared, e.g. `out.loss`, or `<u, out>` for a cotangent-weighted sum. */
  readonly output: string;
  /** The derivative from jvp or vjp. */
  readonly analytic: number;
  /** The finite-difference estimate. */
  readonly numeric: number;
  /** |analytic - numeric| / |numeric|. */
  readonly relativeError: number;
  /** The allowed |analytic - numeric| for this comparison (from atol and rtol). */
  readonly tolerance: number;
}

/** What `checkGrads` returns when every check passed. */
export interface GradientCheckReport {
  /** How many scalar comparisons were made. */
  readonly comparisons: number;
}

/** The derivatives disagree with finite differences; the message shows the worst element. */
export class GradientCheckError extends Error {
  override name = "GradientCheckError";
  constructor(
    message: string,
    readonly worst: GradientMismatch,
    readonly failures: number,
    readonly comparisons: number,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------
// flat float64 vectors over a list of arrays

/** The arrays of one side of the function (inputs or outputs): shapes and element paths. */
interface Space {
  readonly shapes: readonly Shape[];
  readonly paths: readonly string[];
  readonly total: number;
}

function spaceOf(shapes: readonly Shape[], paths: readonly string[]): Space {
  return { shapes, paths, total: shapes.reduce((n, s) => n + sizeOf(s), 0) };
}

/** The path of element `i` of the concatenated vector, e.g. `args.0.w[1, 2]`. */
function elementPath(space: Space, i: number): string {
  let offset = 0;
  for (let k = 0; k < space.shapes.length; k++) {
    const n = sizeOf(space.shapes[k]!);
    if (i < offset + n) return `${space.paths[k]}${formatIndex(space.shapes[k]!, i - offset)}`;
    offset += n;
  }
  return `element ${i}`;
}

function toArrays(vector: Float64Array, space: Space): NdArray[] {
  let offset = 0;
  return space.shapes.map((s) => {
    const n = sizeOf(s);
    const a = new ConcreteArray(s, "float64", vector.slice(offset, offset + n));
    offset += n;
    return a;
  });
}

function concat(arrays: readonly NdArray[], total: number): Float64Array {
  const out = new Float64Array(total);
  let offset = 0;
  for (const a of arrays) {
    out.set(a.concrete().storage, offset);
    offset += a.size;
  }
  return out;
}

const dotOf = (a: Float64Array, b: Float64Array): number => zip(a, b).reduce((s, [x, y]) => s + x * y, 0);

// ---------------------------------------------------------------------------------------------------
// the checks

/** A function of float64 arrays to float arrays, at a point, with the spaces of both sides. */
interface Problem {
  readonly fn: (xs: NdArray[]) => NdArray[];
  readonly point: Float64Array;
  readonly inputs: Space;
  readonly outputs: Space;
  /** For second order: which first derivative this function is (e.g. "vjp"). */
  readonly derivative: string | null;
}

interface Settings {
  readonly modes: readonly GradMode[];
  readonly eps: number;
  readonly atol: number;
  readonly rtol: number;
  readonly directions: number;
  readonly maxCoordinates: number;
}

interface Ranked extends GradientMismatch {
  /** How many tolerances off. */
  readonly excess: number;
  /** Names an input element (rather than a random direction). */
  readonly located: boolean;
}

class Tally {
  comparisons = 0;
  failures = 0;
  worst: Ranked | null = null;

  /** `located`: the path names an input element; such failures are reported before directional ones. */
  compare(
    check: string,
    path: string,
    output: string,
    analytic: number,
    numeric: number,
    tolerance: number,
    located: boolean,
  ): void {
    this.comparisons++;
    const diff = Math.abs(analytic - numeric);
    if (diff <= tolerance) return;
    this.failures++;
    const excess = Number.isNaN(diff) ? Infinity : diff / tolerance;
    const w = this.worst;
    if (w === null || (located && !w.located) || (located === w.located && excess > w.excess)) {
      const relativeError = diff / Math.max(Math.abs(numeric), Number.MIN_VALUE);
      this.worst = { check, path, output, analytic, numeric, relativeError, tolerance, excess, located };
    }
  }
}

const MODE_NAMES: Record<GradMode, string> = { fwd: "forward mode (jvp)", rev: "reverse mode (vjp)" };

function checkName(problem: Problem, mode: GradMode, what: string): string {
  const name =
    problem.derivative === null
      ? MODE_NAMES[mode]
      : `second order, ${mode === "fwd" ? "jvp" : "vjp"} of ${problem.derivative}`;
  return `${name}, ${what}`;
}

function evaluate(problem: Problem, point: Float64Array): Float64Array {
  return concat(problem.fn(toArrays(point, problem.inputs)), problem.outputs.total);
}

function jvpAt(problem: Problem, direction: Float64Array): Float64Array {
  const f = (...xs: NdArray[]) => problem.fn(xs);
  const [, tangents] = jvp(f, toArrays(problem.point, problem.inputs), toArrays(direction, problem.inputs));
  return concat(tangents, problem.outputs.total);
}

function vjpAt(problem: Problem, cotangent: Float64Array): Float64Array {
  const f = (...xs: NdArray[]) => problem.fn(xs);
  const [, pullback] = vjp(f, ...toArrays(problem.point, problem.inputs));
  return concat(pullback(toArrays(cotangent, problem.outputs)), problem.inputs.total);
}

/** (f(x + eps·v) - f(x - eps·v)) / (2·eps). */
function finiteDifference(problem: Problem, direction: Float64Array, eps: number): Float64Array {
  const steps = zip(problem.point, direction);
  const fPlus = evaluate(
    problem,
    Float64Array.from(steps, ([x, v]) => x + eps * v),
  );
  const fMinus = evaluate(
    problem,
    Float64Array.from(steps, ([x, v]) => x - eps * v),
  );
  return Float64Array.from(zip(fPlus, fMinus), ([p, m]) => (p - m) / (2 * eps));
}

function randomVector(n: number, next: () => number): Float64Array {
  return Float64Array.from({ length: n }, () => 2 * next() - 1);
}

function basisVector(n: number, i: number): Float64Array {
  const e = new Float64Array(n);
  e[i] = 1;
  return e;
}

/** Every coordinate, or a sorted random sample of `max` of them. */
function chooseCoordinates(total: number, max: number, next: () => number): number[] {
  const all = Array.from({ length: total }, (_, i) => i);
  if (total <= max) return all;
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, max).sort((a, b) => a - b);
}

/** The tolerance of <u, y> when each y_j is known to atol + rtol·|y_j|. */
function weightedTolerance(u: Float64Array, y: Float64Array, s: Settings): number {
  return zip(u, y).reduce((t, [uj, yj]) => t + Math.abs(uj) * (s.atol + s.rtol * Math.abs(yj)), 0);
}

/** Cotangents: 1 first for a scalar output (so the values shown are the gradient itself), then random. */
function cotangents(problem: Problem, s: Settings, next: () => number): Float64Array[] {
  const n = problem.outputs.total;
  return Array.from({ length: s.directions }, (_, d) =>
    d === 0 && n === 1 ? Float64Array.of(1) : randomVector(n, next),
  );
}

function checkProblem(problem: Problem, s: Settings, next: () => number, tally: Tally): void {
  const nIn = problem.inputs.total;
  const nOut = problem.outputs.total;
  if (nIn === 0 || nOut === 0) return;
  const coords = chooseCoordinates(nIn, s.maxCoordinates, next);
  const columns = coords.map((i) => finiteDifference(problem, basisVector(nIn, i), s.eps));
  const directions = Array.from({ length: s.directions }, () => randomVector(nIn, next));
  const numericAlong = directions.map((v) => finiteDifference(problem, v, s.eps));
  const outputPath = (j: number) => elementPath(problem.outputs, j);
  let tangentsAlong: Float64Array[] | null = null;

  if (s.modes.includes("fwd")) {
    const name = checkName(problem, "fwd", "per coordinate");
    for (const [i, numeric] of zip(coords, columns)) {
      const analytic = jvpAt(problem, basisVector(nIn, i));
      zip(analytic, numeric).forEach(([a, n], j) =>
        tally.compare(
          name,
          elementPath(problem.inputs, i),
          outputPath(j),
          a,
          n,
          s.atol + s.rtol * Math.abs(n),
          true,
        ),
      );
    }
    tangentsAlong = directions.map((v) => jvpAt(problem, v));
    zip(tangentsAlong, numericAlong).forEach(([analytic, numeric], d) => {
      const name = checkName(problem, "fwd", "along a random direction");
      zip(analytic, numeric).forEach(([a, n], j) =>
        tally.compare(
          name,
          `random direction ${d}`,
          outputPath(j),
          a,
          n,
          s.atol + s.rtol * Math.abs(n),
          false,
        ),
      );
    });
  }

  if (s.modes.includes("rev")) {
    const us = cotangents(problem, s, next);
    zip(us, directions, numericAlong).forEach(([u, v, numeric], d) => {
      const g = vjpAt(problem, u);
      const weighted = nOut === 1 && u[0] === 1 ? outputPath(0) : "<u, out>";
      const name = checkName(problem, "rev", "per coordinate");
      for (const [i, column] of zip(coords, columns)) {
        tally.compare(
          name,
          elementPath(problem.inputs, i),
          weighted,
          g[i]!,
          dotOf(u, column),
          weightedTolerance(u, column, s),
          true,
        );
      }
      // The dot-product test: <Jᵀu, v> against <u, J v>.
      const lhs = dotOf(g, v);
      tally.compare(
        checkName(problem, "rev", "dot-product test <vjp(u), v> = <u, finite differences along v>"),
        `random direction ${d}`,
        "<u, out>",
        lhs,
        dotOf(u, numeric),
        weightedTolerance(u, numeric, s),
        false,
      );
      if (tangentsAlong !== null) {
        const jv = tangentsAlong[d]!;
        tally.compare(
          checkName(problem, "rev", "dot-product test <vjp(u), v> = <u, jvp(v)>"),
          `random direction ${d}`,
          "<u, out>",
          lhs,
          dotOf(u, jv),
          weightedTolerance(u, jv, s),
          false,
        );
      }
    });
  }
}

/** x ↦ Jᵀu (for the second order checks), with u fixed. */
function vjpProblem(problem: Problem, u: Float64Array): Problem {
  const uArrays = toArrays(u, problem.outputs);
  const fn = (xs: NdArray[]): NdArray[] => vjp((...ys: NdArray[]) => problem.fn(ys), ...xs)[1](uArrays);
  const paths = problem.inputs.paths.map((p) => `vjp(u)@${p}`);
  return {
    fn,
    point: problem.point,
    inputs: problem.inputs,
    outputs: spaceOf(problem.inputs.shapes, paths),
    derivative: "vjp",
  };
}

/** x ↦ J v (for the second order checks), with v fixed. */
function jvpProblem(problem: Problem, v: Float64Array): Problem {
  const vArrays = toArrays(v, problem.inputs);
  const fn = (xs: NdArray[]): NdArray[] => jvp((...ys: NdArray[]) => problem.fn(ys), xs, vArrays)[1];
  const paths = problem.outputs.paths.map((p) => `jvp(v)@${p}`);
  return {
    fn,
    point: problem.point,
    inputs: problem.inputs,
    outputs: spaceOf(problem.outputs.shapes, paths),
    derivative: "jvp",
  };
}

const isFloatArray = (x: unknown): x is NdArray => x instanceof NdArray && isFloat(x.dtype);

/**
 * Checks the derivatives of `f` at `args` against central finite differences in float64; throws a
 * GradientCheckError naming the worst element (its path like `args.0.conv1.weight[3]`, the analytic and
 * numeric values, and the relative error). `f` takes pytrees of arrays and returns a pytree.
 *
 * Float leaves of `args` (float32 included) are converted to float64 and `f` is called with those, so
 * the check measures the derivative rules rather than float32 rounding; integer, bool and number leaves
 * are passed through unchanged and not differentiated. Only float outputs are compared.
 */
export function checkGrads<Args extends unknown[]>(
  f: (...args: Args) => unknown,
  args: Args,
  options: CheckGradsOptions = {},
): GradientCheckReport {
  checkOptions(
    "checkGrads",
    options,
    optionKeys<CheckGradsOptions>({
      order: true,
      modes: true,
      eps: true,
      atol: true,
      rtol: true,
      directions: true,
      maxCoordinates: true,
      seed: true,
    }),
  );
  checkOptionValue("checkGrads", "order", options.order, [1, 2]);
  for (const mode of options.modes ?? []) checkOptionValue("checkGrads", "modes", mode, ["fwd", "rev"]);
  const settings: Settings = {
    modes: options.modes ?? ["fwd", "rev"],
    eps: options.eps ?? 1e-6,
    atol: options.atol ?? 1e-7,
    rtol: options.rtol ?? 1e-5,
    directions: options.directions ?? 2,
    maxCoordinates: options.maxCoordinates ?? 24,
  };
  const order = options.order ?? 1;
  const next = uniformStream(options.seed ?? 0);

  const [argLeaves, argDef] = flatten<unknown>(args);
  const argPaths = leafPaths(argDef);
  // Float leaves are the variables (in float64); every other leaf is held constant.
  const variable = argLeaves.map((l, k) => (isFloatArray(l) ? k : -1)).filter((k) => k >= 0);
  // Inputs that are all integer, bool or numbers leave nothing to check: an error, never a pass with 0
  // comparisons. (Empty trees and empty arrays do give 0 comparisons, which property tests rely on.)
  if (variable.length === 0 && argLeaves.length > 0) {
    const leaves = argLeaves.map((l, k) => `${joinLeafPath("args", argPaths[k]!)} is ${describeLeaf(l)}`);
    throw new TypeError(
      `checkGrads: no float input to differentiate with respect to (${leaves.join(", ")}); ` +
        "integer, bool and number inputs are held constant, so give at least one float32 or float64 array",
    );
  }
  const variableArrays = variable.map((k) => argLeaves[k] as NdArray);
  const inputs = spaceOf(
    variableArrays.map((a) => a.shape),
    variable.map((k) => joinLeafPath("args", argPaths[k]!)),
  );
  const point = concat(
    variableArrays.map((a) => a.astype("float64")),
    inputs.total,
  );

  let outputPaths: string[] = [];
  const fn = (xs: NdArray[]): NdArray[] => {
    const leaves = [...argLeaves];
    variable.forEach((k, j) => {
      leaves[k] = xs[j];
    });
    const [outLeaves, outDef] = flatten<unknown>(f(...unflatten<Args>(argDef, leaves)));
    const paths = leafPaths(outDef);
    const keep = outLeaves.map((l, j) => (isFloatArray(l) ? j : -1)).filter((j) => j >= 0);
    outputPaths = keep.map((j) => joinLeafPath("out", paths[j]!));
    return keep.map((j) => outLeaves[j] as NdArray);
  };
  const outs = fn(toArrays(point, inputs));
  const outputs = spaceOf(
    outs.map((o) => o.shape),
    outputPaths,
  );
  const problem: Problem = { fn, point, inputs, outputs, derivative: null };

  const tally = new Tally();
  checkProblem(problem, settings, next, tally);
  if (order === 2 && inputs.total > 0 && outputs.total > 0) {
    if (settings.modes.includes("rev")) {
      const u = outputs.total === 1 ? Float64Array.of(1) : randomVector(outputs.total, next);
      checkProblem(vjpProblem(problem, u), settings, next, tally);
    }
    if (settings.modes.includes("fwd")) {
      checkProblem(jvpProblem(problem, randomVector(inputs.total, next)), settings, next, tally);
    }
  }
  if (tally.worst !== null) throw gradientError(tally, settings);
  return { comparisons: tally.comparisons };
}

function describeLeaf(leaf: unknown): string {
  if (leaf instanceof NdArray) return fmtAval(leaf);
  return typeof leaf === "number" ? `the number ${leaf}` : typeof leaf;
}

function gradientError(tally: Tally, s: Settings): GradientCheckError {
  const w = tally.worst!;
  const { excess: _excess, located: _located, ...worst } = w;
  const message = [
    `checkGrads: the derivative disagrees with central finite differences at ${w.path} (output ${w.output})`,
    `  check: ${w.check}`,
    `  analytic: ${formatNumber(w.analytic)}`,
    `  numeric:  ${formatNumber(w.numeric)}`,
    `  |difference|: ${formatShort(Math.abs(w.analytic - w.numeric))}, relative error: ${formatShort(w.relativeError)}, tolerance: ${formatShort(w.tolerance)}`,
    `  ${tally.failures} of ${tally.comparisons} comparisons failed (eps=${formatSetting(s.eps)}, atol=${formatSetting(s.atol)}, rtol=${formatSetting(s.rtol)}; inputs checked in float64)`,
  ].join("\n");
  return new GradientCheckError(message, worst, tally.failures, tally.comparisons);
}
