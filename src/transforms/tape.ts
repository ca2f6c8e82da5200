/**
 * Eager reverse mode on a tape (as PyTorch's autograd): when `grad`/`vjp` is called outside any
 * transform, the function runs eagerly, each primitive's kernel computing its outputs at once, and each
 * primitive's `jvp` rule, called with symbolic tangents, appends the linear operations of its derivative
 * to one tape. The cotangents then flow backwards through the tape's transpose rules. This is
 * linearize-then-transpose (linearize.ts) without the JVP interpreter, the partial evaluator and the
 * program they build: the primal half of every rule runs on concrete arrays, on the eager fast path.
 *
 * Primitives that partial evaluation must split (jit, cond, scan, while: their `partialEval` rule) and
 * those with side effects go through `linearizeFlat`, one primitive at a time; the tape holds their
 * transposed map as one step. Inside the function (nested grad, vmap, jit) everything binds through
 * the tape's trace like through any other, so transforms compose as before.
 */
import { type AbstractValue, ConcretizationError, fmtAval, type NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { hasSideEffects } from "../core/effects.js";
import { type Primitive, UndefinedPrimal } from "../core/primitive.js";
import { shapeEquals } from "../core/shape.js";
import { fullRaise, type MainTrace, Trace, Tracer, withNewMain } from "../core/trace.js";
import { addPrim } from "../ops/binary.js";
import { full } from "../ops/creation.js";
import { linearizeFlat, type Transposable } from "./linearize.js";

let tapeEnabled = true;

/**
 * Runs `body` with eager `grad`/`vjp` on the tape (true, the default) or on linearize-then-transpose
 * (false): the tests compare the two.
 */
export function withEagerTape<T>(enabled: boolean, body: () => T): T {
  const previous = tapeEnabled;
  tapeEnabled = enabled;
  try {
    return body();
  } finally {
    tapeEnabled = previous;
  }
}

/** Whether reverse mode on these primals runs on the tape: eagerly, outside every transform. */
export function tapeApplies(primals: readonly NdArray[], depth: number): boolean {
  if (!tapeEnabled || depth !== 0) return false;
  for (const p of primals) if (p instanceof Tracer) return false;
  return true;
}

/** A linear variable of the tape: an input's tangent, or a tangent a recorded step computes. */
class TangentVar {
  constructor(
    readonly aval: AbstractValue,
    /** Index into a backward pass's cotangent table. */
    readonly id: number,
  ) {}
}

/** One recorded linear step: a linear primitive on tangents (and known values), or a transposed map. */
interface TapeStep {
  readonly inputs: readonly (TangentVar | null)[];
  readonly outputs: readonly (TangentVar | null)[];
  /** Input cotangents from output cotangents (null where none flowed to an output). */
  readonly transpose: (cts: readonly (NdArray | null)[]) => readonly (NdArray | null)[];
  /** A primitive with side effects: it runs in the backward pass even if no output has a cotangent. */
  readonly effect?: boolean;
}

/** The tape of one eager `grad`/`vjp` call. */
class Tape {
  readonly steps: TapeStep[] = [];
  nVars = 0;
  newVar(aval: AbstractValue): TangentVar {
    return new TangentVar(aval, this.nVars++);
  }
}

/** Thrown inside a jvp rule that binds a primitive the tape cannot record; the primitive is then linearized. */
class NotRecordable extends Error {}

/** A value of the function being differentiated: its primal, and its tangent when it depends on an input. */
class TapeTracer extends Tracer {
  constructor(
    readonly trace: TapeTrace,
    readonly primal: NdArray,
    readonly tangent: TangentVar | null,
  ) {
    super();
  }
  override get aval(): AbstractValue {
    return this.primal.aval;
  }
  override fullLower(): NdArray {
    return this.tangent === null ? this.primal : this;
  }
  // As under forward mode, the value is known: JS control flow on values works under an eager grad.
  override concrete() {
    return this.primal.concrete();
  }
}

class TapeTrace extends Trace {
  private get tape(): Tape {
    return (this.main.globalData as TapeLevels).tape;
  }
  private get linear(): LinearTrace {
    return (this.main.globalData as TapeLevels).linear;
  }
  pure(value: NdArray): Tracer {
    return new TapeTracer(this, value, null);
  }
  lift(value: NdArray): Tracer {
    return this.pure(value);
  }
  newInput(primal: NdArray): TapeTracer {
    return new TapeTracer(this, primal, isFloat(primal.dtype) ? this.tape.newVar(primal.aval) : null);
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: NdArray[], params: P): NdArray[] {
    const ts = tracers as TapeTracer[];
    const primals: NdArray[] = new Array(ts.length);
    let tracked = false;
    for (let i = 0; i < ts.length; i++) {
      primals[i] = ts[i]!.primal;
      if (ts[i]!.tangent !== null) tracked = true;
    }
    if (!tracked) return prim.bind(primals, params);
    if (prim.partialEval === undefined && !hasSideEffects(prim as Primitive<never>, params)) {
      const mark = this.tape.steps.length;
      try {
        return this.record(prim, ts, primals, params);
      } catch (e) {
        if (!(e instanceof NotRecordable)) throw e;
        this.tape.steps.length = mark;
      }
    }
    return this.linearizeOne(prim, ts, primals, params);
  }
  /** Runs the primitive's jvp rule with symbolic tangents: the linear half lands on the tape. */
  private record<P>(prim: Primitive<P>, ts: TapeTracer[], primals: NdArray[], params: P): NdArray[] {
    const linear = this.linear;
    const tangents = ts.map((t) => linear.tangentOf(t.tangent, t.primal.aval));
    const { primalsOut, tangentsOut } = prim.jvp(primals, tangents, params);
    return primalsOut.map((p, i) => {
      const t = tangentsOut[i];
      // A tangent that is not a recorded variable does not depend on the inputs (a zero, a constant).
      return t instanceof LinearTracer && t.variable !== null && isFloat(p.dtype)
        ? new TapeTracer(this, p, t.variable)
        : p;
    });
  }
  /** A primitive the tape cannot see into: linearized on its own, its transposed map one step. */
  private linearizeOne<P>(prim: Primitive<P>, ts: TapeTracer[], primals: NdArray[], params: P): NdArray[] {
    const which = ts.flatMap((t, i) => (t.tangent === null ? [] : [i]));
    const lin: Transposable = linearizeFlat(
      (xs) => {
        const args = [...primals];
        which.forEach((k, j) => {
          args[k] = xs[j]!;
        });
        return prim.bind(args, params);
      },
      which.map((k) => primals[k]!),
    );
    const outputs = lin.primalsOut.map((p) => (isFloat(p.dtype) ? this.tape.newVar(p.aval) : null));
    this.tape.steps.push({
      inputs: which.map((k) => ts[k]!.tangent),
      outputs,
      transpose: (cts) => lin.transposed([...cts]),
      effect: hasSideEffects(prim as Primitive<never>, params),
    });
    return lin.primalsOut.map((p, i) => {
      const v = outputs[i]!;
      return v === null ? p : new TapeTracer(this, p, v);
    });
  }
}

/**
 * A tangent inside a jvp rule: a variable of the tape, a symbolic zero (an input that does not depend
 * on the differentiated ones), or a known value the rule combines with tangents.
 */
class LinearTracer extends Tracer {
  constructor(
    readonly trace: LinearTrace,
    private readonly abstractValue: AbstractValue,
    /** The tape variable, or null for a zero or a known value. */
    readonly variable: TangentVar | null,
    /** The value of a known operand; null for tangents. */
    readonly known: NdArray | null,
  ) {
    super();
  }
  override get aval(): AbstractValue {
    return this.abstractValue;
  }
  override fullLower(): NdArray {
    return this.known ?? this;
  }
  override concrete() {
    if (this.known !== null) return this.known.concrete();
    throw new ConcretizationError(
      `cannot read the value of a tangent ${fmtAval(this.aval)}: it is only known when the derivative runs`,
    );
  }
}

class LinearTrace extends Trace {
  private get tape(): Tape {
    return (this.main.globalData as TapeLevels).tape;
  }
  pure(value: NdArray): Tracer {
    return new LinearTracer(this, value.aval, null, value);
  }
  lift(value: NdArray): Tracer {
    return this.pure(value);
  }
  tangentOf(variable: TangentVar | null, aval: AbstractValue): LinearTracer {
    return new LinearTracer(this, aval, variable, null);
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: NdArray[], params: P): NdArray[] {
    const ts = tracers as LinearTracer[];
    // Jvp rules are linear in the tangents: a primitive of zeros and known values gives zeros.
    let anyVariable = false;
    for (const t of ts) if (t.variable !== null) anyVariable = true;
    if (!anyVariable && ts.every((t) => t.known !== null))
      return prim.bind(
        ts.map((t) => t.known!),
        params,
      );
    if (prim.partialEval !== undefined || hasSideEffects(prim as Primitive<never>, params))
      throw new NotRecordable(prim.name);
    const avals = prim.abstractEval(
      ts.map((t) => t.aval),
      params,
    );
    if (!anyVariable) return avals.map((a) => this.tangentOf(null, a));
    const transpose = prim.transpose;
    if (transpose === undefined) throw new NotRecordable(prim.name);
    const tape = this.tape;
    const outputs = avals.map((a) => tape.newVar(a));
    // A zero tangent enters the transpose rule as a known zero, so the rule computes no cotangent for it
    // (select's other branch, say). Its value could matter only to a product of two tangents, which a
    // jvp rule, linear in the tangents, never forms.
    const args: (NdArray | UndefinedPrimal)[] = ts.map(
      (t) => t.known ?? (t.variable === null ? zeros(t.aval) : new UndefinedPrimal(t.aval)),
    );
    tape.steps.push({
      inputs: ts.map((t) => t.variable),
      outputs,
      transpose: (cts) =>
        transpose(
          cts.map((c, i) => c ?? zeros(avals[i]!)),
          args,
          params,
        ),
    });
    return outputs.map((v) => this.tangentOf(v, v.aval));
  }
}

interface TapeLevels {
  readonly tape: Tape;
  readonly linear: LinearTrace;
}

function zeros(aval: AbstractValue): NdArray {
  return full(aval.shape, 0, { dtype: aval.dtype });
}

/**
 * Runs `f` eagerly on `primals`, recording its derivative on a tape: its outputs, and the transposed
 * linear map (one cotangent per input, zeros where none flowed; callable any number of times).
 */
export function tapeVjpFlat(f: (xs: NdArray[]) => NdArray[], primals: readonly NdArray[]): Transposable {
  const tape = new Tape();
  let inputs: TapeTracer[] = [];
  let outs: TapeTracer[] = [];
  const levels: { tape: Tape; linear: LinearTrace | null } = { tape, linear: null };
  withNewMain(
    (m: MainTrace) => new TapeTrace(m),
    levels,
    (tapeMain) =>
      withNewMain(
        (m: MainTrace) => new LinearTrace(m),
        levels,
        (linearMain) => {
          levels.linear = linearMain.trace as LinearTrace;
          const trace = tapeMain.trace as TapeTrace;
          inputs = primals.map((p) => trace.newInput(p));
          outs = f(inputs).map((o) => fullRaise(trace, o) as TapeTracer);
        },
      ),
  );
  const inputVars = inputs.map((t) => t.tangent);
  const outputVars = outs.map((t) => t.tangent);
  const { steps } = tape;
  let order: number[] | null = null;
  return {
    primalsOut: outs.map((t) => t.primal),
    transposed: (cts) => {
      const table: (NdArray | undefined)[] = new Array(tape.nVars);
      const accumulate = (v: TangentVar | null, ct: NdArray | null | undefined): void => {
        if (v === null || ct === null || ct === undefined) return;
        if (!shapeEquals(ct.shape, v.aval.shape))
          throw new Error(`vjp: cotangent ${fmtAval(ct)} does not match its value ${fmtAval(v.aval)}`);
        const prev = table[v.id];
        table[v.id] = prev === undefined ? ct : addPrim.bind1([prev, ct], {});
      };
      outputVars.forEach((v, i) => {
        accumulate(v, cts[i]);
      });
      order ??= programOrder(tape, outputVars);
      for (let j = order.length - 1; j >= 0; j--) {
        const step = steps[order[j]!]!;
        let any = false;
        const outCts: (NdArray | null)[] = new Array(step.outputs.length);
        for (let i = 0; i < step.outputs.length; i++) {
          const v = step.outputs[i]!;
          const ct = v === null ? undefined : table[v.id];
          outCts[i] = ct ?? null;
          if (ct !== undefined) {
            any = true;
            table[v.id] = undefined;
          }
        }
        if (!any) continue;
        const inCts = step.transpose(outCts);
        for (let i = 0; i < step.inputs.length; i++) accumulate(step.inputs[i]!, inCts[i]);
      }
      return inputVars.map((v, i) => (v === null ? null : table[v.id]) ?? zeros(primals[i]!.aval));
    },
  };
}

/**
 * The steps in the order linearize's program would hold their equations (partial-eval.ts,
 * tracersToProgram: the effects in the order they ran, each after its inputs, then an iterative
 * post-order walk from the outputs), so that the backward pass adds the cotangents of a value used twice
 * in the same order as the transposed program does, and eager gradients have jit(grad f)'s bits. Steps
 * no output depends on are left out (they get no cotangent).
 */
function programOrder(tape: Tape, outputs: readonly (TangentVar | null)[]): number[] {
  const { steps } = tape;
  const producer = new Int32Array(tape.nVars).fill(-1);
  for (let k = 0; k < steps.length; k++)
    for (const v of steps[k]!.outputs) if (v !== null) producer[v.id] = k;
  const seenSteps = new Uint8Array(steps.length);
  const seenVars = new Uint8Array(tape.nVars);
  const order: number[] = [];
  const emit = (k: number): void => {
    if (seenSteps[k] === 1) return;
    seenSteps[k] = 1;
    order.push(k);
  };
  // Values that are not variables (constants, zeros) are leaves there too, so leaving them out keeps the order.
  const visit = (roots: readonly (TangentVar | null)[]): void => {
    const stack: [TangentVar, boolean][] = [];
    for (const v of roots) if (v !== null) stack.push([v, false]);
    while (stack.length > 0) {
      const [v, expanded] = stack.pop()!;
      const k = producer[v.id]!;
      if (k >= 0) {
        if (seenSteps[k] === 1 && !expanded) continue;
        if (expanded) {
          emit(k);
          continue;
        }
        stack.push([v, true]);
        for (const i of steps[k]!.inputs) if (i !== null && seenVars[i.id] === 0) stack.push([i, false]);
      }
      seenVars[v.id] = 1;
    }
  };
  for (let k = 0; k < steps.length; k++) {
    if (steps[k]!.effect !== true) continue;
    visit(steps[k]!.inputs);
    emit(k);
  }
  visit(outputs);
  return order;
}
