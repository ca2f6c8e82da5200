/**
 * The steps a plan runs, after fusion and transpose absorption: a fused loop, one equation, or a GEMM
 * that absorbed transposes. What each step reads and writes, and how the printed plan names it.
 */
import { fmtAval } from "../core/array.js";
import { type Equation, Var } from "../core/ir.js";
import { formatParams } from "../core/primitive.js";
import type { Step } from "./fusion.js";
import type { GemmStep } from "./gemm-steps.js";

/** A step of a plan: a fused loop, one equation, or a GEMM that absorbed transposes. */
export type PlanStep = Step | GemmStep;

/** The equations a step computes, in order. */
export function stepEquations(s: PlanStep): readonly Equation[] {
  return s.kind === "eqn" ? [s.equation] : s.equations;
}

/** The values a step reads (literals aside). */
export function stepInputs(s: PlanStep): Var[] {
  return s.kind === "fused"
    ? s.inputs
    : s.kind === "gemm"
      ? [s.a, s.b]
      : s.equation.inputs.filter((a): a is Var => a instanceof Var);
}

/** The values a step writes. */
export function stepOutputs(s: PlanStep): Var[] {
  return s.kind === "fused" ? s.outputs : s.kind === "gemm" ? [s.out] : [...s.equation.outputs];
}

/** The step as the printed plan and `profile` list it: its number, primitive (or fused primitives) and output. */
export function describeStep(s: PlanStep, k: number): string {
  if (s.kind === "gemm") {
    const op = (transposed: boolean) => (transposed ? "ᵀ" : "");
    return `${k}: gemm[A${op(s.transposeA)} B${op(s.transposeB)}] -> ${fmtAval(s.out.aval)}`;
  }
  if (s.kind === "fused") {
    return `${k}: fused[${s.equations.map((e) => e.primitive.name).join(",")}] -> ${s.outputs.map((v) => fmtAval(v.aval)).join(", ")}`;
  }
  const e = s.equation;
  // An effect (no outputs: a print, a callback) is named with its params, which say what it does.
  if (e.outputs.length === 0) return `${k}: ${e.primitive.name}[${formatParams(e.primitive, e.params)}]`;
  return `${k}: ${e.primitive.name} -> ${e.outputs.map((v) => fmtAval(v.aval)).join(", ")}`;
}
