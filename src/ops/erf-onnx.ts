/**
 * The error function, its complement and its inverse in ONNX ops (float64), step for step as the
 * scalar code computes them (ops/erf.ts, random/special.ts): the Maclaurin series and Lentz's continued
 * fraction as Loops whose carried values stop changing, element by element, at the iteration where the
 * scalar loop breaks (and the Loop stops once every element has), and the inverse's Halley and Newton
 * refinements unrolled with the same per-element stops. The `erf` helper of the elementwise kernels and
 * the `erf_inv` primitive export through them.
 */
import type { OnnxGraph } from "../core/onnx-rule.js";

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SERIES_LIMIT = 1.5;

/** A float64 scalar constant. */
const f64 = (g: OnnxGraph, v: number) => g.scalar(v, "float64");

/** An all-false bool tensor of `shape`. */
const falses = (g: OnnxGraph, shape: readonly number[]) =>
  g.node1("Expand", [g.scalar(0, "bool"), g.int64s(shape)]);

/** Where(cond, x, y). */
const where = (g: OnnxGraph, cond: string, x: string, y: string) => g.node1("Where", [cond, x, y]);

/**
 * A Loop of at most `maxIterations` over float64 values of `shape`, with a
 * per-element `done` flag: `step` gets the 1-based iteration number (float64 scalar) and the carried
 * values and returns their updates and where the scalar loop would break after this iteration. Elements
 * already done keep their values; the Loop ends when all are.
 */
function convergingLoop(
  g: OnnxGraph,
  maxIterations: number,
  shape: readonly number[],
  init: readonly string[],
  step: (sub: OnnxGraph, n: string, carried: readonly string[]) => { next: string[]; converged: string },
): string[] {
  const value = { dtype: "float64" as const, shape };
  const flag = { dtype: "bool" as const, shape };
  const body = g.subgraph(
    [{ dtype: "int64", shape: [] }, { dtype: "bool", shape: [] }, flag, ...init.map(() => value)],
    [{ dtype: "bool", shape: [] }, flag, ...init.map(() => value)],
    (sub, [i, , done, ...carried]) => {
      const n = sub.cast(sub.node1("Add", [i!, sub.scalar(1, "int64")]), "int64", "float64");
      const { next, converged } = step(sub, n, carried);
      const kept = next.map((v, k) => sub.node1("Where", [done!, carried[k]!, v]));
      const doneNext = sub.node1("Or", [done!, converged]);
      const allDone = sub.node1("ReduceMin", [sub.cast(doneNext, "bool", "int32")], { keepdims: 0 });
      return [sub.node1("Not", [sub.cast(allDone, "int32", "bool")]), doneNext, ...kept];
    },
  );
  const outs = g.node(
    "Loop",
    [g.scalar(maxIterations, "int64"), g.scalar(1, "bool"), falses(g, shape), ...init],
    { body },
    1 + init.length,
  );
  return outs.slice(1);
}

/** erfSeries: 2/sqrt(pi) * the Maclaurin sum, for |x| < 1.5 (other elements get x = 0). */
function erfSeries(g: OnnxGraph, x: string, shape: readonly number[]): string {
  const x2 = g.node1("Mul", [x, x]);
  const negX2 = g.node1("Neg", [x2]);
  const [, sum] = convergingLoop(g, 99, shape, [x, x], (sub, n, [term, sum]) => {
    const t = sub.node1("Mul", [term!, sub.node1("Div", [negX2, n])]);
    const add = sub.node1("Div", [t, sub.node1("Add", [sub.node1("Mul", [f64(sub, 2), n]), f64(sub, 1)])]);
    const s = sub.node1("Add", [sum!, add]);
    const converged = sub.node1("LessOrEqual", [
      sub.node1("Abs", [add]),
      sub.node1("Mul", [f64(sub, 1e-17), sub.node1("Abs", [s])]),
    ]);
    return { next: [t, s], converged };
  });
  return g.node1("Mul", [f64(g, TWO_OVER_SQRT_PI), sum!]);
}

