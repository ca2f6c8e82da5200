/** makeProgram: trace a function on abstract values into the IR, printable like a jaxpr. */
import { type AbstractValue, NdArray, ShapeDtype } from "../core/array.js";
import type { Program } from "../core/ir.js";
import { type StagedProgram, stageFlat } from "../core/staging.js";
import { flatten, type TreeDef } from "../tree/treedef.js";
import { flattenFun } from "./flat.js";

/** What `makeProgram` returns: the traced program (a jaxpr-like IR), its constants and argument trees. */
export interface TracedProgram extends StagedProgram {
  /** The tree structure of the arguments (their leaves are the program's inputs, in order). */
  readonly inTree: TreeDef;
  /** The tree structure of the result (its leaves are the program's outputs, in order). */
  readonly outTree: TreeDef;
  /** The program in a jaxpr-like text form (`viz.programToDot` draws it as a graph). */
  toString(): string;
}

/** Abstract values of a tree of arrays and ShapeDtype leaves. */
export function abstractLeaves(who: string, args: unknown): [AbstractValue[], TreeDef] {
  const [leaves, def] = flatten(args);
  const avals = leaves.map((l, i) => {
    if (l instanceof NdArray) return l.aval;
    if (l instanceof ShapeDtype) return { shape: l.shape, dtype: l.dtype };
    if (typeof l === "number") return { shape: [], dtype: "float32" as const };
    throw new TypeError(
      `${who}: argument leaf ${i} is ${typeof l}; expected an array, a ShapeDtype or a number`,
    );
  });
  return [avals, def];
}

/**
 * `makeProgram(f)(...args)` traces `f` with the shapes and dtypes of `args` (arrays or ShapeDtype
 * values) and returns its program; `toString()` prints it.
 */
export function makeProgram<Args extends unknown[]>(f: (...args: Args) => unknown) {
  return (...args: { [K in keyof Args]: Args[K] | ShapeDtype | unknown }): TracedProgram => {
    const [avals, inTree] = abstractLeaves("makeProgram", args);
    const flat = flattenFun("makeProgram", f as (...a: never[]) => unknown, inTree);
    const staged = stageFlat(flat, avals);
    const program: Program = staged.program;
    return { ...staged, inTree, outTree: flat.outTree(), toString: () => program.toString() };
  };
}
