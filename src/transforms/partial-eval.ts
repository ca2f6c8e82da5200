/**
 * Partial evaluation (Autodidax part 4): values known now are computed now (bound in the outer
 * interpreter); operations on unknown values are recorded, giving the linear program that `linearize`
 * returns and `vjp` transposes.
 */
import {
  type AbstractValue,
  type ConcreteArray,
  ConcretizationError,
  fmtAval,
  type NdArray,
} from "../core/array.js";
import { hasSideEffects } from "../core/effects.js";
import { type Atom, type Equation, Program, Var } from "../core/ir.js";
import type { Primitive } from "../core/primitive.js";
import { fullLower, fullRaise, type MainTrace, Trace, Tracer, withNewMain } from "../core/trace.js";

type Recipe = { kind: "input" } | { kind: "const"; value: NdArray } | { kind: "eqn"; eqn: EqnRecipe };

interface EqnRecipe {
  prim: Primitive<unknown>;
  params: unknown;
  inputs: PartialEvalTracer[];
  outputs: PartialEvalTracer[];
}

export class PartialEvalTracer extends Tracer {
  recipe: Recipe | null = null;
  constructor(
    readonly trace: PartialEvalTrace,
    /** The value when known now; null when unknown. */
    readonly known: NdArray | null,
    private readonly abstractValue: AbstractValue,
  ) {
    super();
  }
  override get aval(): AbstractValue {
    return this.abstractValue;
  }
  override fullLower(): NdArray {
    return this.known !== null ? fullLower(this.known) : this;
  }
  override concrete(): ConcreteArray {
    if (this.known !== null) return this.known.concrete();
    throw new ConcretizationError(
      `cannot read the value of ${fmtAval(this.aval)}: it is only known when the linear map runs`,
    );
  }
}

/** What one partial evaluation records beside its tracers: the effects on unknown values, in order. */
interface PartialEvalState {
  readonly effects: EqnRecipe[];
}

export class PartialEvalTrace extends Trace {
  newArg(known: NdArray | null, aval: AbstractValue): PartialEvalTracer {
    const t = new PartialEvalTracer(this, known, aval);
    if (known === null) t.recipe = { kind: "input" };
    return t;
  }
  pure(value: NdArray): Tracer {
    return new PartialEvalTracer(this, value, value.aval);
  }
  lift(value: NdArray): Tracer {
    return this.pure(value);
  }
  /** A known tracer as an unknown one whose value is a constant of the recorded program. */
  instantiateConst(t: PartialEvalTracer): PartialEvalTracer {
    if (t.known === null) return t;
    const u = new PartialEvalTracer(this, null, t.aval);
    u.recipe = { kind: "const", value: t.known };
    return u;
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: NdArray[], params: P): NdArray[] {
    const ts = tracers as PartialEvalTracer[];
    if (ts.every((t) => t.known !== null))
      return prim.bind(
        ts.map((t) => t.known!),
        params,
      );
    if (prim.partialEval) return prim.partialEval(ts, params);
    return this.recordEquation(prim, ts, params);
  }
  /**
   * Records `prim` on `values` as one equation of the program, all its outputs unknown, without its
   * partialEval rule (which calls this for the part it leaves unknown). Known values become constants.
   */
  recordEquation<P>(prim: Primitive<P>, values: readonly NdArray[], params: P): PartialEvalTracer[] {
    const ts = values.map((v) =>
      v instanceof PartialEvalTracer && v.trace.main === this.main ? v : (this.pure(v) as PartialEvalTracer),
    );
    const inputs = ts.map((t) => this.instantiateConst(t));
    const avals = prim.abstractEval(
      inputs.map((t) => t.aval),
      params,
    );
    const outputs = avals.map((a) => new PartialEvalTracer(this, null, a));
    const eqn: EqnRecipe = { prim: prim as Primitive<unknown>, params, inputs, outputs };
    for (const o of outputs) o.recipe = { kind: "eqn", eqn };
    // An effect on unknown values runs with the recorded program even if no output depends on it.
    if (hasSideEffects(prim as Primitive<never>, params))
      (this.main.globalData as PartialEvalState).effects.push(eqn);
    return outputs;
  }
}

