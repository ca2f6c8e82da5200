/**
 * The scalar-expression IR of elementwise work: what one output element of an elementwise primitive is,
 * as a small typed tree (in the spirit of jax-js's AluExp and tinygrad's UOps). An elementwise primitive
 * declares its kernel as a function from operand expressions to such a tree (ops/elementwise-kit.ts);
 * the JS renderer (ops/expr-js.ts) makes it the eager kernel and the JS fused loop, the WebAssembly SIMD
 * renderer (compiler/expr-wasm.ts) the wasm fused loop, and constant folding evaluates it.
 *
 * Semantics, the same in every renderer: a node's value is rounded to its dtype. float32 arithmetic
 * rounds after every node (as a float32 machine does); integer arithmetic wraps modulo 2^bits of its
 * dtype (uint8 200 + 100 is 44, as numpy); bool values are true or false. float16 and bfloat16 are storage
 * types here: only `input` and `cast` nodes have them (a half `input` is the stored bits, a cast to a half
 * rounds to nearest even and gives bits); the elementwise kit (ops/elementwise-kit.ts) computes an op on
 * half operands in float32 and casts its result back, so each op rounds once, as numpy on CPUs. Math nodes compute what the library's kernels compute: exp and log of float64 are
 * fdlibm.s (backend/js/fdlibm.ts), exp, log, tanh and logistic of float32 the float32 algorithms of
 * backend/js/f32-math.ts, the others JavaScript's Math functions rounded to the node's dtype. To compute
 * in float64 and round once (as `1 / sqrt(x)` in float32 does), cast to float64 and back.
 *
 * Nodes are immutable and may be shared (a tree is a DAG): renderers compute a shared node once.
 */
import { castScalar, type DType, isHalf, isInteger } from "./dtype.js";

/** Arithmetic of two operands of one dtype. */
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  /** float only. */
  | "div"
  /** The remainder with the sign of the dividend (C fmod; int32: 0 for a zero divisor). */
  | "rem"
  /** numpy maximum/minimum: NaN if either operand is NaN, else `x > y ? x : y` (min: `<`). */
  | "max"
  | "min"
  /** IEEE/C pow (`1 ** NaN` is 1); int32: wraps, a negative exponent gives ±1 for a base of ±1, else 0. */
  | "pow"
  /** float only: Math.atan2(x, y). */
  | "atan2"
  /** float only: Math.hypot(x, y). */
  | "hypot";

/** Functions of one operand, in its dtype. float only unless said otherwise. */
export type UnaryOp =
  /** every numeric dtype */
  | "neg"
  /** every numeric dtype */
  | "abs"
  /** every numeric dtype: -1, 0 or 1 (NaN and ±0 as they are). */
  | "sign"
  | "floor"
  | "ceil"
  /** Round half to even. */
  | "round"
  | "trunc"
  | "sqrt"
  | "cbrt"
  | "exp"
  | "exp2"
  | "expm1"
  | "log"
  | "log2"
  | "log10"
  | "log1p"
  | "sin"
  | "cos"
  | "tan"
  | "asin"
  | "acos"
  | "atan"
  | "sinh"
  | "cosh"
  | "tanh"
  | "asinh"
  | "acosh"
  | "atanh"
  /** The logistic sigmoid 1 / (1 + exp(-x)), without overflow. */
  | "logistic";

/** IEEE comparisons (false with NaN, but `ne`), giving bool. */
export type CompareOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

/** Logic on bool operands. */
export type LogicOp = "and" | "or" | "xor";

