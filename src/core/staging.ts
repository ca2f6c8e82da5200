/**
 * Staging: the interpreter that records equations into a Program instead of computing
 * (Autodidax's JaxprTrace with a builder, under a dynamic trace so that even ops on constants are staged).
 */
import { type AbstractValue, ConcreteArray, type NdArray } from "./array.js";
import { captureCallSite, debugNansEnabled } from "./debug-nans.js";
import { type Atom, type Equation, Literal, Program, Var } from "./ir.js";
import type { Primitive } from "./primitive.js";
import { fullRaise, type MainTrace, Trace, Tracer, withDynamic, withNewMain } from "./trace.js";

export class StagingTracer extends Tracer {
  constructor(
    readonly trace: StagingTrace,
    private readonly abstractValue: AbstractValue,
  ) {
    super();
  }
  override get aval(): AbstractValue {
    return this.abstractValue;
  }
}

class ProgramBuilder {
  readonly equations: Equation[] = [];
  readonly tracerToVar = new Map<StagingTracer, Var>();
  readonly constTracers = new Map<NdArray, StagingTracer>();
  readonly constVals = new Map<Var, NdArray>();
  readonly inputs: Var[] = [];

  varFor(t: StagingTracer): Var {
    let v = this.tracerToVar.get(t);
    if (v === undefined) {
      v = new Var(t.aval);
      this.tracerToVar.set(t, v);
    }
    return v;
  }
}

export class StagingTrace extends Trace {
  private get builder(): ProgramBuilder {
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
    const avals = prim.abstractEval(
      tracers.map((t) => (t as StagingTracer).aval),
      params,
    );
    const outs = avals.map((a) => new StagingTracer(this, a));
    const b = this.builder;
    b.equations.push({
      primitive: prim as Primitive<unknown>,
      params,
      inputs: tracers.map((t) => b.varFor(t as StagingTracer)),
      outputs: outs.map((t) => b.varFor(t)),
      ...(debugNansEnabled ? { site: captureCallSite() } : {}),
    });
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
  const builder = new ProgramBuilder();
  return withNewMain(
    (m: MainTrace) => new StagingTrace(m),
    builder,
    (main) =>
      withDynamic(main, () => {
        const trace = new StagingTrace(main);
        const args = inAvals.map((a) => trace.newArg(a));
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
