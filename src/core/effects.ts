/**
 * Which equations have side effects (prints, callbacks, run-time checks): a primitive declares it with
 * `hasSideEffects`, and a higher-order primitive (jit, cond, scan, checkpoint, ...) has the effects of the
 * programs in its params, as JAX derives a jaxpr's effects from the jaxprs its equations close over. The
 * passes that delete, merge or evaluate equations ahead of time (dead-code elimination, CSE, constant
 * folding, partial evaluation) ask this rather than any primitive's name.
 */
import { type Equation, Program } from "./ir.js";
import type { Primitive } from "./primitive.js";

const programEffects = new WeakMap<Program, boolean>();

/** Whether running `program` has a side effect (any of its equations has one). */
export function programHasEffects(program: Program): boolean {
  let known = programEffects.get(program);
  if (known === undefined) {
    known = program.equations.some(equationHasEffects);
    programEffects.set(program, known);
  }
  return known;
}

/** Whether an equation of `primitive` with `params` has a side effect. */
export function hasSideEffects(primitive: Primitive<never>, params: unknown): boolean {
  const own = (primitive as Primitive<unknown>).hasSideEffects;
  if (own?.(params)) return true;
  return programsIn(params).some(programHasEffects);
}

/** Whether the equation has a side effect, so it must run (in order) even if its outputs are unused. */
export function equationHasEffects(e: Equation): boolean {
  return hasSideEffects(e.primitive as Primitive<never>, e.params);
}

/** The programs among a params object's values (a program, or a list of them: cond's branches). */
function programsIn(params: unknown): Program[] {
  if (params === null || typeof params !== "object") return [];
  const found: Program[] = [];
  for (const value of Object.values(params as Record<string, unknown>)) {
    if (value instanceof Program) found.push(value);
    else if (Array.isArray(value)) for (const v of value) if (v instanceof Program) found.push(v);
  }
  return found;
}