export type ExprNode =
  /** Operand `index` of the elementwise op (or, in a fused loop, a value computed before). */
  | { readonly op: "input"; readonly index: number }
  /** A constant, already rounded to the node's dtype. */
  | { readonly op: "const"; readonly value: number }
  | { readonly op: BinaryOp; readonly x: Expr; readonly y: Expr }
  | { readonly op: UnaryOp; readonly x: Expr }
  | { readonly op: CompareOp; readonly x: Expr; readonly y: Expr }
  | { readonly op: LogicOp; readonly x: Expr; readonly y: Expr }
  | { readonly op: "not"; readonly x: Expr }
  /** `cond ? x : y`, cond bool. */
  | { readonly op: "select"; readonly cond: Expr; readonly x: Expr; readonly y: Expr }
  /**
   * Conversion to the node's dtype, as core/dtype.ts's castScalar: float to an integer dtype truncates
   * toward zero, then wraps modulo 2^bits (NaN and ±Infinity give 0), to bool is `x !== 0` (true for
   * NaN), bool to a number is 0 or 1, to float32 rounds to nearest, to float16/bfloat16 rounds to nearest
   * even (overflowing to ±Infinity) and gives the bits; from a half type it reads the bits' value.
   */
  | { readonly op: "cast"; readonly x: Expr }
  /**
   * A scalar helper of the JS kernels (`lib.<fn>`, ops/expr-js.ts): for what has no tree of the nodes
   * above (numpy's floor division, erf). Renderers without the helper report it.
   */
  | { readonly op: "call"; readonly fn: string; readonly args: readonly Expr[] };

/** A node of an expression tree, with the dtype of its value. */
export type Expr = ExprNode & { readonly dtype: DType };

export type ExprOp = ExprNode["op"];

/** A typed error of a tree that does not type-check, naming the node. */
export class ExprError extends TypeError {
  override name = "ExprError";
}

const FLOAT_ONLY_BINARY: ReadonlySet<BinaryOp> = new Set(["div", "atan2", "hypot"]);
const NUMERIC_UNARY: ReadonlySet<UnaryOp> = new Set(["neg", "abs", "sign"]);

/** A dtype arithmetic nodes compute in: float32, float64 (halves are computed in float32). */
function isFloatDType(d: DType): boolean {
  return d === "float32" || d === "float64";
}

/** Throws unless arithmetic nodes may have `dtype` (every dtype but the halves, which are stored only). */
function checkComputed(op: string, dtype: DType): void {
  if (isHalf(dtype))
    throw new ExprError(`expression ${op}: ${dtype} is a storage type; cast it to float32 to compute`);
}

function sameDtype(op: string, x: Expr, y: Expr): DType {
  if (x.dtype !== y.dtype)
    throw new ExprError(`expression ${op}: operand dtypes differ (${x.dtype} vs ${y.dtype})`);
  return x.dtype;
}

/** Operand `index`, of dtype `dtype`. */
export function input(index: number, dtype: DType): Expr {
  return { op: "input", index, dtype };
}

/** The constant `value` in `dtype` (rounded to float32, checked for the integer dtypes, true/false for bool). */
export function constant(value: number | boolean, dtype: DType): Expr {
  checkComputed("const", dtype);
  let v = typeof value === "boolean" ? (value ? 1 : 0) : value;
  if (dtype === "float32") v = Math.fround(v);
  else if (isInteger(dtype)) {
    if (castScalar(v, dtype) !== v && !Object.is(v, -0))
      throw new ExprError(`expression const: ${v} is not an ${dtype} value`);
    v = castScalar(v, dtype);
  } else if (dtype === "bool") v = v !== 0 ? 1 : 0;
  return { op: "const", value: v, dtype };
}

/** A constant of `x`'s dtype. */
export function like(x: Expr, value: number | boolean): Expr {
  return constant(value, x.dtype);
}

function binary(op: BinaryOp, x: Expr, y: Expr): Expr {
  const dtype = sameDtype(op, x, y);
  checkComputed(op, dtype);
  if (dtype === "bool" || (FLOAT_ONLY_BINARY.has(op) && !isFloatDType(dtype)))
    throw new ExprError(`expression ${op}: not defined for ${dtype}`);
  return { op, x, y, dtype };
}

function unary(op: UnaryOp, x: Expr): Expr {
  checkComputed(op, x.dtype);
  const ok = NUMERIC_UNARY.has(op) ? x.dtype !== "bool" : isFloatDType(x.dtype);
  if (!ok) throw new ExprError(`expression ${op}: not defined for ${x.dtype}`);
  return { op, x, dtype: x.dtype };
}

