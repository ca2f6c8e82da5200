/**
 * Elementwise unary primitives, each with its kernel (an expression tree, core/expr.ts) and its derivative, and the user-facing
 * functions (which convert integer input to float32 for the float-only ones, as numpy does).
 */
import type { NdArray } from "../core/array.js";
import { type BoolOperandsOp, type DType, isFloat, isInteger, operandDTypeFor } from "../core/dtype.js";
import type { Expr } from "../core/expr.js";
import * as ex from "../core/expr.js";
import type { JvpResult } from "../core/primitive.js";
import { add, astype, div, mul, sub } from "./binary.js";
import { type ElementwisePrimitive, elementwisePrimitive } from "./elementwise-kit.js";
import { callHelper } from "./expr-js.js";

const FLOATS: readonly DType[] = ["float32", "float64"];
const NUMERIC: readonly DType[] = ["int32", "float32", "float64"];

type Rule = (x: NdArray, t: NdArray, y: NdArray) => NdArray;

/** A float unary primitive whose tangent is `rule(x, t, y)`; `kernel` builds its tree from the operand. */
function floatUnary(name: string, kernel: (a: Expr) => Expr, rule: Rule): ElementwisePrimitive {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 1,
    accepts: FLOATS,
    kernel: ([a]) => kernel(a!),
    jvp: ([x], [t]): JvpResult => {
      const y = prim.bind1([x!], {});
      return { primalsOut: [y], tangentsOut: [rule(x!, t!, y)] };
    },
  });
  return prim;
}

/** A primitive whose derivative is zero almost everywhere (or whose output is not a float). */
function flatUnary(name: string, kernel: (a: Expr) => Expr, accepts: readonly DType[]) {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 1,
    accepts,
    kernel: ([a]) => kernel(a!),
    jvp: ([x]) => ({ primalsOut: [prim.bind1([x!], {})], tangentsOut: [] }),
  });
  return prim;
}

export const negPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "neg",
  arity: 1,
  accepts: NUMERIC,
  kernel: ([a]) => ex.neg(a!),
  jvp: ([x], [t]) => ({ primalsOut: [negPrim.bind1([x!], {})], tangentsOut: [negPrim.bind1([t!], {})] }),
  transpose: ([ct]) => [negPrim.bind1([ct!], {})],
  compiler: {
    rewrites: () => [
      {
        law: "-(c) -> -c",
        operands: [{ constant: "any" }],
        rewrite: ({ constants: [c] }) => ({ kind: "constant", value: -c! }),
      },
    ],
  },
});

export const signPrim = flatUnary("sign", ex.sign, NUMERIC);

export const absPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "abs",
  arity: 1,
  accepts: NUMERIC,
  kernel: ([a]) => ex.abs(a!),
  // abs'(0) = 0, as PyTorch: sign(0) = 0.
  jvp: ([x], [t]) => ({
    primalsOut: [absPrim.bind1([x!], {})],
    tangentsOut: [mul(t!, signPrim.bind1([x!], {}))],
  }),
});

export const expPrim = floatUnary(
  "exp",
  // float32: the float32 algorithm every kernel (wasm fused loops too) computes bit for bit.
  ex.exp,
  (_x, t, y) => mul(t, y),
);
export const expm1Prim = floatUnary("expm1", ex.expm1, (_x, t, y) => mul(t, add(y, 1)));
export const logPrim = floatUnary("log", ex.log, (x, t) => div(t, x));
export const log1pPrim = floatUnary("log1p", ex.log1p, (x, t) => div(t, add(x, 1)));
export const sqrtPrim = floatUnary("sqrt", ex.sqrt, (_x, t, y) => div(t, mul(y, 2)));
export const rsqrtPrim = floatUnary(
  "rsqrt",
  // Computed in float64 and rounded once (a float32 sqrt then division would round twice).
  (a) => ex.cast(ex.div(1, ex.sqrt(ex.cast(a, "float64"))), a.dtype),
  (x, t, y) => mul(t, mul(div(y, x), -0.5)),
);
export const sinPrim = floatUnary("sin", ex.sin, (x, t) => mul(t, cosPrim.bind1([x], {})));
export const cosPrim = floatUnary("cos", ex.cos, (x, t) =>
  mul(t, negPrim.bind1([sinPrim.bind1([x], {})], {})),
);
export const tanPrim = floatUnary("tan", ex.tan, (_x, t, y) => mul(t, add(mul(y, y), 1)));
export const tanhPrim = floatUnary("tanh", ex.tanh, (_x, t, y) => mul(t, sub(1, mul(y, y))));
export const atanPrim = floatUnary("atan", ex.atan, (x, t) => div(t, add(mul(x, x), 1)));
export const erfPrim = floatUnary(
  "erf",
  // erf in float64 (./erf.ts), rounded to float32 for float32.
  (a) => ex.cast(callHelper("erf", [ex.cast(a, "float64")], "float64"), a.dtype),
  (x, t) => mul(t, mul(expPrim.bind1([negPrim.bind1([mul(x, x)], {})], {}), 2 / Math.sqrt(Math.PI))),
);
/** The logistic sigmoid 1 / (1 + exp(-x)), computed without overflow. */
export const logisticPrim = floatUnary("logistic", ex.logistic, (_x, t, y) => mul(t, mul(y, sub(1, y))));

