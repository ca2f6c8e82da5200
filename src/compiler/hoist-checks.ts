/**
 * Moves the equations of primitives that only check values (`validatesOnly`, e.g. a loss's label check)
 * to just after the equations that define their inputs, keeping every other order. A plan then checks
 * its inputs before it computes anything else, in particular before it writes over donated buffers,
 * so a bad label leaves a donated training state intact. A check never moves before an effect (a print,
 * a callback: `hasSideEffects`) that the program runs before it, so effects keep their order.
 */
import { equationHasEffects } from "../core/effects.js";
import { type Equation, Program, Var } from "../core/ir.js";

export function hoistChecks(program: Program): Program {
  if (!program.equations.some((e) => e.primitive.validatesOnly)) return program;
  const order: Equation[] = [];
  /** Index in `order` of the equation defining each value (inputs and constants: none). */
  const definedAt = new Map<Var, number>();
  let lastCheck = -1;
  for (const e of program.equations) {
    if (!e.primitive.validatesOnly) {
      for (const v of e.outputs) definedAt.set(v, order.length);
      if (equationHasEffects(e)) lastCheck = order.length;
      order.push(e);
      continue;
    }
    // After its inputs' definitions and after the checks hoisted before it (they keep their order).
    let at = lastCheck + 1;
    for (const a of e.inputs) if (a instanceof Var) at = Math.max(at, (definedAt.get(a) ?? -1) + 1);
    order.splice(at, 0, e);
    for (const [v, k] of definedAt) if (k >= at) definedAt.set(v, k + 1);
    for (const v of e.outputs) definedAt.set(v, at);
    lastCheck = at;
  }
  return new Program(program.constVars, program.inputs, order, program.outputs);
}
