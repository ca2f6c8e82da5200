/**
 * Liveness over a plan's steps: which values are views of others (aliases), where each value is
 * defined, and the last step that reads it. Reads of an alias extend its root's life; program outputs
 * live past the last step.
 */
import { aliasedInput } from "../core/compiler-facts.js";
import { type Program, Var } from "../core/ir.js";
import { type PlanStep, stepInputs, stepOutputs } from "./plan-steps.js";

export interface Liveness {
  /** Each alias and the value it views. */
  readonly aliasOf: ReadonlyMap<Var, Var>;
  /** The step that writes each value (plan inputs and constants have none). */
  readonly definedAt: ReadonlyMap<Var, number>;
  /** The last step that reads each root value (steps.length for program outputs); absent: never read. */
  readonly lastUse: ReadonlyMap<Var, number>;
}

export function liveness(program: Program, steps: readonly PlanStep[]): Liveness {
  const aliasOf = new Map<Var, Var>();
  const definedAt = new Map<Var, number>();
  const lastUse = new Map<Var, number>();
  const root = (v: Var): Var => rootOf({ aliasOf }, v);
  steps.forEach((s, k) => {
    // A primitive whose output is a view of an input's buffer (compiler.aliasesInput: reshape) runs no kernel.
    const input = s.kind === "eqn" ? aliasedInput(s.equation) : undefined;
    if (s.kind === "eqn" && input instanceof Var) aliasOf.set(s.equation.outputs[0]!, input);
    for (const v of stepInputs(s)) lastUse.set(root(v), k);
    for (const v of stepOutputs(s)) definedAt.set(v, k);
  });
  for (const v of programOutputVars(program)) lastUse.set(root(v), steps.length);
  return { aliasOf, definedAt, lastUse };
}

/** The value whose buffer `v` is: itself, or the root of what it aliases. */
export function rootOf(live: Pick<Liveness, "aliasOf">, v: Var): Var {
  const of = live.aliasOf.get(v);
  return of ? rootOf(live, of) : v;
}

/** The program's outputs that are values (not literals), each once. */
export function programOutputVars(program: Program): Set<Var> {
  const out = new Set<Var>();
  for (const a of program.outputs) if (a instanceof Var) out.add(a);
  return out;
}