/** An operand: an expression, or a JS number or boolean taking the other operand's dtype. */
export type Operand = Expr | number | boolean;

function pair(x: Operand, y: Operand): [Expr, Expr] {
  if (typeof x === "object" && typeof y === "object") return [x, y];
  if (typeof x === "object") return [x, constant(y as number | boolean, x.dtype)];
  if (typeof y === "object") return [constant(x, y.dtype), y];
  throw new ExprError("expression: at least one operand must be an expression");
}

export const add = (x: Operand, y: Operand): Expr => binary("add", ...pair(x, y));
export const sub = (x: Operand, y: Operand): Expr => binary("sub", ...pair(x, y));
export const mul = (x: Operand, y: Operand): Expr => binary("mul", ...pair(x, y));
export const div = (x: Operand, y: Operand): Expr => binary("div", ...pair(x, y));
export const rem = (x: Operand, y: Operand): Expr => binary("rem", ...pair(x, y));
export const max = (x: Operand, y: Operand): Expr => binary("max", ...pair(x, y));
export const min = (x: Operand, y: Operand): Expr => binary("min", ...pair(x, y));
export const pow = (x: Operand, y: Operand): Expr => binary("pow", ...pair(x, y));
export const atan2 = (x: Operand, y: Operand): Expr => binary("atan2", ...pair(x, y));
export const hypot = (x: Operand, y: Operand): Expr => binary("hypot", ...pair(x, y));

export const neg = (x: Expr): Expr => unary("neg", x);
export const abs = (x: Expr): Expr => unary("abs", x);
export const sign = (x: Expr): Expr => unary("sign", x);
export const floor = (x: Expr): Expr => unary("floor", x);
export const ceil = (x: Expr): Expr => unary("ceil", x);
export const round = (x: Expr): Expr => unary("round", x);
export const trunc = (x: Expr): Expr => unary("trunc", x);
export const sqrt = (x: Expr): Expr => unary("sqrt", x);
export const cbrt = (x: Expr): Expr => unary("cbrt", x);
export const exp = (x: Expr): Expr => unary("exp", x);
export const exp2 = (x: Expr): Expr => unary("exp2", x);
export const expm1 = (x: Expr): Expr => unary("expm1", x);
export const log = (x: Expr): Expr => unary("log", x);
export const log2 = (x: Expr): Expr => unary("log2", x);
export const log10 = (x: Expr): Expr => unary("log10", x);
export const log1p = (x: Expr): Expr => unary("log1p", x);
export const sin = (x: Expr): Expr => unary("sin", x);
export const cos = (x: Expr): Expr => unary("cos", x);
export const tan = (x: Expr): Expr => unary("tan", x);
export const asin = (x: Expr): Expr => unary("asin", x);
export const acos = (x: Expr): Expr => unary("acos", x);
export const atan = (x: Expr): Expr => unary("atan", x);
export const sinh = (x: Expr): Expr => unary("sinh", x);
export const cosh = (x: Expr): Expr => unary("cosh", x);
export const tanh = (x: Expr): Expr => unary("tanh", x);
export const asinh = (x: Expr): Expr => unary("asinh", x);
export const acosh = (x: Expr): Expr => unary("acosh", x);
export const atanh = (x: Expr): Expr => unary("atanh", x);
export const logistic = (x: Expr): Expr => unary("logistic", x);

function compare(op: CompareOp, x: Operand, y: Operand): Expr {
  const [a, b] = pair(x, y);
  checkComputed(op, sameDtype(op, a, b));
  return { op, x: a, y: b, dtype: "bool" };
}