/** erfcContinuedFraction: erfc(x) for x >= 1.5 by Lentz's method (other elements get x = 2). */
function erfcContinuedFraction(g: OnnxGraph, x: string, shape: readonly number[]): string {
  const tiny = f64(g, 1e-300);
  const zero = f64(g, 0);
  const zeros = g.node1("Mul", [x, zero]);
  const [f] = convergingLoop(g, 499, shape, [x, x, zeros], (sub, n, [f, c, d]) => {
    const an = sub.node1("Div", [n, f64(sub, 2)]);
    let dn = sub.node1("Add", [x, sub.node1("Mul", [an, d!])]);
    dn = where(sub, sub.node1("Equal", [dn, zero]), tiny, sub.node1("Div", [f64(sub, 1), dn]));
    let cn = sub.node1("Add", [x, sub.node1("Div", [an, c!])]);
    cn = where(sub, sub.node1("Equal", [cn, zero]), tiny, cn);
    const delta = sub.node1("Mul", [cn, dn]);
    const converged = sub.node1("Less", [
      sub.node1("Abs", [sub.node1("Sub", [delta, f64(sub, 1)])]),
      f64(sub, 1e-16),
    ]);
    return { next: [sub.node1("Mul", [f!, delta]), cn, dn], converged };
  });
  const gauss = g.node1("Exp", [g.node1("Neg", [g.node1("Mul", [x, x])])]);
  return g.node1("Div", [g.node1("Div", [gauss, f64(g, Math.sqrt(Math.PI))]), f!]);
}

/** `x` where `cond`, else the constant `fallback` (keeps the loops' inputs in their ranges). */
function inRange(g: OnnxGraph, cond: string, x: string, fallback: number): string {
  return where(g, cond, x, f64(g, fallback));
}

/** erf(x) of a float64 tensor, as ops/erf.ts's erf. */
export function erfToOnnx(g: OnnxGraph, x: string, shape: readonly number[]): string {
  const ax = g.node1("Abs", [x]);
  const small = g.node1("Less", [ax, f64(g, SERIES_LIMIT)]);
  const large = g.node1("Greater", [ax, f64(g, 6)]);
  const series = erfSeries(g, inRange(g, small, x, 0), shape);
  const middle = g.node1("And", [g.node1("Not", [small]), g.node1("Not", [large])]);
  const cf = erfcContinuedFraction(g, inRange(g, middle, ax, 2), shape);
  const sign = g.node1("Sign", [x]);
  const tail = g.node1("Mul", [sign, g.node1("Sub", [f64(g, 1), cf])]);
  const result = where(g, small, series, where(g, large, sign, tail));
  return where(g, g.node1("IsNaN", [x]), x, result);
}

/** erfc(x) of a float64 tensor, as ops/erf.ts's erfc. */
export function erfcToOnnx(g: OnnxGraph, x: string, shape: readonly number[]): string {
  const below = g.node1("Less", [x, f64(g, SERIES_LIMIT)]);
  const veryNegative = g.node1("LessOrEqual", [x, f64(g, -6)]);
  const negative = g.node1("LessOrEqual", [x, f64(g, -SERIES_LIMIT)]);
  const seriesRange = g.node1("And", [below, g.node1("Not", [negative])]);
  const series = erfSeries(g, inRange(g, seriesRange, x, 0), shape);
  const cfRange = g.node1("And", [g.node1("Not", [veryNegative]), g.node1("Not", [seriesRange])]);
  const cfArg = inRange(
    g,
    g.node1("And", [cfRange, g.node1("LessOrEqual", [x, f64(g, 27)])]),
    g.node1("Abs", [x]),
    2,
  );
  const cf = erfcContinuedFraction(g, cfArg, shape);
  const left = where(
    g,
    veryNegative,
    f64(g, 2),
    where(g, negative, g.node1("Sub", [f64(g, 2), cf]), g.node1("Sub", [f64(g, 1), series])),
  );
  const right = where(g, g.node1("Greater", [x, f64(g, 27)]), f64(g, 0), cf);
  return where(g, g.node1("IsNaN", [x]), x, where(g, below, left, right));
}

