/**
 * What the control-flow primitives (switch, while, scan) share: aval checks with errors that name the
 * op, joining closed branches over one input list, and running a sub-program compiled once into a plan
 * of its own inside a jit plan (`KernelContext.compileSubPlan`), so a loop's body is compiled once,
 * whatever the trip count.
 */
import {
  type AbstractValue,
  ConcreteArray,
  ConcretizationError,
  fmtAval,
  type NdArray,
} from "../core/array.js";
import { storageFor, type TypedArray } from "../core/dtype.js";
import { Program, Var } from "../core/ir.js";
import type { KernelContext, SubPlan } from "../core/primitive.js";
import { ShapeError, shapeEquals, sizeOf } from "../core/shape.js";
import type { ClosedOver } from "./program-transforms.js";

export const sameAval = (a: AbstractValue, b: AbstractValue): boolean =>
  a.dtype === b.dtype && shapeEquals(a.shape, b.shape);

/** Throws a ShapeError naming `op` when the avals differ in number, shape or dtype. */
export function checkAvals(
  op: string,
  what: string,
  got: readonly AbstractValue[],
  want: readonly AbstractValue[],
): void {
  if (got.length !== want.length || got.some((g, i) => !sameAval(g, want[i]!))) {
    throw new ShapeError(
      `${op}: ${what}: got (${got.map(fmtAval).join(", ")}), expected (${want.map(fmtAval).join(", ")})`,
    );
  }
}

/** Whether a tracer's value can be read now (a concrete predicate picks a branch). */
export function tryConcrete(x: NdArray): ConcreteArray | null {
  try {
    return x.concrete();
  } catch (e) {
    if (e instanceof ConcretizationError) return null;
    throw e;
  }
}

/** The same program with extra, unused inputs inserted at position `at`. */
function insertInputs(program: Program, at: number, avals: readonly AbstractValue[]): Program {
  const inputs = [...program.inputs];
  inputs.splice(at, 0, ...avals.map((a) => new Var(a)));
  return new Program([], inputs, program.equations, program.outputs);
}

/**
 * Closed branches as programs over the same inputs: every branch's consts (branch 0's first), then the
 * operands; each branch ignores the others' consts.
 */
export function joinBranches(closed: readonly ClosedOver[]): { branches: Program[]; consts: NdArray[] } {
  const avals = closed.map((c) => c.consts.map((x) => x.aval));
  const branches = closed.map((c, i) => {
    const before = avals.slice(0, i).flat();
    const after = avals.slice(i + 1).flat();
    return insertInputs(insertInputs(c.program, c.consts.length, after), 0, before);
  });
  return { branches, consts: closed.flatMap((c) => c.consts) };
}

export function zerosOf(aval: AbstractValue): ConcreteArray {
  return new ConcreteArray(aval.shape, aval.dtype, storageFor(aval.dtype, sizeOf(aval.shape)));
}

/** The plan compiler a control-flow primitive's `lower` needs; present in every jit plan. */
export function subPlanCompiler(
  op: string,
  context: KernelContext,
): (label: string, program: Program, donatable: readonly boolean[]) => SubPlan {
  const compileSub = context.compileSubPlan;
  if (!compileSub) throw new Error(`${op}: lowered outside a jit plan (no sub-plan compiler)`);
  return compileSub;
}

/** A kernel operand as a concrete array (no copy). */
export function wrapOperand(aval: AbstractValue, data: TypedArray): ConcreteArray {
  return new ConcreteArray(aval.shape, aval.dtype, data);
}

/**
 * Runs a loop body plan again and again on its own outputs: `step(carry)` runs the body once; the
 * carries it returned itself (not an operand of the kernel) are donated to the next step, so the body's
 * outputs reuse their buffers instead of allocating every iteration.
 */
export class CarryBuffers {
  private readonly external: Set<ArrayBufferLike>;
  constructor(operands: readonly TypedArray[]) {
    this.external = new Set(operands.map((d) => d.buffer));
  }
  /** Per carry: may the next step donate it (it is ours, not a buffer of the enclosing plan). */
  donatable(carry: readonly ConcreteArray[]): boolean[] {
    return carry.map((c) => !this.external.has(c.data.buffer) && carry.filter((d) => d === c).length === 1);
  }
}