export const floorPrim = flatUnary("floor", ex.floor, FLOATS);
export const ceilPrim = flatUnary("ceil", ex.ceil, FLOATS);
/** Rounds half to even, as numpy. */
export const roundPrim = flatUnary("round", ex.round, FLOATS);
export const isNanPrim = flatUnary("is_nan", (a) => ex.ne(a, a), NUMERIC);
export const isFinitePrim = flatUnary(
  "is_finite",
  (a) => (isInteger(a.dtype) ? ex.constant(true, "bool") : ex.lt(ex.abs(a), Infinity)),
  NUMERIC,
);
export const logicalNotPrim = flatUnary("not", ex.not, ["bool"]);

/** Identity whose derivative is zero: gradients do not flow through it. */
export const stopGradientPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "stop_gradient",
  arity: 1,
  kernel: ([a]) => a!,
  jvp: ([x]) => ({ primalsOut: [x!], tangentsOut: [] }),
});

// ---------------------------------------------------------------------------------------------------
// user-facing

const toFloat = (x: NdArray): NdArray => (isFloat(x.dtype) ? x : astype(x, "float32"));
const numeric = (x: NdArray): NdArray => (x.dtype === "bool" ? astype(x, "int32") : x);
/** `x` in the dtype that `op` computes in (BOOL_OPERANDS: bool may be converted, or refused). */
const operand = (op: BoolOperandsOp, x: NdArray): NdArray => astype(x, operandDTypeFor(op, x.dtype));

/** -x, elementwise (bool input throws, as numpy and JAX: use logicalNot). */
export const negative = (x: NdArray): NdArray => negPrim.bind1([operand("negative", x)], {});
/** |x|, elementwise (bool stays bool); its derivative at 0 is 0, as PyTorch's. */
export const abs = (x: NdArray): NdArray => (x.dtype === "bool" ? x : absPrim.bind1([x], {}));
/** -1, 0 or 1 by the sign of each element (bool input throws, as numpy and JAX). */
export const sign = (x: NdArray): NdArray => signPrim.bind1([operand("sign", x)], {});
/** e ** x, elementwise (integer input gives float32, as for the other float-valued functions). */
export const exp = (x: NdArray): NdArray => expPrim.bind1([toFloat(x)], {});
/** exp(x) - 1, accurate for small x. */
export const expm1 = (x: NdArray): NdArray => expm1Prim.bind1([toFloat(x)], {});
/** The natural logarithm, elementwise. */
export const log = (x: NdArray): NdArray => logPrim.bind1([toFloat(x)], {});
/** log(1 + x), accurate for small x. */
export const log1p = (x: NdArray): NdArray => log1pPrim.bind1([toFloat(x)], {});
/** The square root, elementwise. */
export const sqrt = (x: NdArray): NdArray => sqrtPrim.bind1([toFloat(x)], {});
/** 1 / sqrt(x), elementwise. */
export const rsqrt = (x: NdArray): NdArray => rsqrtPrim.bind1([toFloat(x)], {});
/** The sine (radians), elementwise. */
export const sin = (x: NdArray): NdArray => sinPrim.bind1([toFloat(x)], {});
/** The cosine (radians), elementwise. */
export const cos = (x: NdArray): NdArray => cosPrim.bind1([toFloat(x)], {});
/** The tangent (radians), elementwise. */
export const tan = (x: NdArray): NdArray => tanPrim.bind1([toFloat(x)], {});
/** The hyperbolic tangent, elementwise. */
export const tanh = (x: NdArray): NdArray => tanhPrim.bind1([toFloat(x)], {});
/** The arctangent (radians), elementwise. */
export const atan = (x: NdArray): NdArray => atanPrim.bind1([toFloat(x)], {});
/** The Gauss error function, elementwise. */
export const erf = (x: NdArray): NdArray => erfPrim.bind1([toFloat(x)], {});
/** The logistic sigmoid 1 / (1 + exp(-x)), elementwise, without overflow for large |x|. */
export const sigmoid = (x: NdArray): NdArray => logisticPrim.bind1([toFloat(x)], {});
/** Rounds down, elementwise (integer input is returned as is). */
export const floor = (x: NdArray): NdArray => (isFloat(x.dtype) ? floorPrim.bind1([x], {}) : x);
/** Rounds up, elementwise (integer input is returned as is). */
export const ceil = (x: NdArray): NdArray => (isFloat(x.dtype) ? ceilPrim.bind1([x], {}) : x);
/** Rounds to the nearest integer, halves to even as numpy (integer input is returned as is). */
export const round = (x: NdArray): NdArray => (isFloat(x.dtype) ? roundPrim.bind1([x], {}) : x);
/** Whether each element is NaN, as a bool array. */
export const isnan = (x: NdArray): NdArray => isNanPrim.bind1([numeric(x)], {});
/** Whether each element is finite (not NaN or ±Infinity), as a bool array. */
export const isfinite = (x: NdArray): NdArray => isFinitePrim.bind1([numeric(x)], {});
/** NOT x, elementwise (input converted to bool: nonzero is true). */
export const logicalNot = (x: NdArray): NdArray =>
  logicalNotPrim.bind1([x.dtype === "bool" ? x : astype(x, "bool")], {});
/** x * x, elementwise (bool gives int32, as JAX). */
export const square = (x: NdArray): NdArray => {
  const xx = operand("square", x);
  return mul(xx, xx);
};
/** 1 / x, elementwise (integer input gives float32). */
export const reciprocal = (x: NdArray): NdArray => div(1, x);
/** The value of x, with a zero derivative: gradients do not flow through it. */
export const stopGradient = (x: NdArray): NdArray => stopGradientPrim.bind1([x], {});