/** Giles' polynomial guess for erfinv(a), a in [0, 1) (random/special.ts's erfinvGuess). */
function erfinvGuess(g: OnnxGraph, a: string): string {
  const w = g.node1("Neg", [
    g.node1("Log", [g.node1("Mul", [g.node1("Sub", [f64(g, 1), a]), g.node1("Add", [f64(g, 1), a])])]),
  ]);
  const horner = (t: string, coefficients: readonly number[]) => {
    let p = f64(g, coefficients[0]!);
    for (const c of coefficients.slice(1)) p = g.node1("Add", [f64(g, c), g.node1("Mul", [p, t])]);
    return p;
  };
  const central = horner(
    g.node1("Sub", [w, f64(g, 2.5)]),
    [
      2.81022636e-8, 3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503,
      -0.00417768164, 0.246640727, 1.50140941,
    ],
  );
  const tail = horner(
    g.node1("Sub", [g.node1("Sqrt", [w]), f64(g, 3)]),
    [
      -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
      0.00943887047, 1.00167406, 2.83297682,
    ],
  );
  return g.node1("Mul", [where(g, g.node1("Less", [w, f64(g, 5)]), central, tail), a]);
}

/**
 * erfinv(y) of a float64 tensor, as random/special.ts's erfinv: Giles' guess refined by at most 4
 * Halley steps on erf for |y| <= 0.5 and at most 12 Newton steps on log erfc beyond, each element
 * stopping where the scalar loop breaks.
 */
export function erfInvToOnnx(g: OnnxGraph, y: string, shape: readonly number[]): string {
  const a = g.node1("Abs", [y]);
  const inside = g.node1("Less", [a, f64(g, 1)]);
  // Elements outside (-1, 1), NaN or 0 are settled below; give the refinement a harmless 0.25 there.
  const safe = inRange(g, g.node1("And", [inside, g.node1("Greater", [a, f64(g, 0)])]), a, 0.25);
  const halleyRange = g.node1("LessOrEqual", [safe, f64(g, 0.5)]);
  const slope = (x: string) =>
    g.node1("Mul", [f64(g, TWO_OVER_SQRT_PI), g.node1("Exp", [g.node1("Neg", [g.node1("Mul", [x, x])])])]);
  const guess = erfinvGuess(g, safe);

  // Halley on erf(x) = a.
  const aH = inRange(g, halleyRange, safe, 0.25);
  let xH = inRange(g, halleyRange, guess, 0.25);
  let doneH = falses(g, shape);
  for (let i = 0; i < 4; i++) {
    const r = g.node1("Sub", [erfToOnnx(g, xH, shape), aH]);
    const step = g.node1("Div", [r, g.node1("Add", [slope(xH), g.node1("Mul", [xH, r])])]);
    const next = g.node1("Sub", [xH, step]);
    const converged = g.node1("LessOrEqual", [
      g.node1("Abs", [step]),
      g.node1("Mul", [f64(g, 1e-6), g.node1("Abs", [next])]),
    ]);
    xH = where(g, doneH, xH, next);
    doneH = g.node1("Or", [doneH, converged]);
  }

  // Newton on log erfc(x) = log(1 - a).
  const aTail = inRange(g, g.node1("Not", [halleyRange]), safe, 0.75);
  const logTail = g.node1("Log", [g.node1("Sub", [f64(g, 1), aTail])]);
  let xN = where(g, halleyRange, f64(g, 1), guess);
  let doneN = falses(g, shape);
  for (let i = 0; i < 12; i++) {
    const tail = erfcToOnnx(g, xN, shape);
    const step = g.node1("Div", [
      g.node1("Mul", [g.node1("Sub", [g.node1("Log", [tail]), logTail]), tail]),
      slope(xN),
    ]);
    const next = g.node1("Add", [xN, step]);
    const converged = g.node1("LessOrEqual", [g.node1("Abs", [step]), g.node1("Mul", [f64(g, 1e-9), next])]);
    xN = where(g, doneN, xN, next);
    doneN = g.node1("Or", [doneN, converged]);
  }

  const magnitude = where(g, halleyRange, xH, xN);
  const signed = g.node1("Mul", [g.node1("Sign", [y]), magnitude]);
  const nan = f64(g, Number.NaN);
  const outside = g.node1("Or", [g.node1("IsNaN", [y]), g.node1("Greater", [a, f64(g, 1)])]);
  let result = where(g, g.node1("Equal", [y, f64(g, 0)]), y, signed);
  result = where(g, g.node1("Equal", [y, f64(g, 1)]), f64(g, Number.POSITIVE_INFINITY), result);
  result = where(g, g.node1("Equal", [y, f64(g, -1)]), f64(g, Number.NEGATIVE_INFINITY), result);
  return where(g, outside, nan, result);
}
