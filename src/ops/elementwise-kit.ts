/**
 * What every elementwise primitive shares: operands of one shape, a kernel generated from a JS
 * expression (the same expression the jit fuses), and the batching rule. A primitive built here still
 * declares its own derivative rules in its own file.
 */

import { expf, logf, logisticf, tanhf } from "../backend/js/f32-math.js";
import { type AbstractValue, ConcreteArray, type NdArray } from "../core/array.js";
import { type DType, storageFor, type TypedArray } from "../core/dtype.js";
import {
  type BatchDim,
  type JvpResult,
  type Primitive,
  type PrimitiveRules,
  paramsKey,
  primitive,
  type UndefinedPrimal,
} from "../core/primitive.js";
import { fmtShape, ShapeError, shapeEquals, sizeOf } from "../core/shape.js";
import * as fdlibm from "./fdlibm.js";
import { broadcastInDimPrim, moveAxisTo0 } from "./layout.js";

/** An expression over operand names (`a`, `b`, `c`) for one output element; `dtype` is the output's. */
export type ElementwiseExpr<P = unknown> = (
  args: readonly string[],
  dtype: DType,
  inDtype: DType,
  params: P,
) => string;

export interface ElementwiseSpec {
  /** The JS expression computing one element; the jit fuses these. */
  readonly expr: ElementwiseExpr;
  readonly arity: number;
}

export interface ElementwiseRules<P> {
  name: string;
  arity: number;
  expr: ElementwiseExpr<P>;
  /** Output dtype from the (common) input dtype; default: the same. */
  outDtype?: (dtype: DType, params: P) => DType;
  /** Allowed input dtypes; others throw a clear error. Default: any. */
  accepts?: readonly DType[];
  /** Input dtypes may differ (select: the condition is bool). */
  mixedDtypes?: boolean;
  jvp: (primals: readonly NdArray[], tangents: readonly NdArray[], params: P) => JvpResult;
  transpose?: PrimitiveRules<P>["transpose"];
  formatParams?: PrimitiveRules<P>["formatParams"];
}

export type ElementwisePrimitive<P = unknown> = Primitive<P> & { readonly elementwise: ElementwiseSpec };

/**
 * Helpers that expressions may call as `lib.name(...)`: functions Math lacks, exp and log as fdlibm
 * computes them (engines' Math.exp and Math.log differ in the last bit, see ./fdlibm.ts), and the float32
 * exp, log, tanh and logistic that every kernel computes alike (backend/js/f32-math.ts).
 */
export const kernelLib = {
  exp: fdlibm.exp,
  log: fdlibm.log,
  /** Error function: Maclaurin series below 2.5, continued fraction for erfc above; about 1e-16 in float64. */
  erf(x: number): number {
    return erf(x);
  },
  expf,
  logf,
  tanhf,
  logisticf,
  roundHalfEven(x: number): number {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
  },
  /**
   * IEEE/C pow, as numpy, JAX and PyTorch: `1 ** y` and `(-1) ** ±Infinity` are 1, where JS's `**` gives
   * NaN (the only cases where the two differ).
   */
  pow(a: number, b: number): number {
    return a === 1 || (a === -1 && (b === Infinity || b === -Infinity)) ? 1 : a ** b;
  },
  /**
   * int32 `base ** exp` with int32 wraparound, as numpy. A negative exponent gives the reciprocal rounded
   * toward zero: ±1 for a base of ±1, else 0 (numpy refuses it; JAX's result is unspecified).
   */
  intPow(base: number, exp: number): number {
    if (exp < 0) return base === 1 ? 1 : base === -1 ? (exp % 2 === 0 ? 1 : -1) : 0;
    let acc = 1;
    let b = base | 0;
    // Halving (not >>) keeps exponents beyond 2**31 exact; multiplication mod 2**32 needs no order.
    for (let e = exp; e > 0; e = Math.floor(e / 2)) {
      if (e % 2 === 1) acc = Math.imul(acc, b);
      b = Math.imul(b, b);
    }
    return acc;
  },
  /** numpy's int `//`: rounds toward -inf; a zero divisor gives 0, as numpy. */
  floorDivideInt(a: number, b: number): number {
    return b === 0 ? 0 : Math.floor(a / b) | 0;
  },
  /** numpy's int `%`: the sign of the divisor; a zero divisor gives 0, as numpy. */
  modInt(a: number, b: number): number {
    if (b === 0) return 0;
    const r = a % b;
    return r !== 0 && r < 0 !== b < 0 ? r + b : r | 0;
  },
  ...pythonDivmod("64", (v) => v),
  ...pythonDivmod("32", Math.fround),
};

/**
 * numpy's float `//` and `%` (npy_divmod, after CPython's float_divmod): the remainder from fmod, the
 * quotient from (x - mod) / y snapped to an integer, so that `q * y + mod` is x as closely as floats allow
 * (`4 // 0.4` is 9, not floor(4 / 0.4) = 10). `round` rounds each step to the dtype (Math.fround for
 * float32), so float32 gives numpy's float32 results.
 */
