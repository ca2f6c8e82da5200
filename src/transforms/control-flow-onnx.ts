/**
 * The ONNX forms of the control-flow primitives (their `onnx` rules): `while` and `scan` as Loop, whose
 * body subgraph inlines the loop's programs, and `switch` as nested If. Constants of the loop (its
 * leading inputs) are read from the enclosing graph by name, as ONNX's outer scope allows.
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
 * `scan` as Loop over `length` iterations: the body gathers row i of each scanned input (row
 * `length - 1 - i` when `reverse`), and its per-row outputs are Loop's scan outputs, stacked in
 * iteration order (so reversed back when `reverse`).
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
  const loopBody = g.subgraph(
    [ITERATION, BOOL_SCALAR, ...carryAvals],
    [BOOL_SCALAR, ...carryAvals, ...rowAvals],
    (sub, [i, keepGoing, ...carry]) => {
      const index = reverse ? sub.node1("Sub", [sub.scalar(length - 1, "int64"), i!]) : i!;
      const rows = xs.map((x) => sub.node1("Gather", [x, index], { axis: 0 }));
      return [keepGoing!, ...sub.inline(body, [...consts, ...carry, ...rows])];
    },
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
