/**
 * Transposition: runs a linear program backwards, each primitive's `transpose` rule turning output
 * cotangents into input cotangents (Autodidax's backward_pass). Cotangents of a variable used twice add.
 */
import { type AbstractValue, fmtAval, type NdArray } from "../core/array.js";
import { type Atom, Literal, type Program, Var } from "../core/ir.js";
import { UndefinedPrimal } from "../core/primitive.js";
import { shapeEquals } from "../core/shape.js";
import { addPrim } from "../ops/binary.js";
import { full } from "../ops/creation.js";

function zeros(aval: AbstractValue): NdArray {
  return full(aval.shape, 0, { dtype: aval.dtype });
}

/**
 * Transposes `program` (linear in its inputs; its constVars bound to `consts`). Returns one cotangent per
 * program input (zeros where none flowed).
 */
export function transposeProgram(
  program: Program,
  consts: readonly NdArray[],
  cts: readonly (NdArray | null)[],
): NdArray[] {
  const primalEnv = new Map<Var, NdArray>();
  program.constVars.forEach((v, i) => primalEnv.set(v, consts[i]!));
  const ctEnv = new Map<Var, NdArray>();
  const writeCt = (a: Atom, ct: NdArray | null): void => {
    if (ct === null || a instanceof Literal || primalEnv.has(a)) return;
    if (!shapeEquals(ct.shape, a.aval.shape)) {
      throw new Error(`transpose: cotangent ${fmtAval(ct)} does not match its variable ${fmtAval(a.aval)}`);
    }
    const prev = ctEnv.get(a);
    ctEnv.set(a, prev === undefined ? ct : addPrim.bind1([prev, ct], {}));
  };
  const readPrimal = (a: Atom): NdArray | UndefinedPrimal =>
    a instanceof Literal ? a.value : (primalEnv.get(a) ?? new UndefinedPrimal(a.aval));
  program.outputs.forEach((o, i) => writeCt(o, cts[i] ?? null));
  for (let k = program.equations.length - 1; k >= 0; k--) {
    const eqn = program.equations[k]!;
    const outCts = eqn.outputs.map((v) => ctEnv.get(v));
    if (outCts.every((c) => c === undefined)) continue;
    eqn.outputs.forEach((v) => ctEnv.delete(v));
    const rule = eqn.primitive.transpose;
    if (!rule)
      throw new Error(`transpose: primitive ${eqn.primitive.name} is not linear and has no transpose rule`);
    const inCts = rule(
      outCts.map((c, i) => c ?? zeros(eqn.outputs[i]!.aval)),
      eqn.inputs.map(readPrimal),
      eqn.params,
    );
    eqn.inputs.forEach((a, i) => writeCt(a, inCts[i] ?? null));
  }
  return program.inputs.map((v) => ctEnv.get(v) ?? zeros(v.aval));
}

export { Var };
