/**
 * What the control-flow primitives (switch, while, scan) share: aval checks with errors that name the
 * op, joining closed branches over one input list, and running a sub-program compiled once into a plan
 * of its own inside a jit plan (`KernelContext.compileSubPlan`), so a loop's body is compiled once,
 * whatever the trip count; the sub-plan lives in the enclosing plan's memory and reads and writes its
 * operands there in place (`PlanOperands`).
 */

import { viewAt } from "../backend/plan-memory.js";
import {
  type AbstractValue,
  ConcreteArray,
  ConcretizationError,
  fmtAval,
  type NdArray,
} from "../core/array.js";
import { BYTES_PER_ELEMENT, storageFor, type TypedArray } from "../core/dtype.js";
import { Program, Var } from "../core/ir.js";
import type { KernelContext, SubPlan, SubPlanOptions } from "../core/primitive.js";
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
): (label: string, program: Program, options?: SubPlanOptions) => SubPlan {
  const compileSub = context.compileSubPlan;
  if (!compileSub) throw new Error(`${op}: lowered outside a jit plan (no sub-plan compiler)`);
  return compileSub;
}

const avalBytes = (a: AbstractValue): number => sizeOf(a.shape) * BYTES_PER_ELEMENT[a.dtype];

/**
 * A control-flow kernel's operands as views on the plan memory, where its sub-plans read and write them
 * in place (`SubPlan.runInto`): an operand the enclosing plan may keep elsewhere (one of its inputs or
 * outputs) goes through staging reserved while lowering, copied in (inputs) or out (outputs) once per
 * call when it is not in the plan memory. `scratch` reserves more, e.g. a loop's second carry buffers.
 */
export class PlanOperands {
  private readonly inStaging: number[];
  private readonly outStaging: number[];
  private readonly ins: TypedArray[];
  private readonly outs: TypedArray[];
  private readonly staged: boolean[];
  private buffer: ArrayBufferLike | null = null;
  private readonly views = new Map<number, TypedArray>();

  constructor(
    private readonly context: KernelContext,
    private readonly inAvals: readonly AbstractValue[],
    private readonly outAvals: readonly AbstractValue[],
  ) {
    this.inStaging = inAvals.map((a, k) => (context.inputResident(k) ? -1 : context.reserve(avalBytes(a))));
    this.outStaging = outAvals.map((a, k) =>
      context.outputResident(k) ? -1 : context.reserve(avalBytes(a)),
    );
    this.ins = new Array<TypedArray>(inAvals.length);
    this.outs = new Array<TypedArray>(outAvals.length);
    this.staged = outAvals.map(() => false);
  }

  /** Reserves a buffer for `aval` now; the returned function gives its view once the memory exists. */
  scratch(aval: AbstractValue): () => TypedArray {
    const offset = this.context.reserve(avalBytes(aval));
    return () => this.view(aval, offset);
  }

  /** The inputs as views on the plan memory, copying those that are not into their staging. */
  inputs(ins: readonly TypedArray[]): readonly TypedArray[] {
    const buffer = this.memoryBuffer();
    ins.forEach((x, k) => {
      if (x.buffer === buffer) this.ins[k] = x;
      else {
        const view = this.view(this.inAvals[k]!, this.inStaging[k]!);
        view.set(x.length === view.length ? x : x.subarray(0, view.length));
        this.ins[k] = view;
      }
    });
    return this.ins;
  }

  /** Where to write the outputs: themselves, or their staging when they are not in the plan memory. */
  outputs(outs: readonly TypedArray[]): readonly TypedArray[] {
    const buffer = this.memoryBuffer();
    outs.forEach((x, k) => {
      this.staged[k] = x.buffer !== buffer;
      this.outs[k] = this.staged[k] ? this.view(this.outAvals[k]!, this.outStaging[k]!) : x;
    });
    return this.outs;
  }

  /** Copies the staged outputs out, after the call. */
  finish(outs: readonly TypedArray[]): void {
    outs.forEach((x, k) => {
      if (this.staged[k]) x.set(this.outs[k]!);
    });
  }

  private memoryBuffer(): ArrayBufferLike {
    this.buffer ??= this.context.memory().buffer;
    return this.buffer;
  }

  private view(aval: AbstractValue, offset: number): TypedArray {
    if (offset < 0) throw new Error("control flow: an operand planned in the plan memory is not there");
    let v = this.views.get(offset);
    if (!v)
      this.views.set(
        offset,
        (v = viewAt(this.memoryBuffer() as ArrayBuffer, aval.dtype, offset, sizeOf(aval.shape))),
      );
    return v;
  }
}
