/**
 * Staging: the interpreter that records equations into a Program instead of computing
 * (Autodidax's JaxprTrace with a builder, under a dynamic trace so that even ops on constants are staged).
 */
import { type AbstractValue, ConcreteArray, type NdArray } from "./array.js";
import { captureCallSite, debugNansEnabled } from "./debug-nans.js";
import { equationHasEffects } from "./effects.js";
import { type Atom, type Equation, Literal, Program, Var } from "./ir.js";
import type { Primitive } from "./primitive.js";
import {
  fullRaise,
  type MainTrace,
  Trace,
  Tracer,
  withDynamic,
  withNewMain,
  withoutStaging,
} from "./trace.js";

export class StagingTracer extends Tracer {
  /** The program variable this tracer stands for. */
  readonly variable: Var;
  constructor(
    readonly trace: StagingTrace,
    abstractValue: AbstractValue,
  ) {
    super();
    this.variable = new Var(abstractValue);
  }
  override get aval(): AbstractValue {
    return this.variable.aval;
  }
  /** Known while staging with values (`stageFlatWithValues`): reading computes the program so far. */
  override concrete(): ConcreteArray {
    const known = this.trace.builder.known;
    return known === null ? super.concrete() : known.valueOf(this, this.trace.builder);
  }
}

/**
 * Thrown by `stageFlatWithValues` when a read would evaluate an equation with a side effect (a print, a
 * callback): the program's later evaluation would run it a second time. The caller evaluates the function
 * another way.
 */
export class EffectBeforeRead extends Error {
  constructor(primitive: string) {
    super(`a value was read after ${primitive}, an equation with a side effect`);
  }
}

/**
 * The values behind a program staged on concrete inputs: a read of a staged value (`item()`, printing,
 * JS control flow) evaluates the equations recorded so far, once each, as eager evaluation would have,
 * so the staged function runs exactly as it does eagerly. The program then holds what that run did: a
 * value read into JS is a literal or a param of what follows, a branch taken is the equations recorded.
 */
class KnownValues {
  private readonly values = new Map<Var, ConcreteArray>();
  private evaluated = 0;

  setInput(v: Var, value: ConcreteArray): void {
    this.values.set(v, value);
  }

  valueOf(t: StagingTracer, b: ProgramBuilder): ConcreteArray {
    const v = b.varFor(t);
    const known = this.values.get(v) ?? b.constVals.get(v);
    if (known !== undefined) return known.concrete();
    const read = (a: Var): ConcreteArray => (this.values.get(a) ?? b.constVals.get(a)!).concrete();
    withoutStaging(() => {
      for (; this.evaluated < b.equations.length; this.evaluated++) {
        const e = b.equations[this.evaluated]!;
        if (equationHasEffects(e)) throw new EffectBeforeRead(e.primitive.name);
        const outs = e.primitive.bind(
          e.inputs.map((a) => read(a as Var)),
          e.params,
        );
        e.outputs.forEach((o, i) => {
          this.values.set(o, outs[i]!.concrete());
        });
      }
    });
    return read(v);
  }
}

class ProgramBuilder {
  readonly equations: Equation[] = [];
  readonly constTracers = new Map<NdArray, StagingTracer>();
  readonly constVals = new Map<Var, NdArray>();
  readonly inputs: Var[] = [];
  constructor(readonly known: KnownValues | null = null) {}

  varFor(t: StagingTracer): Var {
    return t.variable;
  }
}

