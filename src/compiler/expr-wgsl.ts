/**
 * The WGSL renderer of the scalar-expression IR (core/expr.ts): one `let` per node, in the node's WGSL
 * type, for the WebGPU backend's fused loops. WGSL computes float32 as the GPU does, so math functions
 * (exp, log, tanh, ...) agree with the CPU kernels to a few ulps, not bit for bit; integer arithmetic
 * wraps as the IR says. What has no faithful WGSL form (a `call` helper, float16/bfloat16/float64 or
 * 8- and 16-bit nodes) throws a WgslUnsupportedError naming it, and the plan stays off WebGPU.
 */
import {
  WGSL_INFINITY,
  WGSL_NAN,
  WgslUnsupportedError,
  wgslIsNan,
  wgslLiteral,
  wgslType,
} from "../backend/webgpu/wgsl.js";
import type { DType } from "../core/dtype.js";
import { children, type Expr, nodesOf } from "../core/expr.js";

export interface RenderedWgsl {
  readonly statements: string[];
  readonly value: string;
}

const WGSL_DTYPES = new Set<DType>(["float32", "float64", "int32", "uint32", "bool"]);

/** Renders `root` with operand `k` read from `inputs[k]`; temporaries are named `${prefix}N`. */
export function renderWgsl(root: Expr, inputs: readonly string[], prefix: string): RenderedWgsl {
  const statements: string[] = [];
  const names = new Map<Expr, string>();
  for (const e of nodesOf(root)) {
    if (!WGSL_DTYPES.has(e.dtype))
      throw new WgslUnsupportedError(
        `a ${e.dtype} ${e.op} node (WGSL computes float32, int32, uint32 and bool)`,
      );
    for (const c of children(e)) if (!names.has(c)) throw new Error("renderWgsl: nodes out of order");
    const code = node(e, (c) => names.get(c)!, inputs);
    const name = `${prefix}${statements.length}`;
    statements.push(`let ${name}: ${wgslType(e.dtype)} = ${code};`);
    names.set(e, name);
  }
  return { statements, value: names.get(root)! };
}

/**
 * Functions the rendered trees call: WGSL's own sin and cos may be off by 2^-11 absolute (the spec's
 * bound; SwiftShader's are), so these are Cephes' sinf/cosf (reduction by pi/4 in three parts, then
 * the minimax polynomials), within a few ulps for |x| < 8192 as the CPU kernels' float32 are.
 */
