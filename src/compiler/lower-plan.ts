/**
 * Lowering a plan to kernel calls: one buffer table entry per value that kernels read or write (views on
 * the plan memory for slots, per-call entries for plan inputs, outputs and aliases), and for every step
 * its kernel, lowered with the plan memory (where it reserves its scratch) and pre-bound to the table.
 */
import { gemmKernel } from "../backend/index.js";
import { type PlanMemory, viewAt } from "../backend/plan-memory.js";
import { ConcreteArray } from "../core/array.js";
import { storageFor, type TypedArray } from "../core/dtype.js";
import { type Atom, type Equation, Literal, type Program, Var } from "../core/ir.js";
import type { Kernel, KernelContext, SubPlan, SubPlanOptions } from "../core/primitive.js";
import { sizeOf } from "../core/shape.js";
import { wasmFusedKernel } from "./fused-wasm.js";
import { generateFusedKernel } from "./fusion.js";
import type { Placement, Plan } from "./memory-plan.js";
import { describeStep, type PlanStep, stepEquations, stepOutputs } from "./plan-steps.js";

/** A table entry the executor sets on every call: a plan input's, output's or alias's buffer. */
export interface PerCallEntry {
  readonly index: number;
  readonly v: Var;
  readonly place: Extract<Placement, { kind: "output" | "alias" }>;
}

export interface LoweredPlan<P extends SubPlan = SubPlan> {
  /** The buffer table the kernel calls read and write. */
  readonly table: TypedArray[];
  readonly tableIndex: ReadonlyMap<Var, number>;
  /** Entries set per call, in table order (an alias after its root). */
  readonly perCall: readonly PerCallEntry[];
  /**
   * Fills the buffer table (views on the plan memory, which allocates it) and returns the kernel calls,
   * bound to it, in plan order. Called on the first run: a sub-plan lowered into its parent's memory must
   * not allocate that memory while the parent's kernels still reserve scratch.
   */
  readonly bind: () => readonly (() => void)[];
  /** Each call as `toString` lists its step. */
  readonly callNames: readonly string[];
  /** The step each call runs (for checks of its outputs: compiler/nan-check.ts). */
  readonly callSteps: readonly PlanStep[];
  /** The fused loops' generated code (or the description of their wasm kernel). */
  readonly kernelSources: readonly string[];
  /** The first call that may write over a donated input (its output takes that buffer); else Infinity. */
  readonly firstDonatedWrite: number;
  /** The plans compiled for steps' sub-programs (a loop's body, a branch), by step, in order. */
  readonly subPlans: readonly LoweredSubPlan<P>[];
  /** Tells the kernels that derived something from the invariant inputs that these changed. */
  readonly invariantsChanged: () => void;
}

/** A sub-program a step's kernel runs, compiled once into a plan of its own. */
export interface LoweredSubPlan<P extends SubPlan = SubPlan> {
  readonly step: number;
  readonly label: string;
  readonly plan: P;
}

/**
 * Compiles a sub-program into a plan in the same memory, its operands views on it (the compiler that
 * called `lowerPlan`, passed in to keep imports one way).
 */
export type CompileSubPlan<P extends SubPlan> = (program: Program, options: SubPlanOptions) => P;

/**
 * `residentOperands`: the plan's inputs and outputs are views on its memory too (a sub-plan's), so its
 * kernels read and write them in place and reserve no staging for them. `invariantInputs`: the first this
 * many inputs keep their values between runs until `invariantsChanged` (a loop body's consts).
 */