export interface PartialEvalResult {
  /** Known outputs hold their value; unknown ones are outputs of `program`. */
  outsKnown: (NdArray | null)[];
  /** Over the unknown inputs, in order; constVars are bound to `consts`. Outputs: the unknown outputs. */
  program: Program;
  consts: NdArray[];
}

/**
 * Runs `f` with some inputs known (a value) and others unknown (null, with an aval). `instantiate[i]`
 * forces output i into the program even when it is known.
 */
export function partialEvalFlat(
  f: (xs: NdArray[]) => NdArray[],
  known: readonly (NdArray | null)[],
  avals: readonly AbstractValue[],
  instantiate: (i: number) => boolean,
): PartialEvalResult {
  const state: PartialEvalState = { effects: [] };
  return withNewMain(
    (m: MainTrace) => new PartialEvalTrace(m),
    state,
    (main) => {
      const trace = new PartialEvalTrace(main);
      const ins = known.map((k, i) => trace.newArg(k, avals[i]!));
      const outs = f(ins).map((o, i) => {
        const t = fullRaise(trace, o) as PartialEvalTracer;
        return instantiate(i) ? trace.instantiateConst(t) : t;
      });
      const unknownIns = ins.filter((t) => t.known === null);
      const unknownOuts = outs.filter((t) => t.known === null);
      const [program, consts] = tracersToProgram(unknownIns, unknownOuts, state.effects);
      return { outsKnown: outs.map((t) => (t.known === null ? null : fullLower(t.known))), program, consts };
    },
  );
}

/**
 * Builds the program recorded behind `outs` and `effects`, in a topological order of its equations in
 * which the effects keep the order they were recorded in.
 */
function tracersToProgram(
  ins: PartialEvalTracer[],
  outs: PartialEvalTracer[],
  effects: readonly EqnRecipe[],
): [Program, NdArray[]] {
  const vars = new Map<PartialEvalTracer, Var>();
  const varOf = (t: PartialEvalTracer): Var => {
    let v = vars.get(t);
    if (!v) {
      v = new Var(t.aval);
      vars.set(t, v);
    }
    return v;
  };
  const inputVars = ins.map(varOf);
  const constVars: Var[] = [];
  const consts: NdArray[] = [];
  const equations: Equation[] = [];
  const seenEqns = new Set<EqnRecipe>();
  const seenTracers = new Set<PartialEvalTracer>();
  const emit = (eqn: EqnRecipe): void => {
    if (seenEqns.has(eqn)) return;
    seenEqns.add(eqn);
    equations.push({
      primitive: eqn.prim,
      params: eqn.params,
      inputs: eqn.inputs.map(varOf) as Atom[],
      outputs: eqn.outputs.map(varOf),
    });
  };
  // Iterative post-order DFS from `roots`: dependencies before users.
  const visit = (roots: readonly PartialEvalTracer[]): void => {
    const stack: [PartialEvalTracer, boolean][] = roots.map((t) => [t, false]);
    while (stack.length) {
      const [t, expanded] = stack.pop()!;
      const r = t.recipe!;
      if (r.kind === "eqn") {
        if (seenEqns.has(r.eqn) && !expanded) continue;
        if (expanded) {
          emit(r.eqn);
          continue;
        }
        stack.push([t, true]);
        for (const i of r.eqn.inputs) if (!seenTracers.has(i)) stack.push([i, false]);
      } else if (r.kind === "const" && !seenTracers.has(t)) {
        constVars.push(varOf(t));
        consts.push(r.value);
      } else if (r.kind === "input" && !inputVars.includes(varOf(t))) {
        throw new Error("partial evaluation: an unknown input that was not declared as an input");
      }
      seenTracers.add(t);
    }
  };
  for (const effect of effects) {
    visit(effect.inputs);
    emit(effect);
  }
  visit(outs);
  return [new Program(constVars, inputVars, equations, outs.map(varOf)), consts];
}
