/**
 * The JavaScript renderer of the scalar-expression IR (core/expr.ts): a tree becomes a JS expression
 * (with `const` temporaries where an operand is used twice), the body of the eager elementwise kernels
 * and of the JS fused loops (compiler/fusion.ts). Every float32 node that can leave float32 is rounded
 * (Math.fround) and every integer node wraps to its dtype (`| 0`, `>>> 0`, `& 255`, `<< 24 >> 24`, ...;
 * Math.imul for products), so a value means the same in every kernel. A float16/bfloat16 value is its
 * bits: casts convert (`lib.fromFloat16`, `lib.toFloat16`, ...).
 *
 * Generated code calls the helpers below as `lib.<name>`: functions Math lacks, exp and log as fdlibm
 * computes them (engines' Math.exp and Math.log differ in the last bit, see backend/js/fdlibm.ts), and the float32
 * exp, log, tanh and logistic that every kernel computes alike (backend/js/f32-math.ts).
 */
import { expf, logf, logisticf, tanhf } from "../backend/js/f32-math.js";
import * as fdlibm from "../backend/js/fdlibm.js";
import { cachedKernel } from "../backend/kernel-cache.js";
import { castScalar, type DType, isInteger } from "../core/dtype.js";
import * as ex from "../core/expr.js";
import { children, type Expr } from "../core/expr.js";
import { fromBfloat16Bits, fromFloat16Bits, toBfloat16Bits, toFloat16Bits } from "../core/half.js";
import { erf } from "./erf.js";

