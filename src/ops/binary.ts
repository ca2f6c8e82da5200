/**
 * Elementwise primitives of two or three operands (arithmetic, comparisons, logic, select) and dtype
 * conversion, with the user-facing functions that do numpy broadcasting and JAX-style weak typing of
 * JS numbers (`x_f32 * 2` stays float32).
 */
import { NdArray } from "../core/array.js";
import {
  type BoolOperandsOp,
  checkDType,
  type DType,
  INT_RANGE,
  isFloat,
  isInteger,
  operandDTypeFor,
  promoteTypes,
  weakScalarDType,
} from "../core/dtype.js";
import * as ex from "../core/expr.js";
import type { ArrayLike } from "../core/methods-types.js";
import { type Primitive, setNarrowConverter, UndefinedPrimal } from "../core/primitive.js";
import { broadcastShapes, describeValue } from "../core/shape.js";
import { asArray, onesLike, zerosLike } from "./creation.js";
import { type ElementwisePrimitive, elementwisePrimitive } from "./elementwise-kit.js";
import { callHelper } from "./expr-js.js";
import { broadcastTo } from "./layout.js";
import { keepsConstantOf, noOpWhenLikeOutput, toOperand } from "./rewrite-kit.js";
import { floorPrim, logPrim, negPrim } from "./unary.js";

const FLOATS: readonly DType[] = ["float32", "float64"];
const NUMERIC: readonly DType[] = ["int32", "float32", "float64"];
const isUndefined = (x: unknown): x is UndefinedPrimal => x instanceof UndefinedPrimal;

type Params = Record<string, never>;
const P: Params = {};

export const addPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "add",
  arity: 2,
  accepts: NUMERIC,
  kernel: ([a, b]) => ex.add(a!, b!),
  jvp: ([x, y], [tx, ty]) => ({
    primalsOut: [addPrim.bind1([x!, y!], P)],
    tangentsOut: [addPrim.bind1([tx!, ty!], P)],
  }),
  transpose: ([ct], [x, y]) => [isUndefined(x) ? ct! : null, isUndefined(y) ? ct! : null],
  // Only rewrites exact for every IEEE value: x + (-0) = x, but not x + 0 (-0 + 0 is +0).
  compiler: {
    rewrites: () => [
      {
        law: "x + (-0) -> x",
        operands: [{ likeOutput: true }, { constant: -0 }],
        rewrite: ({ inputs: [x] }) => toOperand(x!),
      },
      {
        law: "(-0) + x -> x",
        operands: [{ constant: -0 }, { likeOutput: true }],
        rewrite: ({ inputs: [, x] }) => toOperand(x!),
      },
    ],
  },
});

export const subPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "sub",
  arity: 2,
  accepts: NUMERIC,
  kernel: ([a, b]) => ex.sub(a!, b!),
  jvp: ([x, y], [tx, ty]) => ({
    primalsOut: [subPrim.bind1([x!, y!], P)],
    tangentsOut: [subPrim.bind1([tx!, ty!], P)],
  }),
  transpose: ([ct], [x, y]) => [isUndefined(x) ? ct! : null, isUndefined(y) ? negPrim.bind1([ct!], P) : null],
  compiler: {
    rewrites: () => [
      {
        law: "x - (+0) -> x",
        operands: [{ likeOutput: true }, { constant: 0 }],
        rewrite: ({ inputs: [x] }) => toOperand(x!),
      },
    ],
  },
});