export const eq = (x: Operand, y: Operand): Expr => compare("eq", x, y);
export const ne = (x: Operand, y: Operand): Expr => compare("ne", x, y);
export const lt = (x: Operand, y: Operand): Expr => compare("lt", x, y);
export const le = (x: Operand, y: Operand): Expr => compare("le", x, y);
export const gt = (x: Operand, y: Operand): Expr => compare("gt", x, y);
export const ge = (x: Operand, y: Operand): Expr => compare("ge", x, y);

function logic(op: LogicOp, x: Operand, y: Operand): Expr {
  const [a, b] = pair(x, y);
  if (a.dtype !== "bool" || b.dtype !== "bool")
    throw new ExprError(`expression ${op}: expected bool operands, got ${a.dtype} and ${b.dtype}`);
  return { op, x: a, y: b, dtype: "bool" };
}

export const and = (x: Operand, y: Operand): Expr => logic("and", x, y);
export const or = (x: Operand, y: Operand): Expr => logic("or", x, y);
export const xor = (x: Operand, y: Operand): Expr => logic("xor", x, y);

export function not(x: Expr): Expr {
  if (x.dtype !== "bool") throw new ExprError(`expression not: expected a bool operand, got ${x.dtype}`);
  return { op: "not", x, dtype: "bool" };
}

/** `cond ? x : y`. */
export function select(cond: Expr, x: Operand, y: Operand): Expr {
  if (cond.dtype !== "bool")
    throw new ExprError(`expression select: the condition must be bool, got ${cond.dtype}`);
  const [a, b] = pair(x, y);
  const dtype = sameDtype("select", a, b);
  checkComputed("select", dtype);
  return { op: "select", cond, x: a, y: b, dtype };
}

/** `x` converted to `dtype` (itself when it has that dtype already). */
export function cast(x: Expr, dtype: DType): Expr {
  return x.dtype === dtype ? x : { op: "cast", x, dtype };
}

/**
 * What a float64 `logistic` node computes: 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) below,
 * without overflow (float32 has its own algorithm, backend/js/f32-math.ts). Renderers expand it to this.
 */
export function logisticFormula(x: Expr): Expr {
  return select(ge(x, 0), div(1, add(1, exp(neg(x)))), div(exp(x), add(1, exp(x))));
}

/** `lib.fn(...args)` of the JS kernels' helpers (ops/expr-js.ts), with a result of `dtype`. */
export function call(fn: string, args: readonly Expr[], dtype: DType): Expr {
  return { op: "call", fn, args, dtype };
}

/** The operands of a node, in order. */
export function children(e: Expr): readonly Expr[] {
  switch (e.op) {
    case "input":
    case "const":
      return [];
    case "select":
      return [e.cond, e.x, e.y];
    case "call":
      return e.args;
    default:
      return "y" in e ? [e.x, e.y] : [e.x];
  }
}

/** Every node of the tree once, operands before the nodes that use them. */
export function nodesOf(root: Expr): Expr[] {
  const seen = new Set<Expr>();
  const out: Expr[] = [];
  const visit = (e: Expr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    for (const c of children(e)) visit(c);
    out.push(e);
  };
  visit(root);
  return out;
}

/** The node as text, for reports: `exp(float64)`. */
export function describeNode(e: Expr): string {
  if (e.op === "call") return `call ${e.fn}(${e.args.map((a) => a.dtype).join(", ")}) -> ${e.dtype}`;
  if (e.op === "cast") return `cast ${e.x.dtype} -> ${e.dtype}`;
  const operands = children(e);
  return `${e.op}(${operands.length ? operands.map((a) => a.dtype).join(", ") : e.dtype})`;
}

/** The tree as text: `add(in0, mul(in1, 2))`. */
export function formatExpr(e: Expr): string {
  switch (e.op) {
    case "input":
      return `in${e.index}`;
    case "const":
      return Object.is(e.value, -0) ? "-0" : String(e.value);
    case "cast":
      return `${e.dtype}(${formatExpr(e.x)})`;
    case "call":
      return `${e.fn}(${e.args.map(formatExpr).join(", ")})`;
    default:
      return `${e.op}(${children(e).map(formatExpr).join(", ")})`;
  }
}
