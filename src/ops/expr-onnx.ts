/**
 * An elementwise primitive's expression tree (core/expr.ts) as ONNX nodes: the `onnx` rule every
 * primitive of ops/elementwise-kit.ts gets from the kernel it declares, as its JS and wasm loops do.
 * Scalar constants broadcast (ONNX's arithmetic broadcasts numpy-style). log1p and expm1 export in
 * compensated forms accurate to a few ulp; nodes with no ONNX form of that accuracy (cbrt, atan2, JS
 * helpers without one here) throw an OnnxExportError rather than export a formula that loses precision.
 */
import type { AbstractValue } from "../core/array.js";
import type { DType } from "../core/dtype.js";
import type { Expr } from "../core/expr.js";
import { OnnxExportError, type OnnxGraph } from "../core/onnx-rule.js";
import { erfToOnnx } from "./erf-onnx.js";

const BINARY: Readonly<Record<string, string>> = {
  add: "Add",
  sub: "Sub",
  mul: "Mul",
  div: "Div",
  max: "Max",
  min: "Min",
  pow: "Pow",
  eq: "Equal",
  lt: "Less",
  le: "LessOrEqual",
  gt: "Greater",
  ge: "GreaterOrEqual",
  and: "And",
  or: "Or",
  xor: "Xor",
};

const UNARY: Readonly<Record<string, string>> = {
  neg: "Neg",
  abs: "Abs",
  sign: "Sign",
  floor: "Floor",
  ceil: "Ceil",
  round: "Round",
  sqrt: "Sqrt",
  exp: "Exp",
  log: "Log",
  sin: "Sin",
  cos: "Cos",
  tan: "Tan",
  asin: "Asin",
  acos: "Acos",
  atan: "Atan",
  sinh: "Sinh",
  cosh: "Cosh",
  tanh: "Tanh",
  asinh: "Asinh",
  acosh: "Acosh",
  atanh: "Atanh",
  logistic: "Sigmoid",
  not: "Not",
};

/**
 * log1p by Goldberg's compensation (What Every Computer Scientist Should Know About Floating-Point
 * Arithmetic, Theorem 4): with u = 1 + x rounded, log(u) * x / (u - 1), or x where u is 1; accurate to
 * a few ulp (Log(1 + x) alone loses every digit for small x). +Infinity is itself.
 */
export function log1p(g: OnnxGraph, x: string, dtype: DType): string {
  const u = g.node1("Add", [g.scalar(1, dtype), x]);
  const compensated = g.node1("Div", [
    g.node1("Mul", [g.node1("Log", [u]), x]),
    g.node1("Sub", [u, g.scalar(1, dtype)]),
  ]);
  const exact = g.node1("Or", [
    g.node1("Equal", [u, g.scalar(1, dtype)]),
    g.node1("IsInf", [x], { detect_negative: 0 }),
  ]);
  return g.node1("Where", [exact, x, compensated]);
}

/**
 * expm1 by Kahan's compensation: with u = exp(x) rounded, (u - 1) * x / log(u), x where u is 1, -1
 * where u - 1 is, and u where u is infinite; accurate to a few ulp.
 */
function expm1(g: OnnxGraph, x: string, dtype: DType): string {
  const u = g.node1("Exp", [x]);
  const one = g.scalar(1, dtype);
  const um1 = g.node1("Sub", [u, one]);
  const compensated = g.node1("Div", [g.node1("Mul", [um1, x]), g.node1("Log", [u])]);
  let r = g.node1("Where", [g.node1("Equal", [um1, g.scalar(-1, dtype)]), g.scalar(-1, dtype), compensated]);
  r = g.node1("Where", [g.node1("IsInf", [u]), u, r]);
  return g.node1("Where", [g.node1("Equal", [u, one]), x, r]);
}

/** Orderings and max/min, which take bool, int16 and uint16 operands cast to int32 (ORDERED_WIDER). */
const ORDERED_OPS = new Set(["Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Max", "Min"]);
const ORDERED_WIDER: Partial<Record<DType, DType>> = { bool: "int32", int16: "int32", uint16: "int32" };

const WHERE_WIDER: Partial<Record<DType, DType>> = {
  bool: "uint8",
  int8: "int32",
  int16: "int32",
  uint16: "int32",
  uint32: "float64",
};

type Helper = (g: OnnxGraph, args: readonly string[], dtype: DType, shape: readonly number[]) => string;

/** Where(cond, x, y) with a scalar constant for x or y given as a number. */
function where(g: OnnxGraph, cond: string, x: string | number, y: string | number, dtype: DType): string {
  const value = (v: string | number) => (typeof v === "number" ? g.scalar(v, dtype) : v);
  return g.node1("Where", [cond, value(x), value(y)]);
}

