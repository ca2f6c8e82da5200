/**
 * Interpreters, as in JAX's Autodidax: a stack of traces; `bind` sends a primitive to the innermost
 * trace that owns one of its arguments (or to the dynamic trace while staging a program), lifting the
 * other arguments into it. Evaluation at the bottom of the stack calls the primitive's kernel.
 */
import { type AbstractValue, ConcreteArray, ConcretizationError, fmtAval, NdArray } from "./array.js";
import { checkOutputsForNans, debugNansEnabled } from "./debug-nans.js";
import type { DType } from "./dtype.js";
import type { Primitive } from "./primitive.js";
import type { Shape } from "./shape.js";

/** One level of the interpreter stack; `globalData` is the level's shared state (e.g. a program builder). */
export class MainTrace {
  private cachedTrace: Trace | null = null;
  constructor(
    readonly level: number,
    readonly makeTrace: (main: MainTrace) => Trace,
    readonly globalData: unknown,
  ) {}
  /** The level's trace: traces hold nothing but their main, so one serves every bind at this level. */
  get trace(): Trace {
    this.cachedTrace ??= this.makeTrace(this);
    return this.cachedTrace;
  }
}

export abstract class Trace {
  constructor(readonly main: MainTrace) {}
  /** A value from outside any trace, as a tracer of this trace. */
  abstract pure(value: NdArray): Tracer;
  /** A tracer of a lower level, as a tracer of this trace. */
  abstract lift(value: NdArray): Tracer;
  abstract processPrimitive<P>(prim: Primitive<P>, tracers: NdArray[], params: P): NdArray[];
}

export abstract class Tracer extends NdArray {
  abstract readonly trace: Trace;
  abstract override get aval(): AbstractValue;
  get shape(): Shape {
    return this.aval.shape;
  }
  get dtype(): DType {
    return this.aval.dtype;
  }
  /** The value with this level stripped, when the level adds nothing (e.g. a batch tracer with no batch axis). */
  fullLower(): NdArray {
    return this;
  }
  concrete(): ConcreteArray {
    throw new ConcretizationError(
      `cannot read the value of a traced array ${fmtAval(this.aval)} while tracing (inside jit, vmap or makeProgram); ` +
        "use np.where / cond instead of JS control flow on array values, or mark the argument static",
    );
  }
}

class EvalTrace extends Trace {
  pure(value: NdArray): Tracer {
    return value as Tracer;
  }
  lift(value: NdArray): Tracer {
    return value as Tracer;
  }
  processPrimitive<P>(prim: Primitive<P>, args: NdArray[], params: P): NdArray[] {
    return evalPrimitive(prim, args as ConcreteArray[], params);
  }
}

/**
 * Runs a primitive's kernel, checking shapes through its abstract-eval rule first (and its outputs for
 * NaN while `setDebugNans(true)` is on).
 */
export function evalPrimitive<P>(prim: Primitive<P>, args: ConcreteArray[], params: P): ConcreteArray[] {
  // An array without host values (a WebGPU device array) throws here, naming how to read it.
  for (const a of args) if (!(a instanceof ConcreteArray)) (a as NdArray).concrete();
  if (prim.implRunsAbstractEval !== true) prim.abstractEval(args, params);
  const outs = prim.impl(args, params);
  if (debugNansEnabled) checkOutputsForNans(prim.name, args, outs, undefined);
  return outs;
}

const traceStack: MainTrace[] = [new MainTrace(0, (m) => new EvalTrace(m), null)];
let dynamicTrace: MainTrace | null = null;

/** Runs `body` with a new interpreter level pushed on the stack. */
export function withNewMain<T>(
  makeTrace: (main: MainTrace) => Trace,
  globalData: unknown,
  body: (main: MainTrace) => T,
): T {
  const main = new MainTrace(traceStack.length, makeTrace, globalData);
  traceStack.push(main);
  try {
    return body(main);
  } finally {
    traceStack.pop();
  }
}

/** Runs `body` with `main` as the dynamic trace: every bind is staged into it, even on constants. */
export function withDynamic<T>(main: MainTrace, body: () => T): T {
  const previous = dynamicTrace;
  dynamicTrace = main;
  try {
    return body();
  } finally {
    dynamicTrace = previous;
  }
}

/** Runs `body` with no program being staged: binds on concrete values evaluate (a staged value read). */
export function withoutStaging<T>(body: () => T): T {
  const previous = dynamicTrace;
  dynamicTrace = null;
  try {
    return body();
  } finally {
    dynamicTrace = previous;
  }
}

function findTopTrace(args: readonly NdArray[]): Trace {
  let top = traceStack[0]!;
  for (const x of args) {
    if (x instanceof Tracer && x.trace.main.level > top.level) top = x.trace.main;
  }
  if (dynamicTrace !== null && dynamicTrace.level > top.level) top = dynamicTrace;
  return top.trace;
}

export function fullRaise(trace: Trace, value: NdArray): Tracer {
  if (!(value instanceof Tracer)) return trace.pure(value);
  const level = trace.main.level;
  if (value.trace.main === trace.main) return value;
  if (value.trace.main.level < level) return trace.lift(value);
  if (value.trace.main.level > level) {
    throw new Error(
      `a value from an inner transform escaped into an outer one (level ${value.trace.main.level} > ${level}); ` +
        "do not leak traced arrays out of a transformed function",
    );
  }
  throw new Error("two different traces at the same level");
}

export function fullLower(value: NdArray): NdArray {
  return value instanceof Tracer ? value.fullLower() : value;
}

function anyTracer(args: readonly NdArray[]): boolean {
  for (let i = 0; i < args.length; i++) if (args[i] instanceof Tracer) return true;
  return false;
}

/** Applies a primitive in the current interpreter. */
export function bind<P>(prim: Primitive<P>, args: readonly NdArray[], params: P): NdArray[] {
  // Fast path for evaluation: no tracer among the arguments and no program being staged, so the
  // innermost trace owning an argument is the evaluation at the bottom of the stack, whatever
  // transforms are active above it (the known values a grad computes land here).
  if (dynamicTrace === null && !anyTracer(args)) return evalPrimitive(prim, args as ConcreteArray[], params);
  const trace = findTopTrace(args);
  const tracers = args.map((a) => fullRaise(trace, a));
  return trace.processPrimitive(prim, tracers, params).map(fullLower);
}

export function bind1<P>(prim: Primitive<P>, args: readonly NdArray[], params: P): NdArray {
  return bind(prim, args, params)[0]!;
}

/**
 * The value of `x` if it is known now: a concrete array, or a tracer whose value can be read (a staged
 * value of an eager grad, core/staging.ts); null for a value only traced (inside jit or vmap) and for a
 * device array. For ops whose result's shape depends on values (nonzero, boolean masks).
 */
export function knownValue(x: NdArray): ConcreteArray | null {
  if (!(x instanceof Tracer)) return x instanceof ConcreteArray ? x : null;
  try {
    return x.concrete();
  } catch (e) {
    if (e instanceof ConcretizationError) return null;
    throw e;
  }
}

/** The current depth of the interpreter stack (0 = eager). Used to tell whether values may be read. */
export function traceDepth(): number {
  return traceStack.length - 1 + (dynamicTrace === null ? 0 : 1);
}