export function lowerPlan<P extends SubPlan>(
  plan: Plan,
  memory: PlanMemory,
  compileSub: CompileSubPlan<P>,
  residentOperands = false,
  invariantInputs = 0,
): LoweredPlan<P> {
  const { program, steps, placement } = plan;
  const tableIndex = new Map<Var, number>();
  const table: TypedArray[] = [];
  const entries: (() => TypedArray)[] = [];
  const perCall: PerCallEntry[] = [];
  const indexOf = (v: Var): number => {
    let i = tableIndex.get(v);
    if (i !== undefined) return i;
    const p = placement.get(v)!;
    i = entries.length;
    tableIndex.set(v, i);
    if (p.kind === "slot") {
      const offset = plan.slots[p.slot]!.offset;
      entries.push(() => viewAt(memory.view().buffer, v.aval.dtype, offset, sizeOf(v.aval.shape)));
    } else if (p.kind === "const") entries.push(() => p.value.concrete().storage);
    else if (p.kind === "alias") {
      const ri = indexOf(plan.rootOf(v));
      entries.push(() => table[ri]!);
      perCall.push({ index: i, v, place: p });
    } else if (p.kind === "output") {
      entries.push(() => storageFor(v.aval.dtype, 0));
      perCall.push({ index: i, v, place: p });
    } else entries.push(() => storageFor(v.aval.dtype, 0));
    return i;
  };
  // Order matters for aliases (roots first): walk values in definition order.
  for (const v of [...program.constVars, ...program.inputs]) indexOf(v);
  for (const s of steps)
    for (const e of stepEquations(s)) for (const o of e.outputs) if (placement.has(o)) indexOf(o);
  perCall.sort((a, b) => a.index - b.index);

  // ---- kernels: lowered with the plan memory (they reserve their scratch in it), then the memory exists
  const resident = (a: Atom): boolean => {
    if (!(a instanceof Var)) return false;
    const kind = placement.get(plan.rootOf(a))?.kind;
    return kind === "slot" || (residentOperands && (kind === "input" || kind === "output"));
  };
  const invariantVars = new Set(program.inputs.slice(0, invariantInputs));
  const invariant = (a: Atom): boolean => a instanceof Var && invariantVars.has(plan.rootOf(a));
  const resets: (() => void)[] = [];
  /** What a kernel reading `inputs` may know of their invariance (nothing outside a loop body). */
  const invariance = (inputs: readonly Atom[]): Partial<KernelContext> =>
    invariantVars.size === 0
      ? {}
      : {
          inputInvariant: (k: number) => {
            const a = inputs[k];
            return a !== undefined && invariant(a);
          },
          onInvariantsChanged: (reset: () => void) => void resets.push(reset),
        };
  const bindings: ((table: TypedArray[]) => () => void)[] = [];
  const callNames: string[] = [];
  const callSteps: PlanStep[] = [];
  const kernelSources: string[] = [];
  const firstDonatedWriteStep = steps.findIndex((s) =>
    stepOutputs(s).some((v) => {
      const p = placement.get(v);
      return p?.kind === "output" && p.donatedFrom !== null;
    }),
  );
  let firstDonatedWrite = Number.POSITIVE_INFINITY;
  const subPlans: LoweredSubPlan<P>[] = [];
  for (const [k, s] of steps.entries()) {
    if (k === firstDonatedWriteStep) firstDonatedWrite = bindings.length;
    if (s.kind === "gemm") {
      callNames.push(describeStep(s, k));
      callSteps.push(s);
      const context = {
        ...memory.context({ inputs: [s.a, s.b].map(resident), outputs: [resident(s.out)] }),
        ...invariance([s.a, s.b]),
      };
      const kernel = gemmKernel(s.dtype, s.batch, s.m, s.k, s.n, context, s, {
        invariantB: context.inputInvariant?.(1) ?? false,
      });
      const [ia, ib, io] = [indexOf(s.a), indexOf(s.b), indexOf(s.out)];
      bindings.push((t) => () => kernel(t[ia]!, t[ib]!, t[io]!));
      continue;
    }
    if (s.kind === "fused") {
      callNames.push(describeStep(s, k));
      callSteps.push(s);
      const context = memory.context({ inputs: s.inputs.map(resident), outputs: s.outputs.map(resident) });
      const simd = wasmFusedKernel(s, context, indexOf);
      if (simd) {
        kernelSources.push(simd.description);
        bindings.push((t) => () => simd.run(t));
        continue;
      }
      const { run, source } = generateFusedKernel(s, indexOf);
      kernelSources.push(source);
      bindings.push((t) => () => run(t));
      continue;
    }
    const e = s.equation;
    if (placement.get(e.outputs[0]!)?.kind === "alias") continue; // reshape: no work
    callNames.push(describeStep(s, k));
    callSteps.push(s);
    const context: KernelContext = {
      ...memory.context({
        inputs: e.inputs.map(resident),
        outputs: e.outputs.map(resident),
        derivedInput: plan.derivedInputAt(k),
      }),
      ...invariance(e.inputs),
      compileSubPlan: (label, program, options = {}) => {
        const sub = compileSub(program, options);
        subPlans.push({ step: k, label, plan: sub });
        return sub;
      },
    };
    bindings.push(lowerEquation(e, indexOf, context));
  }
  let calls: (() => void)[] | null = null;
  const bind = (): readonly (() => void)[] => {
    if (calls) return calls;
    for (const make of entries) table.push(make());
    calls = bindings.map((b) => b(table));
    return calls;
  };
  return {
    table,
    tableIndex,
    perCall,
    bind,
    callNames,
    callSteps,
    kernelSources,
    firstDonatedWrite,
    subPlans,
    invariantsChanged: () => {
      for (const reset of resets) reset();
    },
  };
}

/**
 * One equation's kernel, lowered now (reserving its scratch in the plan memory), and how to bind it to the
 * buffer table once that memory exists: a pre-bound call of the kernel, or of `impl` plus a copy.
 */
function lowerEquation(
  e: Equation,
  indexOf: (v: Var) => number,
  context: KernelContext,
): (table: TypedArray[]) => () => void {
  const inAvals = e.inputs.map((a) => a.aval);
  const outAvals = e.outputs.map((v) => v.aval);
  const inIdx = e.inputs.map((a) => (a instanceof Var ? indexOf(a) : -1));
  const literals = e.inputs.map((a) => (a instanceof Literal ? a.value.storage : null));
  const outIdx = e.outputs.map((v) => indexOf(v));
  const kernel: Kernel | undefined = e.primitive.lower?.(inAvals, outAvals, e.params, context);
  return (table) => bindEquation(e, table, inIdx, outIdx, literals, kernel);
}

function bindEquation(
  e: Equation,
  table: TypedArray[],
  inIdx: readonly number[],
  outIdx: readonly number[],
  literals: readonly (TypedArray | null)[],
  kernel: Kernel | undefined,
): () => void {
  const inAvals = e.inputs.map((a) => a.aval);
  const ins: TypedArray[] = inIdx.map((i, k) => (i < 0 ? literals[k]! : table[i]!));
  const outs: TypedArray[] = outIdx.map((i) => table[i]!);
  if (kernel) {
    return () => {
      for (let k = 0; k < inIdx.length; k++) if (inIdx[k]! >= 0) ins[k] = table[inIdx[k]!]!;
      for (let k = 0; k < outIdx.length; k++) outs[k] = table[outIdx[k]!]!;
      kernel(ins, outs);
    };
  }
  return () => {
    const args = inIdx.map(
      (i, k) => new ConcreteArray(inAvals[k]!.shape, inAvals[k]!.dtype, i < 0 ? literals[k]! : table[i]!),
    );
    const results = e.primitive.impl(args, e.params);
    results.forEach((r, k) => table[outIdx[k]!]!.set(r.storage));
  };
}
