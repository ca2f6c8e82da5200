/**
 * Forward mode: the JVP interpreter carries a tangent beside every value and applies each primitive's
 * `jvp` rule. Tangents that are known to be zero stay symbolic (`Zero`) so that constants cost nothing.
 */
import { type AbstractValue, type ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import type { Primitive } from "../core/primitive.js";
import { shapeEquals } from "../core/shape.js";
import { fullRaise, type MainTrace, Trace, Tracer, withNewMain } from "../core/trace.js";
import { full } from "../ops/creation.js";
import { assertSameStructure, unflatten } from "../tree/treedef.js";
import { flattenArgs, flattenFun } from "./flat.js";

/** A tangent known to be zero. */
export class Zero {
  constructor(readonly aval: AbstractValue) {}
}

export type Tangent = NdArray | Zero;

export function instantiate(t: Tangent): NdArray {
  return t instanceof Zero ? full(t.aval.shape, 0, { dtype: t.aval.dtype }) : t;
}

export class JvpTracer extends Tracer {
  constructor(
    readonly trace: JvpTrace,
    readonly primal: NdArray,
    readonly tangent: Tangent,
  ) {
    super();
  }
  override get aval(): AbstractValue {
    return this.primal.aval;
  }
  // Forward mode knows the primal: JS control flow on values works under grad, as in JAX.
  override concrete(): ConcreteArray {
    return this.primal.concrete();
  }
}

export class JvpTrace extends Trace {
  pure(value: NdArray): Tracer {
    return new JvpTracer(this, value, new Zero(value.aval));
  }
  lift(value: NdArray): Tracer {
    return this.pure(value);
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: NdArray[], params: P): NdArray[] {
    const ts = tracers as JvpTracer[];
    const primals = ts.map((t) => t.primal);
    if (ts.every((t) => t.tangent instanceof Zero)) {
      return prim.bind(primals, params).map((p) => new JvpTracer(this, p, new Zero(p.aval)));
    }
    const { primalsOut, tangentsOut } = prim.jvp(
      primals,
      ts.map((t) => instantiate(t.tangent)),
      params,
    );
    return primalsOut.map((p, i) => {
      const t = tangentsOut[i];
      return new JvpTracer(this, p, t === undefined || !isFloat(p.dtype) ? new Zero(p.aval) : t);
    });
  }
}

/** jvp on flat lists of arrays; output tangents may be symbolic zeros. */
export function jvpFlat(
  f: (xs: NdArray[]) => NdArray[],
  primals: NdArray[],
  tangents: Tangent[],
): [NdArray[], Tangent[]] {
  return withNewMain(
    (m: MainTrace) => new JvpTrace(m),
    null,
    (main) => {
      const trace = new JvpTrace(main);
      const ins = primals.map((p, i) => new JvpTracer(trace, p, tangents[i]!));
      const outs = f(ins).map((o) => fullRaise(trace, o) as JvpTracer);
      return [outs.map((o) => o.primal), outs.map((o) => o.tangent)];
    },
  );
}

/**
 * Forward-mode derivative: `jvp(f, primals, tangents)` returns `[f(...primals), J·tangents]`. `primals`
 * and `tangents` are lists of arguments (pytrees), the tangents shaped like the primals.
 */
export function jvp<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  primals: Args,
  tangents: Args,
): [Out, Out] {
  const [flatPrimals, inTree] = flattenArgs("jvp", primals);
  const [flatTangents, tanTree] = flattenArgs("jvp", tangents);
  assertSameStructure("jvp: primals vs tangents", inTree, tanTree);
  flatPrimals.forEach((p, i) => {
    const t = flatTangents[i]!;
    if (!shapeEquals(p.shape, t.shape) || p.dtype !== t.dtype) {
      throw new TypeError(
        `jvp: tangent ${i} is ${fmtAval(t)} but its primal is ${fmtAval(p)}; they must match`,
      );
    }
  });
  const flat = flattenFun("jvp", f as (...args: never[]) => unknown, inTree);
  const [outs, touts] = jvpFlat(flat, flatPrimals, flatTangents);
  const outTree = flat.outTree();
  return [unflatten<Out>(outTree, outs), unflatten<Out>(outTree, touts.map(instantiate))];
}
