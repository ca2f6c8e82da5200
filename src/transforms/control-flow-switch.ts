/**
 * `switchCase` (JAX's lax.switch) and `cond` (lax.cond, a two-way switch) as one primitive, `switch`,
 * with every rule. A known index takes its branch; under vmap a batched index computes every branch and
 * selects per example; under partial evaluation (linearize, vjp, grad) a known index takes its branch and
 * an unknown one (inside jit) computes every branch and selects. In a jit plan each branch is compiled
 * once into a plan of its own and only the chosen one runs.
 */
import { type AbstractValue, type ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import { isFloat, NARROW_DTYPES } from "../core/dtype.js";
import { evalProgram, type Program } from "../core/ir.js";
import { type BatchDim, type Primitive, primitive } from "../core/primitive.js";
import { ShapeError } from "../core/shape.js";
import { astype, clip, where } from "../ops/binary.js";
import { assertSameStructure, unflatten } from "../tree/treedef.js";
import {
  checkAvals,
  joinBranches,
  PlanOperands,
  subPlanCompiler,
  tryConcrete,
} from "./control-flow-common.js";
import { switchToOnnx } from "./control-flow-onnx.js";
import { flattenArgs, flattenFun } from "./flat.js";
import { instantiate, jvpFlat } from "./jvp.js";
import { stageClosed, vmapProgram } from "./program-transforms.js";
import { vmapFlat } from "./vmap.js";

export interface SwitchParams {
  /** The branches, all over the same inputs (every branch's consts, then the operands). */
  branches: readonly Program[];
}

/** The branch an index selects: clamped to [0, n - 1], as JAX's lax.switch does. */
function branchIndex(index: number, n: number): number {
  return Math.min(Math.max(Math.trunc(index), 0), n - 1);
}

const isIntegerDType = (dtype: string): boolean => dtype !== "bool" && !isFloat(dtype as never);

export const switchPrim: Primitive<SwitchParams, [index: unknown, ...operands: unknown[]]> = primitive({
  name: "switch",
  narrowDtypes: NARROW_DTYPES,
  abstractEval([index, ...ops], { branches }) {
    if (index.dtype !== "int32" || index.shape.length !== 0)
      throw new ShapeError(`switch: the index must be an int32 scalar, got ${fmtAval(index)}`);
    const first = branches[0];
    if (!first) throw new ShapeError("switch: needs at least one branch");
    branches.forEach((b, i) => {
      checkAvals("switch", `the operands of branch ${i}`, ops, b.inAvals);
      checkAvals("switch", `the outputs of branch ${i} differ from branch 0's`, b.outAvals, first.outAvals);
    });
    return first.outAvals;
  },
  impl: ([index, ...ops], { branches }) =>
    evalProgram(branches[branchIndex(index.storage[0]!, branches.length)]!, [], ops) as ConcreteArray[],
  jvp([index, ...ops], [, ...tangents], { branches }) {
    const joined = joinBranches(branches.map(stageJvpBranch));
    const outs = switchPrim.bind([index, ...joined.consts, ...ops, ...tangents], {
      branches: joined.branches,
    });
    const n = branches[0]!.outputs.length;
    return { primalsOut: outs.slice(0, n), tangentsOut: outs.slice(n) };
  },
  batch([index, ...ops], [indexDim, ...dims], { branches }) {
    if (indexDim === null) {
      const joined = joinBranches(branches.map((b) => vmapProgram(b, ops, dims)));
      const outs = switchPrim.bind([index, ...joined.consts, ...ops], { branches: joined.branches });
      return [outs, outs.map(() => 0)];
    }
    // A batched index: each example takes its own branch, so compute every branch and select.
    const outs = vmapFlat(
      ([i, ...xs]) => selectBranches(i!, branches, xs),
      [indexDim, ...dims],
      (n) => new Array<BatchDim>(n).fill(0),
      [index, ...ops],
    );
    return [outs, outs.map(() => 0)];
  },
  partialEval([index, ...ops], { branches }) {
    const known = tryConcrete(index);
    if (known !== null)
      return evalProgram(branches[branchIndex(known.storage[0]!, branches.length)]!, [], ops);
    return selectBranches(index, branches, ops);
  },
  // In a jit plan: each branch compiled once into the plan's memory; the chosen one writes the outputs.
  lower(inAvals, outAvals, { branches }, context) {
    const compileSub = subPlanCompiler("switch", context);
    const plans = branches.map((b, i) => compileSub(`branch ${i}`, b));
    const operands = new PlanOperands(context, inAvals, outAvals);
    return (ins, outs) => {
      const plan = plans[branchIndex(ins[0]![0]!, plans.length)]!;
      plan.runInto(operands.inputs(ins).slice(1), operands.outputs(outs));
      operands.finish(outs);
    };
  },
  onnx: (g, inputs, { branches }, _inAvals, outAvals) => switchToOnnx(g, inputs, branches, outAvals),
  formatParams: ({ branches }) =>
    `branches=(${branches.map((b) => `${b.equations.length} eqns`).join(" | ")})`,
});

/** Every branch computed, and per element the output of the branch the (clamped) index names. */
function selectBranches(index: NdArray, branches: readonly Program[], ops: readonly NdArray[]): NdArray[] {
  const outs = branches.map((b) => evalProgram(b, [], ops));
  const i = clip(index, 0, branches.length - 1);
  return outs[0]!.map((first, j) =>
    outs.slice(1).reduce((acc, out, k) => where(i.equal(k + 1), out[j]!, acc), first),
  );
}

/** A branch's JVP as a program over [inputs, tangents] -> [outputs, output tangents]. */
function stageJvpBranch(branch: Program) {
  const n = branch.inputs.length;
  const avals = branch.inAvals;
  return stageClosed(
    (xs) => {
      const [outs, touts] = jvpFlat((ys) => evalProgram(branch, [], ys), xs.slice(0, n), xs.slice(n));
      return [...outs, ...touts.map(instantiate)];
    },
    [...avals, ...avals],
  );
}

/** Stages each branch on the operands' avals; their outputs must agree in structure, shapes and dtypes. */
function bindSwitch<Out>(
  op: string,
  index: NdArray,
  branches: readonly ((...operands: never[]) => Out)[],
  names: readonly string[],
  operands: unknown[],
): Out {
  const [leaves, inTree] = flattenArgs(op, operands);
  const avals: AbstractValue[] = leaves.map((l) => l.aval);
  const staged = branches.map((fn, i) => {
    const flat = flattenFun(`${op} (${names[i]})`, fn, inTree);
    const closed = stageClosed(flat, avals);
    return { closed, outTree: flat.outTree() };
  });
  const first = staged[0]!;
  staged.slice(1).forEach((s, i) => {
    assertSameStructure(`${op}: the outputs of ${names[i + 1]} vs ${names[0]}`, first.outTree, s.outTree);
    checkAvals(
      op,
      `the outputs of ${names[i + 1]} differ from those of ${names[0]}`,
      s.closed.program.outAvals,
      first.closed.program.outAvals,
    );
  });
  const joined = joinBranches(staged.map((s) => s.closed));
  const outs = switchPrim.bind([index, ...joined.consts, ...leaves], { branches: joined.branches });
  return unflatten<Out>(first.outTree, outs);
}

/**
 * `switchCase(index, branches, ...operands)`: `branches[index](...operands)`, like JAX's lax.switch.
 * The index (an integer scalar, traced or a JS number) is clamped to [0, branches.length - 1], as JAX
 * does. Every branch must return the same structure, shapes and dtypes. Differentiable in both modes;
 * under vmap a batched index computes every branch and selects per example; in a jit plan each branch
 * is compiled once and only the chosen one runs.
 *
 * @example
 * ```ts
 * const f = (i: Array, x: Array) => switchCase(i, [np.sin, np.cos, (y: Array) => y.mul(2)], x);
 * jit(f)(np.array(2, { dtype: "int32" }), x); // x * 2
 * ```
 */
export function switchCase<Ops extends unknown[], Out>(
  index: NdArray | number,
  branches: readonly ((...operands: Ops) => Out)[],
  ...operands: Ops
): Out {
  if (!Array.isArray(branches) || branches.length === 0)
    throw new TypeError("switchCase: `branches` must be a non-empty array of functions");
  branches.forEach((b, i) => {
    if (typeof b !== "function")
      throw new TypeError(`switchCase: branch ${i} is ${typeof b}, expected a function`);
  });
  if (typeof index === "number") {
    if (!Number.isInteger(index))
      throw new TypeError(`switchCase: the index must be an integer, got ${index}`);
    return branches[branchIndex(index, branches.length)]!(...operands);
  }
  if (index.shape.length !== 0 || !isIntegerDType(index.dtype))
    throw new ShapeError(`switchCase: the index must be an integer scalar, got ${fmtAval(index)}`);
  if (branches.length === 1) return branches[0]!(...operands);
  const i = clip(index.dtype === "int32" ? index : astype(index, "int32"), 0, branches.length - 1);
  const names = branches.map((_, k) => `branch ${k}`);
  return bindSwitch(
    "switchCase",
    i,
    branches as unknown as readonly ((...o: never[]) => Out)[],
    names,
    operands,
  );
}

/**
 * `cond(pred, trueFn, falseFn, ...operands)`: `trueFn(...operands)` where `pred` holds, else
 * `falseFn(...operands)`, like JAX's lax.cond (a two-way `switchCase`). Both branches must return the
 * same structure, shapes and dtypes. A JS boolean predicate simply picks the branch.
 */
export function cond<Ops extends unknown[], Out>(
  pred: NdArray | boolean,
  trueFn: (...operands: Ops) => Out,
  falseFn: (...operands: Ops) => Out,
  ...operands: Ops
): Out {
  if (typeof pred === "boolean") return pred ? trueFn(...operands) : falseFn(...operands);
  if (pred.shape.length !== 0)
    throw new ShapeError(`cond: the predicate must be a scalar, got ${fmtAval(pred)}`);
  const p = pred.dtype === "bool" ? pred : astype(pred, "bool");
  return bindSwitch(
    "cond",
    astype(p, "int32"),
    [falseFn, trueFn] as unknown as readonly ((...o: never[]) => Out)[],
    ["the false branch", "the true branch"],
    operands,
  );
}