export const mulPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "mul",
  arity: 2,
  accepts: NUMERIC,
  kernel: ([a, b]) => ex.mul(a!, b!),
  jvp: ([x, y], [tx, ty]) => ({
    primalsOut: [mulPrim.bind1([x!, y!], P)],
    tangentsOut: [addPrim.bind1([mulPrim.bind1([tx!, y!], P), mulPrim.bind1([x!, ty!], P)], P)],
  }),
  transpose([ct], [x, y]) {
    if (isUndefined(x) && isUndefined(y))
      throw new Error("mul: transpose of a product of two linear inputs (not linear)");
    return isUndefined(x)
      ? [mulPrim.bind1([ct!, y as NdArray], P), null]
      : [null, mulPrim.bind1([x! as NdArray, ct!], P)];
  },
  // x * 1 = x; products with zeros are kept (0 * Inf is NaN, -3 * 0 is -0), as XLA and JAX keep them.
  compiler: {
    rewrites: () => [
      {
        law: "x * 1 -> x",
        operands: [{ likeOutput: true }, { constant: 1 }],
        rewrite: ({ inputs: [x] }) => toOperand(x!),
      },
      {
        law: "1 * x -> x",
        operands: [{ constant: 1 }, { likeOutput: true }],
        rewrite: ({ inputs: [, x] }) => toOperand(x!),
      },
    ],
  },
});

export const divPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "div",
  arity: 2,
  accepts: FLOATS,
  kernel: ([a, b]) => ex.div(a!, b!),
  jvp([x, y], [tx, ty]) {
    const out = divPrim.bind1([x!, y!], P);
    // d(x/y) = tx/y - ty * out / y
    const t = subPrim.bind1(
      [divPrim.bind1([tx!, y!], P), divPrim.bind1([mulPrim.bind1([ty!, out], P), y!], P)],
      P,
    );
    return { primalsOut: [out], tangentsOut: [t] };
  },
  transpose([ct], [x, y]) {
    if (!isUndefined(x) || isUndefined(y)) throw new Error("div: transpose is linear only in the numerator");
    return [divPrim.bind1([ct!, y! as NdArray], P), null];
  },
});

export const powPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "pow",
  arity: 2,
  accepts: NUMERIC,
  kernel: ([a, b]) => ex.pow(a!, b!),
  jvp([x, y], [tx, ty]) {
    const out = powPrim.bind1([x!, y!], P);
    if (!isFloat(out.dtype)) return { primalsOut: [out], tangentsOut: [] };
    // d/dx = y * x^(y-1) (written so that x = 0 with y >= 1 stays finite); d/dy = out * log(x), 0 at x = 0.
    const dx = mulPrim.bind1([y!, powPrim.bind1([x!, subPrim.bind1([y!, onesLike(y!)], P)], P)], P);
    const isZero = equalPrim.bind1([x!, zerosLike(x!)], P);
    const safeX = selectPrim.bind1([isZero, onesLike(x!), x!], P);
    const dy = mulPrim.bind1([out, logPrim.bind1([safeX], P)], P);
    const t = addPrim.bind1([mulPrim.bind1([tx!, dx], P), mulPrim.bind1([ty!, dy], P)], P);
    return { primalsOut: [out], tangentsOut: [t] };
  },
});

/** Parameters of the pow_scalar primitive: the constant exponent. */
export interface PowScalarParams {
  exponent: number;
}

/** x ** c for a constant exponent c (JAX's integer_pow, generalized): no log(x) in its derivative. */
export const powScalarPrim: ElementwisePrimitive<PowScalarParams> = elementwisePrimitive<PowScalarParams>({
  name: "pow_scalar",
  arity: 1,
  accepts: NUMERIC,
  kernel: ([a], { exponent }) =>
    exponent === 1
      ? a!
      : exponent === 2
        ? ex.mul(a!, a!)
        : isInteger(a!.dtype)
          ? ex.cast(
              callHelper("intPow", [ex.cast(a!, "int32"), ex.constant(exponent, "float64")], "int32"),
              a!.dtype,
            )
          : // In float64 and rounded once: the exponent is not rounded to float32.
            ex.cast(ex.pow(ex.cast(a!, "float64"), ex.constant(exponent, "float64")), a!.dtype),
  jvp([x], [t], p) {
    const out = powScalarPrim.bind1([x!], p);
    if (!isFloat(out.dtype)) return { primalsOut: [out], tangentsOut: [] };
    const c = p.exponent;
    const d =
      c === 0
        ? zerosLike(x!)
        : c === 1
          ? onesLike(x!)
          : multiply(powScalarPrim.bind1([x!], { exponent: c - 1 }), c);
    return { primalsOut: [out], tangentsOut: [mulPrim.bind1([t!, d], P)] };
  },
  formatParams: (p) => `exponent=${p.exponent}`,
});