export const WGSL_MATH = /* wgsl */ `
fn sinCosPoly(z: f32, useCos: bool) -> f32 {
  let zz = z * z;
  if (useCos) {
    return ((2.443315711809948e-5 * zz - 1.388731625493765e-3) * zz + 4.166664568298827e-2) * zz * zz - 0.5 * zz + 1.0;
  }
  return ((-1.9515295891e-4 * zz + 8.3321608736e-3) * zz - 1.6666654611e-1) * zz * z + z;
}
fn octant(x: f32) -> vec2f {
  var j = u32(floor(x * 1.27323954473516));
  var y = f32(j);
  if ((j & 1u) == 1u) { j += 1u; y += 1.0; }
  let z = ((x - y * 0.78515625) - y * 2.4187564849853515625e-4) - y * 3.77489497744594108e-8;
  return vec2f(f32(j & 7u), z);
}
fn sinAccurate(x: f32) -> f32 {
  if (${wgslIsNan("x")} || abs(x) > 3.4e38) { return ${WGSL_NAN}; }
  let r = octant(abs(x));
  var j = u32(r.x);
  var s = sign(x);
  if (j > 3u) { j -= 4u; s = -s; }
  return s * sinCosPoly(r.y, j == 1u || j == 2u);
}
fn cosAccurate(x: f32) -> f32 {
  if (${wgslIsNan("x")} || abs(x) > 3.4e38) { return ${WGSL_NAN}; }
  let r = octant(abs(x));
  var j = u32(r.x);
  var s = 1.0;
  if (j > 3u) { j -= 4u; s = -s; }
  if (j > 1u) { s = -s; }
  return s * sinCosPoly(r.y, !(j == 1u || j == 2u));
}
fn logistic(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
// exp(x) - 1 without the cancellation near 0: its Taylor series for |x| <= 0.5 (the 10th term is below
// 3e-10 of the sum), exp(x) - 1 beyond.
fn expm1Series(x: f32) -> f32 {
  if (abs(x) > 0.5) { return exp(x) - 1.0; }
  return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0 +
    x * (1.0 / 5040.0 + x * (1.0 / 40320.0 + x / 362880.0))))))));
}
// Abramowitz and Stegun 7.1.26 refined (absolute error below 1.2e-7).
fn erfApprox(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(1.0 - r, r - 1.0, x < 0.0);
}
// IEEE pow: WGSL's is undefined for x < 0; x^0 and 1^y are 1, even for NaN.
fn powIeee(x: f32, y: f32) -> f32 {
  if (y == 0.0 || x == 1.0) { return 1.0; }
  let magnitude = pow(abs(x), y);
  if (x >= 0.0 || ${wgslIsNan("x")}) { return select(magnitude, 0.0, x == 0.0 && y > 0.0); }
  if (y != trunc(y)) { return ${WGSL_NAN}; }
  return select(magnitude, -magnitude, abs(y % 2.0) == 1.0);
}
fn powInt(base: i32, exponent: i32) -> i32 {
  if (exponent < 0) { return select(select(0, select(-1, 1, exponent % 2 == 0), base == -1), 1, base == 1); }
  var acc = 1;
  var b = base;
  for (var e = exponent; e > 0; e = e / 2) {
    if (e % 2 == 1) { acc = acc * b; }
    b = b * b;
  }
  return acc;
}
fn floorDivideInt(a: i32, b: i32) -> i32 {
  if (b == 0) { return 0; }
  let q = a / b;
  return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0)));
}
fn modInt(a: i32, b: i32) -> i32 {
  if (b == 0) { return 0; }
  let r = a % b;
  return select(r, r + b, r != 0 && ((r < 0) != (b < 0)));
}
// numpy's float % (the sign of the divisor) and // (npy_divmod: from the remainder, snapped).
fn modFloat(a: f32, b: f32) -> f32 {
  let r = a % b;
  if (b == 0.0) { return r; }
  if (r == 0.0) { return select(0.0, -0.0, b < 0.0); }
  return select(r, r + b, (b < 0.0) != (r < 0.0));
}
fn floorDivideFloat(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return a / b; }
  var m = a % b;
  var d = (a - m) / b;
  if (m != 0.0 && ((b < 0.0) != (m < 0.0))) { d = d - 1.0; }
  if (d == 0.0) { return select(0.0, -0.0, a / b < 0.0); }
  var q = floor(d);
  if (d - q > 0.5) { q = q + 1.0; }
  return q;
}`;

/** The CPU kernels' scalar helpers (ops/expr-js.ts kernelLib) by their WGSL function. */
const HELPERS: Readonly<Record<string, string>> = {
  exp: "exp",
  expf: "exp",
  log: "log",
  logf: "log",
  tanhf: "tanh",
  logisticf: "logistic",
  erf: "erfApprox",
  roundHalfEven: "round",
  pow: "powIeee",
  intPow: "powInt",
  floorDivideInt: "floorDivideInt",
  modInt: "modInt",
  floorDivide32: "floorDivideFloat",
  floorDivide64: "floorDivideFloat",
  mod32: "modFloat",
  mod64: "modFloat",
};

const ARITH = { add: "+", sub: "-", mul: "*", div: "/" } as const;
const COMPARE = { eq: "==", ne: "!=", lt: "<", le: "<=", gt: ">", ge: ">=" } as const;
/** Unary float functions WGSL has under the IR's name. */
const SAME_NAME = new Set([
  "abs",
  "floor",
  "ceil",
  "round",
  "trunc",
  "sqrt",
  "exp",
  "exp2",
  "log",
  "log2",
  "asin",
  "acos",
  "atan",
  "sinh",
  "cosh",
  "tanh",
  "asinh",
  "acosh",
  "atanh",
]);