export class StagingTrace extends Trace {
  get builder(): ProgramBuilder {
    return this.main.globalData as ProgramBuilder;
  }
  newArg(aval: AbstractValue): StagingTracer {
    const t = new StagingTracer(this, aval);
    this.builder.inputs.push(this.builder.varFor(t));
    return t;
  }
  pure(value: NdArray): Tracer {
    const b = this.builder;
    let t = b.constTracers.get(value);
    if (t === undefined) {
      t = new StagingTracer(this, value.aval);
      b.constTracers.set(value, t);
      b.constVals.set(b.varFor(t), value);
    }
    return t;
  }
  lift(value: NdArray): Tracer {
    return this.pure(value);
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: NdArray[], params: P): NdArray[] {
    // Plain loops: eager grad stages its function on every call (transforms/eager-compile.ts).
    const inputs: Var[] = new Array(tracers.length);
    const inAvals: AbstractValue[] = new Array(tracers.length);
    for (let i = 0; i < tracers.length; i++) {
      const v = (tracers[i] as StagingTracer).variable;
      inputs[i] = v;
      inAvals[i] = v.aval;
    }
    const avals = prim.abstractEval(inAvals, params);
    const outs: StagingTracer[] = new Array(avals.length);
    const outputs: Var[] = new Array(avals.length);
    for (let i = 0; i < avals.length; i++) {
      const t = new StagingTracer(this, avals[i]!);
      outs[i] = t;
      outputs[i] = t.variable;
    }
    const equation: Equation = { primitive: prim as Primitive<unknown>, params, inputs, outputs };
    this.builder.equations.push(debugNansEnabled ? { ...equation, site: captureCallSite() } : equation);
    return outs;
  }
}

/** A staged program and the values of its constants (which may be tracers of outer transforms). */
/** A traced program and the values of its constants (arrays the traced function closed over). */
export interface StagedProgram {
  /** The traced program; its leading inputs stand for `consts`. */
  program: Program;
  /** The non-scalar constants the function captured, in the order of the program's constant inputs. */
  consts: NdArray[];
}

/**
 * Traces `f` on abstract inputs into a Program. Scalar concrete constants are inlined as literals;
 * other constants become constVars.
 */
export function stageFlat(
  f: (args: NdArray[]) => NdArray[],
  inAvals: readonly AbstractValue[],
): StagedProgram {
  return stage(f, inAvals, null);
}

/**
 * `stageFlat` on concrete inputs, whose values the staged function may read: a read evaluates what was
 * staged so far (KnownValues), so `f` runs once, as it would eagerly; the program then encodes what it
 * read, as literals, params and the branches taken.
 */
export function stageFlatWithValues(
  f: (args: NdArray[]) => NdArray[],
  args: readonly ConcreteArray[],
): StagedProgram {
  return stage(
    f,
    args.map((a) => a.aval),
    args,
  );
}

function stage(
  f: (args: NdArray[]) => NdArray[],
  inAvals: readonly AbstractValue[],
  values: readonly ConcreteArray[] | null,
): StagedProgram {
  const known = values === null ? null : new KnownValues();
  const builder = new ProgramBuilder(known);
  return withNewMain(
    (m: MainTrace) => new StagingTrace(m),
    builder,
    (main) =>
      withDynamic(main, () => {
        const trace = new StagingTrace(main);
        const args = inAvals.map((a) => trace.newArg(a));
        if (known !== null)
          args.forEach((t, i) => {
            known.setInput(t.variable, values![i]!);
          });
        const outs = f(args).map((o) => fullRaise(trace, o) as StagingTracer);
        return finishProgram(
          builder,
          outs.map((o) => builder.varFor(o)),
        );
      }),
  );
}

function finishProgram(b: ProgramBuilder, outVars: Var[]): StagedProgram {
  const literals = new Map<Var, Literal>();
  const constVars: Var[] = [];
  const consts: NdArray[] = [];
  for (const [v, value] of b.constVals) {
    if (value instanceof ConcreteArray && value.shape.length === 0) literals.set(v, new Literal(value));
    else {
      constVars.push(v);
      consts.push(value);
    }
  }
  const sub = (a: Var): Atom => literals.get(a) ?? a;
  const equations = b.equations.map((e) => ({
    ...e,
    inputs: e.inputs.map((a) => (a instanceof Var ? sub(a) : a)),
  }));
  return { program: new Program(constVars, b.inputs, equations, outVars.map(sub)), consts };
}