/** maximum/minimum: on a tie each side gets half of the tangent (as PyTorch and JAX). */
function extremum(name: string, greater: boolean): ElementwisePrimitive {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 2,
    accepts: NUMERIC,
    // NaN propagates, as numpy.maximum.
    kernel: ([a, b]) => (greater ? ex.max : ex.min)(a!, b!),
    jvp([x, y], [tx, ty]) {
      const out = prim.bind1([x!, y!], P);
      const xWins = (greater ? greaterPrim : lessPrim).bind1([x!, y!], P);
      const tie = equalPrim.bind1([x!, y!], P);
      const half = multiply(addPrim.bind1([tx!, ty!], P), 0.5);
      const t = selectPrim.bind1([tie, half, selectPrim.bind1([xWins, tx!, ty!], P)], P);
      return { primalsOut: [out], tangentsOut: [t] };
    },
  });
  return prim;
}

export const maxPrim = extremum("max", true);
export const minPrim = extremum("min", false);

export const atan2Prim: ElementwisePrimitive = elementwisePrimitive({
  name: "atan2",
  arity: 2,
  accepts: FLOATS,
  kernel: ([a, b]) => ex.atan2(a!, b!),
  jvp([x, y], [tx, ty]) {
    const out = atan2Prim.bind1([x!, y!], P);
    const denom = addPrim.bind1([mulPrim.bind1([x!, x!], P), mulPrim.bind1([y!, y!], P)], P);
    const num = subPrim.bind1([mulPrim.bind1([y!, tx!], P), mulPrim.bind1([x!, ty!], P)], P);
    return { primalsOut: [out], tangentsOut: [divPrim.bind1([num, denom], P)] };
  },
});

/** Remainder with the sign of the dividend (C fmod, lax.rem). np.mod builds on it. */
export const remPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "rem",
  arity: 2,
  accepts: NUMERIC,
  kernel: ([a, b]) => ex.rem(a!, b!),
  jvp([x, y], [tx, ty]) {
    const out = remPrim.bind1([x!, y!], P);
    // d/dx = 1, d/dy = -trunc(x / y)
    const q = divPrim.bind1([x!, y!], P);
    const trunc = selectPrim.bind1(
      [
        lessPrim.bind1([q, zerosLike(q)], P),
        negPrim.bind1([floorPrim.bind1([negPrim.bind1([q], P)], P)], P),
        floorPrim.bind1([q], P),
      ],
      P,
    );
    return { primalsOut: [out], tangentsOut: [subPrim.bind1([tx!, mulPrim.bind1([ty!, trunc], P)], P)] };
  },
});

/**
 * The numpy kernel of a float or integer `//` or `%` (kernelLib: npy_divmod, rounding per dtype). Integers
 * other than int32 compute in float64 (exact: their values and quotients are integers below 2**32) and
 * wrap to their dtype.
 */
const divmodKernel =
  (fn: "floorDivide" | "mod") =>
  ([a, b]: readonly ex.Expr[]): ex.Expr => {
    const d = a!.dtype;
    if (d === "int32") return callHelper(`${fn}Int`, [a!, b!], d);
    if (isInteger(d)) {
      const [x, y] = [ex.cast(a!, "float64"), ex.cast(b!, "float64")];
      // numpy: an integer divisor of 0 gives 0.
      return ex.cast(ex.select(ex.eq(y, 0), 0, callHelper(`${fn}64`, [x, y], "float64")), d);
    }
    return callHelper(`${fn}${d === "float32" ? "32" : "64"}`, [a!, b!], d);
  };

