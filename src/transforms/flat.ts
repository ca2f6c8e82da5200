/** Adapting user functions on pytrees to the flat array-list functions the interpreters work with. */
import { fmtAval, NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { asArray } from "../ops/creation.js";
import { flatten, leafPaths, type TreeDef, unflatten } from "../tree/treedef.js";

/** A tree's type with its number and boolean leaves as arrays (what the transforms turn them into). */
export type ArrayLeaves<T> = T extends NdArray | number | boolean
  ? NdArray
  : T extends null | undefined
    ? T
    : { -readonly [K in keyof T]: ArrayLeaves<T[K]> };

/** Flattens a tree of inputs; JS numbers become float32 scalars. Errors name the transform. */
export function flattenArgs(who: string, args: unknown): [NdArray[], TreeDef] {
  const [leaves, def] = flatten(args);
  return [leaves.map((l, i) => toArrayLeaf(who, l, i)), def];
}

function toArrayLeaf(who: string, leaf: unknown, i: number): NdArray {
  if (leaf instanceof NdArray) return leaf;
  if (typeof leaf === "number" || typeof leaf === "boolean") return asArray(leaf);
  throw new TypeError(`${who}: leaf ${i} of the arguments is ${typeof leaf}, expected an array or a number`);
}

/** A flat function over leaves; `outTree()` tells the output structure after a call. */
export interface FlatFun {
  (leaves: NdArray[]): NdArray[];
  outTree(): TreeDef;
}

export function flattenFun(who: string, f: (...args: never[]) => unknown, inTree: TreeDef): FlatFun {
  let outDef: TreeDef | null = null;
  const flat = ((leaves: NdArray[]) => {
    const args = unflatten<unknown[]>(inTree, leaves);
    const out = f(...(args as never[]));
    const [outLeaves, def] = flattenArgs(`${who} (output)`, out);
    outDef = def;
    return outLeaves;
  }) as FlatFun;
  flat.outTree = () => {
    if (outDef === null) throw new Error(`${who}: the function has not been called yet`);
    return outDef;
  };
  return flat;
}

/** Normalizes argnums (number or list, negative allowed) against the argument count. */
export function normalizeArgnums(who: string, argnums: number | readonly number[], nargs: number): number[] {
  const list = typeof argnums === "number" ? [argnums] : [...argnums];
  return list.map((a) => normalizeArgnum(who, a, nargs, argnums));
}

/** One argnum as an index into the arguments (negative counts from the end); `shown` is what the error quotes. */
export function normalizeArgnum(
  who: string,
  argnum: number,
  nargs: number,
  shown: number | readonly number[] = argnum,
): number {
  const i = argnum < 0 ? argnum + nargs : argnum;
  if (!Number.isInteger(i) || i < 0 || i >= nargs) {
    throw new RangeError(`${who}: argnums ${JSON.stringify(shown)} is out of range for ${nargs} argument(s)`);
  }
  return i;
}

/**
 * JAX's rule for grad, jacrev and jacfwd: the inputs differentiated with respect to must be floats (an
 * integer or bool input has no tangent space; its gradient would be a silent zero). `diffLeaves` and
 * `diffTree` flatten the list of differentiated arguments, `argnums[j]` being the position of the j-th.
 * Errors name the argument, its path inside a tree, and its dtype.
 */
export function checkFloatInputs(
  who: string,
  diffLeaves: readonly NdArray[],
  diffTree: TreeDef,
  argnums: readonly number[],
  advice: string,
): void {
  const bad = diffLeaves.findIndex((x) => !isFloat(x.dtype));
  if (bad < 0) return;
  const [position, ...rest] = leafPaths(diffTree)[bad]!.split(".");
  const where = `argument ${argnums[Number(position)]}${rest.length ? ` at ${rest.join(".")}` : ""}`;
  throw new TypeError(
    `${who} requires float inputs (float32 or float64), but ${where} is ${fmtAval(diffLeaves[bad]!)}. ${advice}`,
  );
}