function pythonDivmod<S extends string>(
  suffix: S,
  round: (v: number) => number,
): Record<`floorDivide${S}` | `mod${S}`, (a: number, b: number) => number> {
  const floorDivide = (a: number, b: number): number => {
    if (b === 0) return round(a / b);
    let mod = a % b;
    let div = round(round(a - mod) / b);
    if (mod !== 0) {
      if (b < 0 !== mod < 0) {
        mod = round(mod + b);
        div = round(div - 1);
      }
    }
    if (div === 0) return a / b < 0 || Object.is(a / b, -0) ? -0 : 0;
    let q = Math.floor(div);
    if (round(div - q) > 0.5) q += 1;
    return q;
  };
  const mod = (a: number, b: number): number => {
    const r = a % b;
    if (b === 0) return r;
    if (r === 0) return b < 0 ? -0 : 0;
    return b < 0 !== r < 0 ? round(r + b) : r;
  };
  return { [`floorDivide${suffix}`]: floorDivide, [`mod${suffix}`]: mod } as Record<
    `floorDivide${S}` | `mod${S}`,
    (a: number, b: number) => number
  >;
}

function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: converges quickly for small |x|.
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // Continued fraction for erfc (Lentz's method).
  const tiny = 1e-300;
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? tiny : 1 / d;
    c = ax + an / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const kernelCache = new Map<string, (ins: TypedArray[], out: TypedArray, n: number) => void>();

/** A loop over `n` elements for the expression, compiled once per (primitive, dtypes). */
export function elementwiseKernel<P>(
  name: string,
  expr: ElementwiseExpr<P>,
  arity: number,
  inDtype: DType,
  outDtype: DType,
  params: P,
): (ins: TypedArray[], out: TypedArray, n: number) => void {
  const key = `${name}:${inDtype}:${outDtype}:${paramsKey(params)}`;
  let k = kernelCache.get(key);
  if (k === undefined) {
    const names = ["a", "b", "c"].slice(0, arity);
    const loads = names.map((v, i) => `const ${v} = in${i}[i];`).join(" ");
    const decl = names.map((_, i) => `const in${i} = ins[${i}];`).join(" ");
    const body = `${decl} for (let i = 0; i < n; i++) { ${loads} out[i] = ${expr(names, outDtype, inDtype, params)}; }`;
    k = new Function("lib", `return function ${name}Kernel(ins, out, n) { ${body} };`)(kernelLib) as (
      ins: TypedArray[],
      out: TypedArray,
      n: number,
    ) => void;
    kernelCache.set(key, k);
  }
  return k;
}

export function elementwisePrimitive<P = Record<string, never>>(
  rules: ElementwiseRules<P>,
): ElementwisePrimitive<P> {
  const { name, arity } = rules;
  const outDtypeOf = (d: DType, p: P): DType => (rules.outDtype ? rules.outDtype(d, p) : d);
  const prim: Primitive<P> = primitive<P>({
    name,
    abstractEval(args, params) {
      if (args.length !== arity)
        throw new ShapeError(`${name}: expected ${arity} operands, got ${args.length}`);
      const first = args[0]!;
      for (const a of args) {
        if (!shapeEquals(a.shape, first.shape)) {
          throw new ShapeError(
            `${name}: operand shapes differ: ${args.map((x) => fmtShape(x.shape)).join(" vs ")}`,
          );
        }
        if (!rules.mixedDtypes && a.dtype !== first.dtype) {
          throw new ShapeError(`${name}: operand dtypes differ: ${args.map((x) => x.dtype).join(" vs ")}`);
        }
      }
      const d = inputDtype(args);
      if (rules.accepts && !rules.accepts.includes(d)) {
        throw new ShapeError(
          `${name}: dtype ${d} is not supported (expected one of ${rules.accepts.join(", ")})`,
        );
      }
      return [{ shape: first.shape, dtype: outDtypeOf(d, params) }];
    },
    impl(args, params) {
      const d = inputDtype(args);
      const od = outDtypeOf(d, params);
      const n = sizeOf(args[0]!.shape);
      const out = storageFor(od, n);
      elementwiseKernel(
        name,
        rules.expr,
        arity,
        d,
        od,
        params,
      )(
        args.map((a) => a.data),
        out,
        n,
      );
      return [new ConcreteArray(args[0]!.shape, od, out)];
    },
    jvp: rules.jvp,
    batch: (args, dims, params) => [[prim.bind1(alignBatched(args, dims), params)], [0]],
    ...(rules.transpose ? { transpose: rules.transpose } : {}),
    ...(rules.formatParams ? { formatParams: rules.formatParams } : {}),
  });
  return Object.assign(prim, { elementwise: { expr: rules.expr as ElementwiseExpr, arity } });
}

/** The dtype the expression computes in: that of the last operand (select's condition comes first). */
function inputDtype(args: readonly AbstractValue[]): DType {
  return args[args.length - 1]!.dtype;
}

/** Moves every batch axis to the front, broadcasting unbatched operands along it. */
export function alignBatched(args: readonly NdArray[], dims: readonly BatchDim[]): NdArray[] {
  let size = -1;
  args.forEach((a, i) => {
    const d = dims[i];
    if (d !== null && d !== undefined) size = a.shape[d]!;
  });
  return args.map((a, i) => {
    const d = dims[i];
    if (d !== null && d !== undefined) return moveAxisTo0(a, d);
    return broadcastInDimPrim.bind1([a], {
      shape: [size, ...a.shape],
      broadcastDimensions: a.shape.map((_, j) => j + 1),
    });
  });
}

export type { UndefinedPrimal };