/**
 * numpy's `%` on floats (npy_divmod; ops/expr-js.ts's pythonDivmod): the C remainder, moved into the
 * divisor's sign by adding the divisor once, and a zero remainder signed as the divisor.
 */
function floatMod(g: OnnxGraph, a: string, b: string, dtype: DType): string {
  const r = g.node1("Mod", [a, b], { fmod: 1 });
  const zero = g.scalar(0, dtype);
  const bNegative = g.node1("Less", [b, zero]);
  const signsDiffer = g.node1("Xor", [bNegative, g.node1("Less", [r, zero])]);
  const moved = where(g, signsDiffer, g.node1("Add", [r, b]), r, dtype);
  const signedZero = where(g, bNegative, -0, 0, dtype);
  const isZero = g.node1("Equal", [r, zero]);
  // A zero divisor leaves fmod's NaN, which the comparisons above pass through.
  return where(g, g.node1("Equal", [b, zero]), r, where(g, isZero, signedZero, moved, dtype), dtype);
}

/**
 * numpy's `//` on floats (npy_divmod): the quotient (a - fmod(a, b)) / b, one less where the remainder's
 * sign differs from the divisor's, snapped to the nearest integer; a zero quotient signed as a / b.
 */
function floatFloorDivide(g: OnnxGraph, a: string, b: string, dtype: DType): string {
  const zero = g.scalar(0, dtype);
  const quotient = g.node1("Div", [a, b]);
  const mod = g.node1("Mod", [a, b], { fmod: 1 });
  let div = g.node1("Div", [g.node1("Sub", [a, mod]), b]);
  const adjust = g.node1("And", [
    g.node1("Not", [g.node1("Equal", [mod, zero])]),
    g.node1("Xor", [g.node1("Less", [b, zero]), g.node1("Less", [mod, zero])]),
  ]);
  div = where(g, adjust, g.node1("Sub", [div, g.scalar(1, dtype)]), div, dtype);
  const floor = g.node1("Floor", [div]);
  const snapped = where(
    g,
    g.node1("Greater", [g.node1("Sub", [div, floor]), g.scalar(0.5, dtype)]),
    g.node1("Add", [floor, g.scalar(1, dtype)]),
    floor,
    dtype,
  );
  // -0 where a / b is negative or -0 (1 / (a / b) is then -Infinity).
  const negative = g.node1("Less", [g.node1("Div", [g.scalar(1, dtype), quotient]), zero]);
  const signedZero = where(g, g.node1("Or", [g.node1("Less", [quotient, zero]), negative]), -0, 0, dtype);
  const result = where(g, g.node1("Equal", [div, zero]), signedZero, snapped, dtype);
  return where(g, g.node1("Equal", [b, zero]), quotient, result, dtype);
}

/**
 * An int32 divisor with its zeros and -1s replaced by 1: numpy gives 0 for a zero divisor, and x // -1
 * is -x (wrapping at -2^31, where a hardware division traps).
 */
function safeDivisor(g: OnnxGraph, b: string): { divisor: string; isZero: string; isMinusOne: string } {
  const isZero = g.node1("Equal", [b, g.scalar(0, "int32")]);
  const isMinusOne = g.node1("Equal", [b, g.scalar(-1, "int32")]);
  return { divisor: where(g, g.node1("Or", [isZero, isMinusOne]), 1, b, "int32"), isZero, isMinusOne };
}

/** numpy's int32 `%`: ONNX's integer Mod (fmod=0) has the divisor's sign; a zero divisor gives 0. */
function intMod(g: OnnxGraph, a: string, b: string): string {
  const { divisor, isZero, isMinusOne } = safeDivisor(g, b);
  const mod = g.node1("Mod", [a, divisor], { fmod: 0 });
  return where(g, g.node1("Or", [isZero, isMinusOne]), 0, mod, "int32");
}

/** numpy's int32 `//`: (a - a % b) / b is exact; a zero divisor gives 0. */
function intFloorDivide(g: OnnxGraph, a: string, b: string): string {
  const { divisor, isZero, isMinusOne } = safeDivisor(g, b);
  const mod = g.node1("Mod", [a, divisor], { fmod: 0 });
  const quotient = g.node1("Div", [g.node1("Sub", [a, mod]), divisor]);
  const negated = g.node1("Sub", [g.scalar(0, "int32"), a]);
  return where(g, isZero, 0, where(g, isMinusOne, negated, quotient, "int32"), "int32");
}

