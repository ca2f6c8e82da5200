/**
 * An elementwise primitive's expression tree (core/expr.ts) as ONNX nodes: the `onnx` rule every
 * primitive of ops/elementwise-kit.ts gets from the kernel it declares, as its JS and wasm loops do.
 * Scalar constants broadcast (ONNX's arithmetic broadcasts numpy-style). Nodes with no ONNX operator of
 * the same rounding (expm1, log1p, cbrt, atan2, hypot, a JS helper `call`) throw an OnnxExportError
 * rather than export a formula that loses precision.
 */
import type { AbstractValue } from "../core/array.js";
import type { Expr } from "../core/expr.js";
import { OnnxExportError, type OnnxGraph } from "../core/onnx-rule.js";

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
      case "select":
        r = g.node1("Where", [visit(e.cond), visit(e.x), visit(e.y)]);
        break;
      case "cast":
        r = g.cast(visit(e.x), e.x.dtype, e.dtype);
        break;
      case "call":
        return unsupported(`the helper ${e.fn}`);
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
          r = g.node1(op, [visit(e.x), visit(e.y)]);
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
