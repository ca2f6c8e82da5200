/**
 * Linearization (Autodidax): the JVP runs under partial evaluation, so the primal computation happens
 * now and the tangent computation is recorded as a linear program, which `transposed` runs backwards.
 * Because every step binds primitives in the current interpreter, it composes with every transform.
 */
import type { NdArray } from "../core/array.js";
import { evalProgram } from "../core/ir.js";
import { instantiate, jvpFlat } from "./jvp.js";
import { partialEvalFlat } from "./partial-eval.js";
import { transposeProgram } from "./transpose.js";

/** What reverse mode needs of a linearized function: its outputs and the transposed linear map. */
export interface Transposable {
  primalsOut: NdArray[];
  /** Applies the transposed map to output cotangents (null: none); one cotangent per input. */
  transposed: (cts: (NdArray | null)[]) => NdArray[];
}

export interface Linearized extends Transposable {
  /** Applies the linear map to input tangents. */
  linear: (tangents: NdArray[]) => NdArray[];
}

/** `f`'s outputs at `primals`, with its linear map there and that map's transpose. */
export function linearizeFlat(f: (xs: NdArray[]) => NdArray[], primals: NdArray[]): Linearized {
  const n = primals.length;
  let nOut = 0;
  const fJvp = (xs: NdArray[]): NdArray[] => {
    const [outs, touts] = jvpFlat(f, xs.slice(0, n), xs.slice(n));
    nOut = outs.length;
    return [...outs, ...touts.map(instantiate)];
  };
  const known = [...primals, ...primals.map(() => null)];
  const avals = [...primals, ...primals].map((p) => p.aval);
  const { outsKnown, program, consts } = partialEvalFlat(fJvp, known, avals, (i) => i >= nOut);
  const primalsOut = outsKnown.slice(0, nOut).map((p, i) => {
    if (p === null)
      throw new Error(`linearize: primal output ${i} depends on a tangent (a primitive's jvp rule is wrong)`);
    return p;
  });
  return {
    primalsOut,
    linear: (tangents) => evalProgram(program, consts, tangents),
    transposed: (cts) => transposeProgram(program, consts, cts),
  };
}
