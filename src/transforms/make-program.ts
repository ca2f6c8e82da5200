/** makeProgram: trace a function on abstract values into the IR, printable like a jaxpr. */
import { type AbstractValue, NdArray, ShapeDtype } from "../core/array.js";
import { type DType, isDType } from "../core/dtype.js";
import type { Program } from "../core/ir.js";
import { type StagedProgram, stageFlat } from "../core/staging.js";
import { flatten, isPlainObject, type TreeDef } from "../tree/treedef.js";
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

/** Whether `x` is a plain `{ shape, dtype }` object (JAX's ShapeDtypeStruct written as a literal). */
function isShapeDtypeLiteral(x: unknown): x is { shape: number[]; dtype: DType } {
  if (!isPlainObject(x)) return false;
  const keys = Object.keys(x);
  return (
    keys.length === 2 &&
    Array.isArray(x.shape) &&
    x.shape.every((d) => Number.isInteger(d) && (d as number) >= 0) &&
    isDType(x.dtype)
  );
}

/** The tree with every `{ shape, dtype }` literal replaced by a ShapeDtype leaf (it is not a subtree). */
function withShapeDtypeLeaves(tree: unknown): unknown {
  if (isShapeDtypeLiteral(tree)) return new ShapeDtype([...tree.shape], tree.dtype);
  if (Array.isArray(tree)) return tree.map(withShapeDtypeLeaves);
  if (isPlainObject(tree)) {
    return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, withShapeDtypeLeaves(v)]));
  }
  return tree;
}

/**
 * Abstract values of a tree of arrays, numbers and ShapeDtype leaves (a plain `{ shape, dtype }` object
 * with a valid dtype counts as a ShapeDtype).
 */
export function abstractLeaves(who: string, args: unknown): [AbstractValue[], TreeDef] {
  const [leaves, def] = flatten(withShapeDtypeLeaves(args));
  const avals = leaves.map((l, i) => {
    if (l instanceof NdArray) return l.aval;
    if (l instanceof ShapeDtype) return { shape: l.shape, dtype: l.dtype };
    if (typeof l === "number") return { shape: [], dtype: "float32" as const };
    throw new TypeError(
      `${who}: argument leaf ${i} is ${typeof l}; expected an array, a ShapeDtype ({ shape, dtype }) or a number`,
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
