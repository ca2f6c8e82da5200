/**
 * The ONNX forms of the control-flow primitives (their `onnx` rules): `while` as Loop, whose body
 * subgraph inlines the loop's programs, `scan` as Scan (Loop when it scans no input), and `switch` as
 * nested If. Constants of the loop (its leading inputs) are read from the enclosing graph by name, as
 * ONNX's outer scope allows.
 */
import type { AbstractValue } from "../core/array.js";
import type { Program } from "../core/ir.js";
import type { OnnxGraph, OnnxValueType } from "../core/onnx-rule.js";

const BOOL_SCALAR: OnnxValueType = { dtype: "bool", shape: [] };
const ITERATION: OnnxValueType = { dtype: "int64", shape: [] };

/**
 * `while` as Loop with no trip count: the first condition is computed before the loop, and the body
 * computes the new carry and then the condition on it (Loop's `cond` output).
 */
export function whileToOnnx(
  g: OnnxGraph,
  inputs: readonly string[],
  cond: Program,
  body: Program,
  condConsts: number,
  bodyConsts: number,
  carryAvals: readonly AbstractValue[],
): string[] {
  const cc = inputs.slice(0, condConsts);
  const bc = inputs.slice(condConsts, condConsts + bodyConsts);
  const init = inputs.slice(condConsts + bodyConsts);
  const first = g.inline(cond, [...cc, ...init])[0]!;
  const loopBody = g.subgraph(
    [ITERATION, BOOL_SCALAR, ...carryAvals],
    [BOOL_SCALAR, ...carryAvals],
    (sub, args) => {
      const carry = sub.inline(body, [...bc, ...args.slice(2)]);
      const next = sub.inline(cond, [...cc, ...carry])[0]!;
      return [next, ...carry];
    },
  );
  return g.node("Loop", ["", first, ...init], { body: loopBody }, init.length);
}

/**
 * `scan` as ONNX Scan when it scans at least one input: Scan hands the body row i of each scanned input
 * (counting from the end for `reverse`, through its scan directions) and writes each iteration's rows
 * into its outputs in place, where a Loop would gather the rows and concatenate its scan outputs
 * afterwards, a copy of every row each way. A scan over no inputs (a counted loop with outputs) has no
 * length to give Scan, so it becomes a Loop of `length` iterations.
 */
export function scanToOnnx(
  g: OnnxGraph,
  inputs: readonly string[],
  body: Program,
  numConsts: number,
  numCarry: number,
  length: number,
  reverse: boolean,
  outAvals: readonly AbstractValue[],
): string[] {
  const consts = inputs.slice(0, numConsts);
  const init = inputs.slice(numConsts, numConsts + numCarry);
  const xs = inputs.slice(numConsts + numCarry);
  const carryAvals = outAvals.slice(0, numCarry);
  const rowAvals = outAvals.slice(numCarry).map((y) => ({ dtype: y.dtype, shape: y.shape.slice(1) }));
  if (xs.length > 0) {
    const xRowAvals = body.inputs.slice(numConsts + numCarry).map((v) => v.aval);
    const scanBody = g.subgraph([...carryAvals, ...xRowAvals], [...carryAvals, ...rowAvals], (sub, args) =>
      sub.inline(body, [...consts, ...args]),
    );
    const direction = reverse ? 1 : 0;
    return g.node(
      "Scan",
      [...init, ...xs],
      {
        body: scanBody,
        num_scan_inputs: xs.length,
        scan_input_directions: xs.map(() => direction),
        scan_output_directions: rowAvals.map(() => direction),
      },
      outAvals.length,
    );
  }
  const loopBody = g.subgraph(
    [ITERATION, BOOL_SCALAR, ...carryAvals],
    [BOOL_SCALAR, ...carryAvals, ...rowAvals],
    (sub, [, keepGoing, ...carry]) => [keepGoing!, ...sub.inline(body, [...consts, ...carry])],
  );
  const outs = g.node(
    "Loop",
    [g.scalar(length, "int64"), g.scalar(1, "bool"), ...init],
    { body: loopBody },
    outAvals.length,
  );
  if (!reverse) return outs;
  // Rows were stacked last-first: reverse them along the scanned axis.
  return [
    ...outs.slice(0, numCarry),
    ...outs
      .slice(numCarry)
      .map((y) =>
        g.node1("Slice", [y, g.int64s([-1]), g.int64s([-(2 ** 53)]), g.int64s([0]), g.int64s([-1])]),
      ),
  ];
}

/**
 * `switch` as If: the index (clamped to the branches, as lax.switch does) picks branch k when it is at
 * most k, tested from the first branch on, each test's else-branch holding the next test.
 */
export function switchToOnnx(
  g: OnnxGraph,
  inputs: readonly string[],
  branches: readonly Program[],
  outAvals: readonly AbstractValue[],
): string[] {
  const [index, ...operands] = inputs;
  const choose = (graph: OnnxGraph, k: number): string[] => {
    if (k === branches.length - 1) return graph.inline(branches[k]!, operands);
    const taken = graph.node1("LessOrEqual", [index!, graph.scalar(k, "int32")]);
    const thenBranch = graph.subgraph([], outAvals, (sub) => sub.inline(branches[k]!, operands));
    const elseBranch = graph.subgraph([], outAvals, (sub) => choose(sub, k + 1));
    return graph.node("If", [taken], { then_branch: thenBranch, else_branch: elseBranch }, outAvals.length);
  };
  return choose(g, 0);
}