/** The JS kernels' helpers (ops/expr-js.ts's kernelLib) that have an ONNX form of the same result. */
const HELPERS: Readonly<Record<string, Helper>> = {
  modInt: (g, [a, b]) => intMod(g, a!, b!),
  floorDivideInt: (g, [a, b]) => intFloorDivide(g, a!, b!),
  mod32: (g, [a, b], d) => floatMod(g, a!, b!, d),
  mod64: (g, [a, b], d) => floatMod(g, a!, b!, d),
  floorDivide32: (g, [a, b], d) => floatFloorDivide(g, a!, b!, d),
  floorDivide64: (g, [a, b], d) => floatFloorDivide(g, a!, b!, d),
  // float64 (the kernels cast around it); given the output's shape, which its loops carry.
  erf: (g, [x], _d, shape) => erfToOnnx(g, g.node1("Expand", [x!, g.int64s(shape)]), shape),
};

/**
 * Adds the nodes computing `tree` on `inputs` (one name per operand) and returns the name of the result,
 * of shape `out.shape` (a tree of constants only is expanded to it).
 */
export function exprToOnnx(
  g: OnnxGraph,
  name: string,
  tree: Expr,
  inputs: readonly string[],
  out: AbstractValue,
): string {
  const done = new Map<Expr, string>();
  let readsInput = false;
  const unsupported = (what: string): never => {
    throw new OnnxExportError(`onnx export: ${name}: ${what} has no ONNX lowering of the same precision`);
  };
  const visit = (e: Expr): string => {
    const known = done.get(e);
    if (known !== undefined) return known;
    let r: string;
    switch (e.op) {
      case "input":
        readsInput = true;
        r = inputs[e.index]!;
        break;
      case "const":
        r = g.scalar(e.value, e.dtype);
        break;
      case "select": {
        // ONNX Runtime's CPU Where has no bool, int8, int16, uint16 or uint32 kernel (the session would
        // not load): those select in a wider type that holds every value, and cast back.
        const wide = WHERE_WIDER[e.dtype];
        const [x, y] = [visit(e.x), visit(e.y)];
        r = wide
          ? g.cast(
              g.node1("Where", [visit(e.cond), g.cast(x, e.dtype, wide), g.cast(y, e.dtype, wide)]),
              wide,
              e.dtype,
            )
          : g.node1("Where", [visit(e.cond), x, y]);
        break;
      }
      case "cast":
        r = g.cast(visit(e.x), e.x.dtype, e.dtype);
        break;
      case "call": {
        const helper = HELPERS[e.fn];
        if (helper === undefined) return unsupported(`the helper ${e.fn}`);
        r = helper(g, e.args.map(visit), e.dtype, out.shape);
        break;
      }
      case "ne":
        r = g.node1("Not", [g.node1("Equal", [visit(e.x), visit(e.y)])]);
        break;
      case "rem":
        // C fmod: the remainder has the dividend's sign, for floats and integers alike.
        r = g.node1("Mod", [visit(e.x), visit(e.y)], { fmod: 1 });
        break;
      case "trunc": {
        const x = visit(e.x);
        const negative = g.node1("Less", [x, g.scalar(0, e.dtype)]);
        r = g.node1("Where", [negative, g.node1("Ceil", [x]), g.node1("Floor", [x])]);
        break;
      }
      case "log1p":
        r = log1p(g, visit(e.x), e.dtype);
        break;
      case "expm1":
        r = expm1(g, visit(e.x), e.dtype);
        break;
      case "exp2":
        r = g.node1("Pow", [g.scalar(2, e.dtype), visit(e.x)]);
        break;
      case "log2":
      case "log10":
        r = g.node1("Div", [
          g.node1("Log", [visit(e.x)]),
          g.scalar(e.op === "log2" ? Math.LN2 : Math.LN10, e.dtype),
        ]);
        break;
      default: {
        if ("y" in e) {
          const op = BINARY[e.op];
          if (op === undefined) return unsupported(`${e.op}(${e.x.dtype}, ${e.y.dtype})`);
          const wide = ORDERED_WIDER[e.x.dtype];
          if (wide && ORDERED_OPS.has(op)) {
            // ONNX orders only numbers (bools compare as 0 and 1, as numpy's do), and ONNX Runtime's
            // Max/Min have no 16-bit kernels: order in int32, where every such value is exact.
            const [x, y] = [visit(e.x), visit(e.y)].map((v) => g.cast(v, e.x.dtype, wide));
            const o = g.node1(op, [x!, y!]);
            r = op === "Max" || op === "Min" ? g.cast(o, wide, e.dtype) : o;
          } else r = g.node1(op, [visit(e.x), visit(e.y)]);
        } else {
          const op = UNARY[e.op];
          if (op === undefined) return unsupported(`${e.op}(${e.x.dtype})`);
          r = g.node1(op, [visit(e.x)]);
        }
      }
    }
    done.set(e, r);
    return r;
  };
  const result = visit(tree);
  // A tree of constants only is a scalar: give it the output's shape.
  return readsInput ? result : g.node1("Expand", [result, g.int64s(out.shape)]);
}
