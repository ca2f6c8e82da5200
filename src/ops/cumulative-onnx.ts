/**
 * The ONNX forms of the cumulative primitives (their `onnx` rules, ops/reduce.ts and
 * ops/cumulative.ts): cumsum as CumSum; cumprod, cummax, cummin and logcumsumexp as a Loop over the axis that
 * carries the running value, one step per element as the kernel's (backend/js/cumulative.ts), so each
 * product is rounded (or wrapped) in order and ties and NaNs resolve as there.
 */
import type { AbstractValue } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { OnnxExportError, type OnnxGraph } from "../core/onnx-rule.js";
import { log1p } from "./expr-onnx.js";

/** cumsum as CumSum (sequential along the axis in ONNX Runtime's kernel). */
export function cumsumToOnnx(g: OnnxGraph, x: string, axis: number, reverse: boolean): string {
  return g.node1("CumSum", [x, g.scalar(axis, "int32")], { reverse: reverse ? 1 : 0 });
}

type Step = (g: OnnxGraph, acc: string, v: string) => string;

function extremumStep(compare: "Greater" | "Less", float: boolean): Step {
  // acc ∘ v = acc where acc beats v or is NaN, else v (the later element wins ties; a NaN stays).
  return (g, acc, v) => {
    let keep = g.node1(compare, [acc, v]);
    if (float) keep = g.node1("Or", [keep, g.node1("IsNaN", [acc])]);
    return g.node1("Where", [keep, acc, v]);
  };
}

/**
 * numpy's npy_logaddexp, the kernel's logcumsumexp step: x + ln 2 where x == y, else the larger plus
 * log1p(exp(-|x - y|)), NaN where x - y is (each op rounded to the dtype, as npy_logaddexpf in float32).
 */
function logaddexpStep(dtype: "float32" | "float64"): Step {
  return (g, x, y) => {
    const d = g.node1("Sub", [x, y]);
    const softplusOf = (t: string) => log1p(g, g.node1("Exp", [t]), dtype);
    const xFirst = g.node1("Add", [x, softplusOf(g.node1("Neg", [d]))]);
    const yFirst = g.node1("Add", [y, softplusOf(d)]);
    const byDifference = g.node1("Where", [
      g.node1("Greater", [d, g.scalar(0, dtype)]),
      xFirst,
      g.node1("Where", [g.node1("LessOrEqual", [d, g.scalar(0, dtype)]), yFirst, d]),
    ]);
    const same = g.node1("Add", [x, g.scalar(Math.LN2, dtype)]);
    return g.node1("Where", [g.node1("Equal", [x, y]), same, byDifference]);
  };
}

function stepFor(name: string, op: string, dtype: string): Step {
  switch (op) {
    case "prod":
      return (g, acc, v) => g.node1("Mul", [acc, v]);
    case "max":
      return extremumStep("Greater", isFloat(dtype as never));
    case "min":
      return extremumStep("Less", isFloat(dtype as never));
    case "logsumexp":
      return logaddexpStep(dtype as "float32" | "float64");
    default:
      throw new OnnxExportError(`onnx export: ${name}: no ONNX step for ${op}`);
  }
}

/**
 * A sequential accumulation along `axis`: the axis moved to the front, the first element (the last
 * when `reverse`) as the initial carry, a Loop over the others emitting each running value, and the
 * rows put back in order.
 */
export function cumulativeToOnnx(
  g: OnnxGraph,
  name: string,
  op: string,
  x: string,
  axis: number,
  reverse: boolean,
  aval: AbstractValue,
): string {
  const step = stepFor(name, op, aval.dtype);
  const rank = aval.shape.length;
  const n = aval.shape[axis]!;
  if (n <= 1) return g.node1("Identity", [x]);
  const perm = [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
  const inverse = perm.map((_, i) => perm.indexOf(i));
  const front = axis === 0 ? x : g.node1("Transpose", [x], { perm });
  const rowAval = { dtype: aval.dtype, shape: perm.slice(1).map((a) => aval.shape[a]!) };
  const first = g.node1("Gather", [front, g.scalar(reverse ? n - 1 : 0, "int64")], { axis: 0 });
  const body = g.subgraph(
    [{ dtype: "int64", shape: [] }, { dtype: "bool", shape: [] }, rowAval],
    [{ dtype: "bool", shape: [] }, rowAval, rowAval],
    (sub, [i, keepGoing, acc]) => {
      // Element i + 1 (n - 2 - i when reverse).
      const index = reverse
        ? sub.node1("Sub", [sub.scalar(n - 2, "int64"), i!])
        : sub.node1("Add", [i!, sub.scalar(1, "int64")]);
      const next = step(sub, acc!, sub.node1("Gather", [front, index], { axis: 0 }));
      return [keepGoing!, next, next];
    },
  );
  const [, rest] = g.node("Loop", [g.scalar(n - 1, "int64"), g.scalar(1, "bool"), first], { body }, 2);
  const firstRow = g.node1("Unsqueeze", [first, g.int64s([0])]);
  const rows = reverse
    ? g.node1(
        "Concat",
        [
          g.node1("Slice", [rest!, g.int64s([-1]), g.int64s([-(2 ** 53)]), g.int64s([0]), g.int64s([-1])]),
          firstRow,
        ],
        { axis: 0 },
      )
    : g.node1("Concat", [firstRow, rest!], { axis: 0 });
  return axis === 0 ? rows : g.node1("Transpose", [rows], { perm: inverse });
}