/** numpy's `//` (Python's floor division: `4 // 0.4` is 9). Piecewise constant: zero derivative. */
export const floorDividePrim: ElementwisePrimitive = elementwisePrimitive({
  name: "floor_divide",
  arity: 2,
  accepts: NUMERIC,
  kernel: divmodKernel("floorDivide"),
  jvp: ([x, y]) => ({ primalsOut: [floorDividePrim.bind1([x!, y!], P)], tangentsOut: [] }),
});

/** numpy's `%`: the remainder with the sign of the divisor, `x - y * (x // y)` as npy_divmod computes it. */
export const modPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "mod",
  arity: 2,
  accepts: NUMERIC,
  kernel: divmodKernel("mod"),
  jvp([x, y], [tx, ty]) {
    const out = modPrim.bind1([x!, y!], P);
    if (!isFloat(out.dtype)) return { primalsOut: [out], tangentsOut: [] };
    // d/dx = 1, d/dy = -(x // y)
    const q = floorDividePrim.bind1([x!, y!], P);
    return { primalsOut: [out], tangentsOut: [subPrim.bind1([tx!, mulPrim.bind1([ty!, q], P)], P)] };
  },
});

function comparison(name: string, op: (x: ex.Expr, y: ex.Expr) => ex.Expr): ElementwisePrimitive {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 2,
    kernel: ([a, b]) => op(a!, b!),
    jvp: ([x, y]) => ({ primalsOut: [prim.bind1([x!, y!], P)], tangentsOut: [] }),
  });
  return prim;
}

export const equalPrim = comparison("eq", ex.eq);
export const notEqualPrim = comparison("ne", ex.ne);
export const lessPrim = comparison("lt", ex.lt);
export const lessEqualPrim = comparison("le", ex.le);
export const greaterPrim = comparison("gt", ex.gt);
export const greaterEqualPrim = comparison("ge", ex.ge);

function logical(name: string, op: (x: ex.Expr, y: ex.Expr) => ex.Expr): ElementwisePrimitive {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 2,
    accepts: ["bool"],
    kernel: ([a, b]) => op(a!, b!),
    jvp: ([x, y]) => ({ primalsOut: [prim.bind1([x!, y!], P)], tangentsOut: [] }),
  });
  return prim;
}

export const andPrim = logical("and", ex.and);
export const orPrim = logical("or", ex.or);
export const xorPrim = logical("xor", ex.xor);

/** select(cond, a, b): a where cond, else b. Linear in a and b. */
export const selectPrim: ElementwisePrimitive = elementwisePrimitive({
  name: "select",
  arity: 3,
  mixedDtypes: true,
  kernel: ([c, a, b]) => ex.select(c!, a!, b!),
  jvp: ([c, x, y], [, tx, ty]) => ({
    primalsOut: [selectPrim.bind1([c!, x!, y!], P)],
    tangentsOut: [selectPrim.bind1([c!, tx!, ty!], P)],
  }),
  transpose([ct], [c, x, y]) {
    if (isUndefined(c)) throw new Error("select: the condition cannot be a linear input");
    const zero = zerosLike(ct!);
    return [
      null,
      isUndefined(x) ? selectPrim.bind1([c! as NdArray, ct!, zero], P) : null,
      isUndefined(y) ? selectPrim.bind1([c! as NdArray, zero, ct!], P) : null,
    ];
  },
  compiler: {
    rewrites: () => [
      {
        law: "select(p, c, c) -> c",
        operands: [null, { constant: "any" }, { constant: "any" }],
        when: ({ constants: [, a, b] }) => Object.is(a, b),
        rewrite: ({ constants: [, c] }) => ({ kind: "constant", value: c! }),
      },
    ],
  },
});

/** Parameters of the convert primitive: the target dtype. */
export interface ConvertParams {
  dtype: DType;
}