function node(e: Expr, ref: (c: Expr) => string, inputs: readonly string[]): string {
  // float64 nodes inside a float32 op's tree compute as f32 (wgslType): WGSL has no f64.
  const dtype = e.dtype;
  const t = wgslType(dtype);
  const isFloat = t === "f32";
  switch (e.op) {
    case "input": {
      const name = inputs[e.index];
      if (name === undefined) throw new Error(`renderWgsl: no operand ${e.index}`);
      return name;
    }
    case "const":
      return wgslLiteral(e.value, dtype);
    case "add":
    case "sub":
    case "mul":
    case "div":
      return `${ref(e.x)} ${ARITH[e.op]} ${ref(e.y)}`;
    case "rem": {
      const [x, y] = [ref(e.x), ref(e.y)];
      // WGSL's % is C's fmod for floats; for integers the IR gives 0 for a zero divisor.
      return isFloat
        ? `${x} % ${y}`
        : `select(${x} % ${y}, ${wgslLiteral(0, dtype)}, ${y} == ${wgslLiteral(0, dtype)})`;
    }
    case "max":
    case "min": {
      const [x, y] = [ref(e.x), ref(e.y)];
      // numpy: NaN if either is NaN (WGSL's max/min leave NaN unspecified).
      return isFloat
        ? `select(${e.op}(${x}, ${y}), ${x} + ${y}, ${wgslIsNan(x)} || ${wgslIsNan(y)})`
        : `${e.op}(${x}, ${y})`;
    }
    case "pow":
      return isFloat ? `powIeee(${ref(e.x)}, ${ref(e.y)})` : `powInt(${ref(e.x)}, ${ref(e.y)})`;
    case "sin":
      return `sinAccurate(${ref(e.x)})`;
    case "cos":
      return `cosAccurate(${ref(e.x)})`;
    case "tan": {
      const x = ref(e.x);
      return `sinAccurate(${x}) / cosAccurate(${x})`;
    }
    case "atan2":
      return `atan2(${ref(e.x)}, ${ref(e.y)})`;
    case "hypot": {
      const [x, y] = [ref(e.x), ref(e.y)];
      return `length(vec2f(${x}, ${y}))`;
    }
    case "neg":
      return `-${ref(e.x)}`;
    case "sign": {
      const x = ref(e.x);
      return isFloat ? `select(sign(${x}), ${x}, ${wgslIsNan(x)} || ${x} == 0.0)` : `sign(${x})`;
    }
    case "abs":
      return `abs(${ref(e.x)})`;
    case "cbrt": {
      const x = ref(e.x);
      return `sign(${x}) * pow(abs(${x}), 1.0 / 3.0)`;
    }
    case "expm1":
      return `expm1Series(${ref(e.x)})`;
    case "log10":
      return `log2(${ref(e.x)}) * 0.30102999566`;
    case "log1p": {
      const x = ref(e.x);
      // log(u) * x / (u - 1) with u = 1 + x corrects the rounding of u (Goldberg).
      return `select(log(1.0 + ${x}) * ${x} / ((1.0 + ${x}) - 1.0), ${x}, (1.0 + ${x}) == 1.0)`;
    }
    case "logistic": {
      const x = ref(e.x);
      return `1.0 / (1.0 + exp(-${x}))`;
    }
    case "eq":
    case "ne":
    case "lt":
    case "le":
    case "gt":
    case "ge":
      return `${ref(e.x)} ${COMPARE[e.op]} ${ref(e.y)}`;
    case "and":
      return `${ref(e.x)} && ${ref(e.y)}`;
    case "or":
      return `${ref(e.x)} || ${ref(e.y)}`;
    case "xor":
      return `${ref(e.x)} != ${ref(e.y)}`;
    case "not":
      return `!${ref(e.x)}`;
    case "select":
      return `select(${ref(e.y)}, ${ref(e.x)}, ${ref(e.cond)})`;
    case "cast": {
      const from = wgslType(e.x.dtype);
      const x = ref(e.x);
      if (from === t) return x;
      if (t === "bool") return `${x} != ${wgslLiteral(0, e.x.dtype)}`;
      if (from === "bool") return `select(${wgslLiteral(0, dtype)}, ${wgslLiteral(1, dtype)}, ${x})`;
      if (from === "f32") {
        // The IR truncates and wraps (NaN and ±Infinity to 0); WGSL's conversion clamps: equal in range.
        return `select(${t}(trunc(${x})), ${wgslLiteral(0, dtype)}, ${wgslIsNan(x)} || abs(${x}) == ${WGSL_INFINITY})`;
      }
      return `${t}(${x})`;
    }
    case "call": {
      const fn = HELPERS[e.fn];
      if (!fn) throw new WgslUnsupportedError(`the ${e.fn} helper`);
      return `${fn}(${e.args.map(ref).join(", ")})`;
    }
    default: {
      if (SAME_NAME.has(e.op)) return `${e.op}(${ref((e as { x: Expr }).x)})`;
      throw new WgslUnsupportedError(`a ${e.op} node`);
    }
  }
}
