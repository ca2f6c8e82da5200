/**
 * NaN checking in a jitted plan, run only while `setDebugNans(true)` is on (the executor picks this loop
 * then, so a plan pays nothing when it is off): after each call, the step's outputs are scanned; at the
 * first NaN, the step's equations are evaluated again one by one from a copy of its inputs taken before it
 * ran, to name the primitive inside a fused loop or GEMM that produced it, with its shapes and the user's
 * call site (recorded when the function was traced with the flag on).
 */
import { type AbstractValue, ConcreteArray } from "../core/array.js";
import { checkOutputsForNans, firstNan } from "../core/debug-nans.js";
import type { TypedArray } from "../core/dtype.js";
import { type Atom, type Equation, Literal, type Var } from "../core/ir.js";
import type { LoweredPlan } from "./lower-plan.js";
import { type PlanStep, stepEquations, stepInputs, stepOutputs } from "./plan-steps.js";

export interface NanChecker {
  /** Before call `k`: keeps a copy of the inputs of a step of several equations (to replay it). */
  before(k: number): void;
  /** After call `k`: throws a FloatingPointError if an output of its step holds a NaN. */
  after(k: number): void;
}

export function nanChecker(lowered: LoweredPlan): NanChecker {
  const { table, tableIndex, callSteps, callNames } = lowered;
  const read = (v: Var): TypedArray => table[tableIndex.get(v)!]!;
  let saved: Map<Var, TypedArray> | null = null;
  return {
    before(k) {
      const step = callSteps[k]!;
      saved = null;
      if (equationsOf(step).length < 2) return;
      saved = new Map();
      for (const v of stepInputs(step)) if (tableIndex.has(v)) saved.set(v, read(v).slice());
    },
    after(k) {
      const step = callSteps[k]!;
      const bad = stepOutputs(step).some((v) => tableIndex.has(v) && firstNan(v.aval.dtype, read(v)) >= 0);
      if (!bad) return;
      const where = ` (jitted plan step ${callNames[k]})`;
      const equations = equationsOf(step);
      if (equations.length === 1) {
        const e = equations[0]!;
        checkOutputsForNans(e.primitive.name, avalsOf(e.inputs), outputsOf(e, read), e.site, where);
      } else if (saved) replay(equations, saved, where);
      // Not pinned to one equation (a step input could not be read back): name the step.
      const out = stepOutputs(step).find((v) => tableIndex.has(v) && firstNan(v.aval.dtype, read(v)) >= 0)!;
      checkOutputsForNans(
        callNames[k]!,
        stepInputs(step).map((v) => v.aval),
        [{ aval: out.aval, storage: read(out) }],
        undefined,
        " (a step of a jitted plan)",
      );
    },
  };
}

/** The equations a step runs, a fused loop's reduction included. */
function equationsOf(step: PlanStep): readonly Equation[] {
  if (step.kind === "fused" && step.reduction) return [...step.equations, step.reduction];
  return stepEquations(step);
}

function avalsOf(atoms: readonly Atom[]): AbstractValue[] {
  return atoms.map((a) => a.aval);
}

function outputsOf(e: Equation, read: (v: Var) => TypedArray) {
  return e.outputs.map((v) => ({ aval: v.aval, storage: read(v) }));
}

/**
 * Evaluates a step's equations from its saved inputs, each once its inputs are known (a GEMM step lists
 * its product before the transposes it absorbed); throws at the first that makes a NaN.
 */
function replay(equations: readonly Equation[], saved: ReadonlyMap<Var, TypedArray>, where: string): void {
  const env = new Map<Var, ConcreteArray>();
  for (const [v, data] of saved) env.set(v, new ConcreteArray(v.aval.shape, v.aval.dtype, data));
  const pending = [...equations];
  let progressed = true;
  while (pending.length && progressed) {
    progressed = false;
    for (let i = 0; i < pending.length; i++) {
      const e = pending[i]!;
      const args = e.inputs.map((a) => (a instanceof Literal ? a.value : env.get(a)));
      if (args.some((a) => a === undefined)) continue;
      const outs = e.primitive.impl(args as ConcreteArray[], e.params);
      checkOutputsForNans(e.primitive.name, avalsOf(e.inputs), outs, e.site, where);
      e.outputs.forEach((v, j) => env.set(v, outs[j]!));
      pending.splice(i--, 1);
      progressed = true;
    }
  }
}