export const convertPrim: ElementwisePrimitive<ConvertParams> = elementwisePrimitive<ConvertParams>({
  name: "convert",
  arity: 1,
  readsHalfBits: true,
  kernel: ([a], p) => ex.cast(a!, p.dtype),
  jvp([x], [t], p) {
    const y = convertPrim.bind1([x!], p);
    if (!isFloat(x!.dtype) || !isFloat(p.dtype)) return { primalsOut: [y], tangentsOut: [] };
    return { primalsOut: [y], tangentsOut: [convertPrim.bind1([t!], p)] };
  },
  transpose: ([ct], [x]) => [convertPrim.bind1([ct!], { dtype: (x as UndefinedPrimal).aval.dtype })],
  compiler: {
    rewrites: () => [noOpWhenLikeOutput("convert(x) to x's dtype -> x"), keepsConstantOf("convert(c) -> c")],
  },
  formatParams: (p) => `dtype=${p.dtype}`,
});

// Primitives that compute narrow dtypes in wide ones (`widenNarrow`) convert with it.
setNarrowConverter((x, dtype) => convertPrim.bind1([x], { dtype }));

// ---------------------------------------------------------------------------------------------------
// user-facing: weak typing, promotion, broadcasting

/** Converts operands to arrays of one dtype, JS numbers taking the dtype of the array operands. */
export function promoteOperands(op: string, xs: readonly ArrayLike[], minimum?: "float"): NdArray[] {
  xs.forEach((x, i) => {
    if (!(x instanceof NdArray) && typeof x !== "number" && typeof x !== "boolean")
      throw new TypeError(
        `${op}: operand ${i + 1} is ${Array.isArray(x) ? "a JS array (wrap it with np.array)" : describeValue(x)}; expected an array or a JS number or boolean`,
      );
  });
  const arrays = xs.filter((x): x is NdArray => typeof x === "object");
  let dtype: DType | null = null;
  for (const a of arrays) dtype = dtype === null ? a.dtype : promoteTypes(dtype, a.dtype);
  for (const x of xs) {
    if (typeof x !== "object")
      dtype = dtype === null ? (typeof x === "boolean" ? "bool" : "float32") : weakScalarDType(dtype, x);
  }
  let target: DType = dtype ?? "float32";
  if (minimum === "float" && !isFloat(target)) target = "float32";
  const range = INT_RANGE[target];
  for (const x of xs) {
    // As JAX: a weak integer must fit the integer dtype it becomes (a silent wraparound would be a wrong answer).
    if (range && typeof x === "number" && (x < range[0] || x > range[1]))
      throw new RangeError(
        `${op}: the JS number ${x} does not fit ${target} (the dtype of the array operands); convert the array first`,
      );
  }
  return xs.map((x) => {
    const a = asArray(x, target);
    return a.dtype === target ? a : astype(a, target);
  });
}

/** The logical primitive that an arithmetic op is on bool operands (`BOOL_OPERANDS` rule `bool`). */
const BOOL_PRIMS: Partial<Record<BoolOperandsOp, Primitive<Params>>> = {
  add: orPrim,
  multiply: andPrim,
  maximum: orPrim,
  minimum: andPrim,
};

function binary(
  prim: Primitive<Params>,
  op: string,
  x: ArrayLike,
  y: ArrayLike,
  minimum?: "float" | "bool",
): NdArray {
  let [a, b] = promoteOperands(op, [x, y], minimum === "float" ? "float" : undefined) as [NdArray, NdArray];
  if (minimum === "bool" && a.dtype !== "bool") [a, b] = [astype(a, "bool"), astype(b, "bool")];
  const shape = broadcastShapes(op, a.shape, b.shape);
  return prim.bind1([broadcastTo(a, shape), broadcastTo(b, shape)], P);
}