/** The helpers generated code may call (the `call` node's functions, and what nodes render to). */
export const kernelLib = {
  fromFloat16: fromFloat16Bits,
  toFloat16: toFloat16Bits,
  fromBfloat16: fromBfloat16Bits,
  toBfloat16: toBfloat16Bits,
  exp: fdlibm.exp,
  log: fdlibm.log,
  /** The error function in float64 (./erf.ts). */
  erf,
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

/** The name of a helper of `kernelLib`, for `call` nodes. */
export type KernelHelper = keyof typeof kernelLib;

/** `lib.fn(...args)` as a node (a typed `ex.call`). */
export function callHelper(fn: KernelHelper, args: readonly Expr[], dtype: DType): Expr {
  return ex.call(fn, args, dtype);
}

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

/** A number as JS source (`(-0)`, `NaN`, `Infinity` included). */
export function jsLiteral(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (Object.is(v, -0)) return "(-0)"; // String(-0) is "0"
  return v < 0 ? `(${String(v)})` : String(v);
}

/** Math functions a float node renders to (float32 rounds their double result). */
const MATH: Partial<Record<ex.UnaryOp, string>> = {
  floor: "Math.floor",
  ceil: "Math.ceil",
  trunc: "Math.trunc",
  sqrt: "Math.sqrt",
  cbrt: "Math.cbrt",
  expm1: "Math.expm1",
  log2: "Math.log2",
  log10: "Math.log10",
  log1p: "Math.log1p",
  sin: "Math.sin",
  cos: "Math.cos",
  tan: "Math.tan",
  asin: "Math.asin",
  acos: "Math.acos",
  atan: "Math.atan",
  sinh: "Math.sinh",
  cosh: "Math.cosh",
  asinh: "Math.asinh",
  acosh: "Math.acosh",
  atanh: "Math.atanh",
};

/** Nodes whose float32 result is a float32 value without rounding (exact, or a float32 helper). */
const EXACT_IN_F32: ReadonlySet<ex.ExprOp> = new Set<ex.ExprOp>([
  "input",
  "const",
  "rem",
  "max",
  "min",
  "neg",
  "abs",
  "sign",
  "floor",
  "ceil",
  "round",
  "trunc",
  "exp",
  "log",
  "tanh",
  "logistic",
  "select",
]);

/** The dtypes whose every value is a float32 value (a cast from them needs no rounding). */
const EXACT_TO_F32: ReadonlySet<DType> = new Set<DType>([
  "bool",
  "uint8",
  "int8",
  "uint16",
  "int16",
  "float16",
  "bfloat16",
  "float32",
]);

const COMPARE_JS: Record<ex.CompareOp, string> = {
  eq: "===",
  ne: "!==",
  lt: "<",
  le: "<=",
  gt: ">",
  ge: ">=",
};

const ARITH_JS: Partial<Record<ex.BinaryOp, string>> = { add: "+", sub: "-", mul: "*", div: "/" };

/** `code` (an integer-valued double, or NaN/±Infinity for a cast) wrapped to the integer `dtype`. */
function wrapInt(code: string, dtype: DType): string {
  switch (dtype) {
    case "uint32":
      return `((${code}) >>> 0)`;
    case "uint16":
      return `((${code}) & 65535)`;
    case "uint8":
      return `((${code}) & 255)`;
    case "int16":
      return `(((${code}) << 16) >> 16)`;
    case "int8":
      return `(((${code}) << 24) >> 24)`;
    default:
      return `((${code}) | 0)`;
  }
}

export interface RenderedJs {
  /** `const` statements computing shared operands, in order. */
  readonly statements: readonly string[];
  /** The expression computing the root's value. */
  readonly value: string;
}

/**
 * Renders `root` as JS. `inputs[k]` is the source of operand k (a name or literal: it may be repeated);
 * temporaries are named `${prefix}0`, `${prefix}1`, ...
 */
export function renderJs(root: Expr, inputs: readonly string[], prefix = "e"): RenderedJs {
  const statements: string[] = [];
  const uses = new Map<Expr, number>();
  for (const n of ex.nodesOf(root)) for (const c of children(n)) uses.set(c, (uses.get(c) ?? 0) + 1);
  const done = new Map<Expr, string>();
  const temp = (code: string): string => {
    const name = `${prefix}${statements.length}`;
    statements.push(`const ${name} = ${code};`);
    return name;
  };
  /** The code as an operand that may appear more than once. */
  const atom = (code: string): string => (/^[\w$.]+$|^\(-?[\d.e+-]+\)$/.test(code) ? code : temp(code));
  const render = (e: Expr): string => {
    const known = done.get(e);
    if (known !== undefined) return known;
    let code = node(e);
    if ((uses.get(e) ?? 0) > 1 && e.op !== "input" && e.op !== "const") code = atom(code);
    done.set(e, code);
    return code;
  };
  const node = (e: Expr): string => {
    const code = unrounded(e);
    if (e.dtype === "float32" && !EXACT_IN_F32.has(e.op)) {
      if (e.op === "cast" && EXACT_TO_F32.has(e.x.dtype)) return code;
      return `Math.fround(${code})`;
    }
    return code;
  };
  const unrounded = (e: Expr): string => {
    const int = isInteger(e.dtype);
    const wrap = (code: string): string => wrapInt(code, e.dtype);
    switch (e.op) {
      case "input": {
        const name = inputs[e.index];
        if (name === undefined) throw new ex.ExprError(`renderJs: no operand ${e.index}`);
        return name;
      }
      case "const":
        return jsLiteral(e.value);
      case "add":
      case "sub":
      case "mul":
      case "div": {
        const [x, y] = [render(e.x), render(e.y)];
        if (int && e.op === "mul") {
          const product = `Math.imul(${x}, ${y})`;
          return e.dtype === "int32" ? product : wrap(product);
        }
        const sum = `${x} ${ARITH_JS[e.op]} ${y}`;
        return int ? wrap(sum) : `(${sum})`;
      }
      case "rem": {
        const [x, y] = [render(e.x), render(e.y)];
        if (!int) return `(${x} % ${y})`;
        const ya = atom(y);
        return `(${ya} === 0 ? 0 : ${wrap(`${x} % ${ya}`)})`;
      }
      case "max":
      case "min": {
        const [x, y] = [atom(render(e.x)), atom(render(e.y))];
        const pick = `${x} ${e.op === "max" ? ">" : "<"} ${y} ? ${x} : ${y}`;
        return int ? `(${pick})` : `(${x} !== ${x} || ${y} !== ${y} ? NaN : ${pick})`;
      }
      case "pow": {
        const [x, y] = [render(e.x), render(e.y)];
        if (int) return e.dtype === "int32" ? `lib.intPow(${x}, ${y})` : wrap(`lib.intPow(${x}, ${y})`);
        // Math.pow and IEEE pow differ only for an infinite exponent (or NaN, with a base of 1).
        if (e.y.op === "const" && Number.isFinite(e.y.value)) return `Math.pow(${x}, ${y})`;
        return `lib.pow(${x}, ${y})`;
      }
      case "atan2":
        return `Math.atan2(${render(e.x)}, ${render(e.y)})`;
      case "hypot":
        return `Math.hypot(${render(e.x)}, ${render(e.y)})`;
      case "neg":
        return int ? wrap(`-${render(e.x)}`) : `(-${render(e.x)})`;
      case "abs":
        return int ? wrap(`Math.abs(${render(e.x)})`) : `Math.abs(${render(e.x)})`;
      case "sign":
        return `Math.sign(${render(e.x)})`;
      case "round":
        return `lib.roundHalfEven(${render(e.x)})`;
      case "exp":
        return e.dtype === "float32" ? `lib.expf(${render(e.x)})` : `lib.exp(${render(e.x)})`;
      case "log":
        return e.dtype === "float32" ? `lib.logf(${render(e.x)})` : `lib.log(${render(e.x)})`;
      case "exp2":
        return `(2 ** ${render(e.x)})`;
      case "tanh":
        return e.dtype === "float32" ? `lib.tanhf(${render(e.x)})` : `Math.tanh(${render(e.x)})`;
      case "logistic": {
        if (e.dtype === "float32") return `lib.logisticf(${render(e.x)})`;
        // x appears thrice: computed once.
        done.set(e.x, atom(render(e.x)));
        return render(ex.logisticFormula(e.x));
      }
      case "eq":
      case "ne":
      case "lt":
      case "le":
      case "gt":
      case "ge":
        // A boolean turned into 0/1 by `+`, not `? 1 : 0`: V8 compiles the branch, which mispredicts on
        // data like a ReLU mask and makes the loop several times slower.
        return `(+(${render(e.x)} ${COMPARE_JS[e.op]} ${render(e.y)}))`;
      case "and":
        return `(${render(e.x)} && ${render(e.y)} ? 1 : 0)`;
      case "or":
        return `(${render(e.x)} || ${render(e.y)} ? 1 : 0)`;
      case "xor":
        return `(+(${render(e.x)} !== ${render(e.y)}))`;
      case "not":
        return `(+!${render(e.x)})`;
      case "select":
        return `(${render(e.cond)} ? ${render(e.x)} : ${render(e.y)})`;
      case "cast": {
        const from = e.x.dtype;
        const to = e.dtype;
        // The value of a half operand's bits first.
        const x =
          from === "float16"
            ? `lib.fromFloat16(${render(e.x)})`
            : from === "bfloat16"
              ? `lib.fromBfloat16(${render(e.x)})`
              : render(e.x);
        if (to === "bool") return `(+(${x} !== 0))`;
        if (int) return from === "bool" ? x : wrap(x);
        if (to === "float16") return `lib.toFloat16(${x})`;
        if (to === "bfloat16") return `lib.toBfloat16(${x})`;
        return x; // to float: float32 rounds (node), bool, integers to float64 and halves are exact
      }
      case "call": {
        if (!(e.fn in kernelLib)) throw new ex.ExprError(`renderJs: no helper lib.${e.fn}`);
        return `lib.${e.fn}(${e.args.map(render).join(", ")})`;
      }
      default: {
        const fn = MATH[e.op];
        if (fn === undefined) throw new ex.ExprError(`renderJs: no JS rendering of ${ex.describeNode(e)}`);
        return `${fn}(${render(e.x)})`;
      }
    }
  };
  const value = render(root);
  return { statements, value };
}

/** A loop over `n` elements computing `root` of operands `ins`, into `out`. */
export type ElementwiseLoop = (
  ins: readonly ArrayLike<number>[],
  out: { [i: number]: number },
  n: number,
) => void;

/**
 * The loop of each tree already rendered: eager calls reuse the primitive's memoized tree, so this skips
 * rendering and the source-keyed cache look-up on every call (an eager op on a small array is mostly that).
 */
const renderedLoops = new WeakMap<Expr, { arity: number; loops: Map<number, ElementwiseLoop> }>();

/**
 * The eager kernel of a tree of `arity` operands, compiled once per distinct source. Operand k is read
 * once, before the loop, from `ins[k][0]` when bit k of `constantOperands` is set (a constant array's
 * value: no storage is written out for it).
 */
export function elementwiseLoop(root: Expr, arity: number, constantOperands = 0): ElementwiseLoop {
  let rendered = renderedLoops.get(root);
  if (rendered?.arity !== arity) {
    rendered = { arity, loops: new Map() };
    renderedLoops.set(root, rendered);
  }
  let loop = rendered.loops.get(constantOperands);
  if (loop === undefined) {
    loop = compileElementwiseLoop(root, arity, constantOperands);
    rendered.loops.set(constantOperands, loop);
  }
  return loop;
}

function compileElementwiseLoop(root: Expr, arity: number, constantOperands: number): ElementwiseLoop {
  const names = Array.from({ length: arity }, (_, k) => `x${k}`);
  const { statements, value } = renderJs(root, names);
  const isConstant = (k: number) => (constantOperands & (1 << k)) !== 0;
  const decl = names
    .map((v, k) => (isConstant(k) ? `const ${v} = ins[${k}][0];` : `const in${k} = ins[${k}];`))
    .join(" ");
  const loads = names
    .filter((_, k) => !isConstant(k))
    .map((v) => `const ${v} = in${v.slice(1)}[i];`)
    .join(" ");
  const source = `${decl}\nfor (let i = 0; i < n; i++) { ${loads} ${statements.join(" ")} out[i] = ${value}; }`;
  return cachedKernel(
    `js loop ${source}`,
    () =>
      new Function("lib", `return function elementwise(ins, out, n) {\n${source}\n};`)(
        kernelLib,
      ) as ElementwiseLoop,
  );
}

/** The value of `root` for scalar operands (rounded to the root's dtype, as a kernel stores it). */
export function evaluateExpr(root: Expr, operands: readonly number[]): number {
  const out = [0];
  elementwiseLoop(root, operands.length)(
    operands.map((v) => [v]),
    out,
    1,
  );
  const v = out[0]!;
  return root.dtype === "float32" ? Math.fround(v) : isInteger(root.dtype) ? castScalar(v, root.dtype) : v;
}