/** An arithmetic op: bool operands follow its `BOOL_OPERANDS` rule (a logical op, a conversion or an error). */
function arithmetic(prim: Primitive<Params>, op: BoolOperandsOp, x: ArrayLike, y: ArrayLike): NdArray {
  let [a, b] = promoteOperands(op, [x, y]) as [NdArray, NdArray];
  const dtype = operandDTypeFor(op, a.dtype);
  const shape = broadcastShapes(op, a.shape, b.shape);
  if (dtype === "bool") return BOOL_PRIMS[op]!.bind1([broadcastTo(a, shape), broadcastTo(b, shape)], P);
  [a, b] = [astype(a, dtype), astype(b, dtype)];
  return prim.bind1([broadcastTo(a, shape), broadcastTo(b, shape)], P);
}

/** x + y, elementwise with numpy broadcasting and dtype promotion (bool + bool is OR, as JAX). */
export const add = (x: ArrayLike, y: ArrayLike): NdArray => arithmetic(addPrim, "add", x, y);
/** x - y, elementwise with numpy broadcasting and dtype promotion (bool - bool throws, as numpy and JAX). */
export const subtract = (x: ArrayLike, y: ArrayLike): NdArray => arithmetic(subPrim, "subtract", x, y);
/** x * y, elementwise with numpy broadcasting and dtype promotion (bool * bool is AND, as JAX). */
export const multiply = (x: ArrayLike, y: ArrayLike): NdArray => arithmetic(mulPrim, "multiply", x, y);
/** True division: integer operands give float32. */
export const divide = (x: ArrayLike, y: ArrayLike): NdArray => binary(divPrim, "divide", x, y, "float");
/**
 * numpy's `//` (Python's floor division, npy_divmod): `4 // 0.4` is 9 and `3 // -Infinity` is -1, so that
 * `floorDivide(x, y) * y + mod(x, y)` is x. Integer operands give an integer result, 0 for a zero divisor
 * (as numpy); bool operands give int32 (as JAX).
 */
export const floorDivide = (x: ArrayLike, y: ArrayLike): NdArray =>
  arithmetic(floorDividePrim, "floorDivide", x, y);
/** The elementwise maximum with numpy broadcasting; NaN propagates (numpy maximum). On ties the gradient is split evenly. */
export const maximum = (x: ArrayLike, y: ArrayLike): NdArray => arithmetic(maxPrim, "maximum", x, y);
/** The elementwise minimum with numpy broadcasting; NaN propagates (numpy minimum). On ties the gradient is split evenly. */
export const minimum = (x: ArrayLike, y: ArrayLike): NdArray => arithmetic(minPrim, "minimum", x, y);
/** The arctangent of x / y in radians, the quadrant from both signs (numpy arctan2, `Math.atan2`). */
export const atan2 = (x: ArrayLike, y: ArrayLike): NdArray => binary(atan2Prim, "atan2", x, y, "float");
/** C-style remainder (sign of the dividend); an integer zero divisor gives 0. */
export const rem = (x: ArrayLike, y: ArrayLike): NdArray => arithmetic(remPrim, "rem", x, y);
/**
 * numpy mod (`%`): the remainder has the sign of the divisor, consistent with `floorDivide`
 * (npy_divmod). An integer zero divisor gives 0, as numpy.
 */
export const mod = (x: ArrayLike, y: ArrayLike): NdArray => arithmetic(modPrim, "mod", x, y);

/**
 * x ** y. Integers stay integers (int32 wraparound, as numpy and JAX); an integer array raised to a
 * negative integer array gives ±1 for a base of ±1, else 0, and to a negative JS number throws. A JS
 * number exponent becomes a parameter (pow_scalar), so d/dx has no log(x) term.
 */
export function power(x: ArrayLike, y: ArrayLike): NdArray {
  if (typeof y === "number" && typeof x === "object") {
    const dtype = operandDTypeFor("power", weakScalarDType(x.dtype, y));
    if (isInteger(dtype) && y < 0)
      throw new TypeError(
        `power: an integer array (${x.dtype}) to the negative integer power ${y} is not supported (numpy and JAX refuse it too); use a float base`,
      );
    return powScalarPrim.bind1([astype(x, dtype)], { exponent: y });
  }
  return arithmetic(powPrim, "power", x, y);
}

/** x == y, elementwise, as a bool array. */
export const equal = (x: ArrayLike, y: ArrayLike): NdArray => binary(equalPrim, "equal", x, y);
/** x != y, elementwise, as a bool array. */
export const notEqual = (x: ArrayLike, y: ArrayLike): NdArray => binary(notEqualPrim, "notEqual", x, y);
/** x < y, elementwise, as a bool array. */
export const less = (x: ArrayLike, y: ArrayLike): NdArray => binary(lessPrim, "less", x, y);
/** x <= y, elementwise, as a bool array. */
export const lessEqual = (x: ArrayLike, y: ArrayLike): NdArray => binary(lessEqualPrim, "lessEqual", x, y);
/** x > y, elementwise, as a bool array. */
export const greater = (x: ArrayLike, y: ArrayLike): NdArray => binary(greaterPrim, "greater", x, y);
/** x >= y, elementwise, as a bool array. */
export const greaterEqual = (x: ArrayLike, y: ArrayLike): NdArray =>
  binary(greaterEqualPrim, "greaterEqual", x, y);
/** x AND y, elementwise (operands converted to bool: nonzero is true). */
export const logicalAnd = (x: ArrayLike, y: ArrayLike): NdArray =>
  binary(andPrim, "logicalAnd", x, y, "bool");
/** x OR y, elementwise (operands converted to bool: nonzero is true). */
export const logicalOr = (x: ArrayLike, y: ArrayLike): NdArray => binary(orPrim, "logicalOr", x, y, "bool");
/** x XOR y, elementwise (operands converted to bool: nonzero is true). */
export const logicalXor = (x: ArrayLike, y: ArrayLike): NdArray =>
  binary(xorPrim, "logicalXor", x, y, "bool");

/** Elements of `x` where `cond` holds, else of `y` (numpy where, with broadcasting). */
export function where(cond: ArrayLike, x: ArrayLike, y: ArrayLike): NdArray {
  const c0 = asArray(cond, "bool");
  const c = c0.dtype === "bool" ? c0 : astype(c0, "bool");
  const [a, b] = promoteOperands("where", [x, y]) as [NdArray, NdArray];
  const shape = broadcastShapes("where", c.shape, a.shape, b.shape);
  return selectPrim.bind1([broadcastTo(c, shape), broadcastTo(a, shape), broadcastTo(b, shape)], P);
}

/** Limits values to [lo, hi] (either may be omitted with null). */
export function clip(x: NdArray, lo: ArrayLike | null, hi: ArrayLike | null): NdArray {
  // bool stays bool with bool bounds (BOOL_OPERANDS "clip"), through maximum/minimum's rules.
  let out = x;
  if (lo !== null) out = maximum(out, lo);
  if (hi !== null) out = minimum(out, hi);
  return out;
}

/**
 * A sum of products computed in int32 for bool operands, back in bool where `op`'s `BOOL_OPERANDS` rule
 * keeps bool (OR of ANDs: nonzero is true, as numpy's bool matmul).
 */
export function asBoolResult(op: BoolOperandsOp, operandDType: DType, out: NdArray): NdArray {
  return operandDType === "bool" && operandDTypeFor(op, "bool") === "bool" ? notEqual(out, 0) : out;
}

/** Converts to another dtype (float to int truncates toward zero; nonzero to bool is true). */
export function astype(x: NdArray, dtype: DType): NdArray {
  if (x.dtype === dtype) return x;
  checkDType("astype", dtype);
  return convertPrim.bind1([x], { dtype });
}

/** Alias of `subtract`. */
export const sub = subtract;
/** Alias of `multiply`. */
export const mul = multiply;
/** Alias of `divide`. */
export const div = divide;
/** Alias of `power`. */
export const pow = power;
