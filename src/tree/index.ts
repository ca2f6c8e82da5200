/**
 * Pytree utilities: map, leaves, flatten/unflatten, structure, paths, and arithmetic on array trees.
 * @module
 */
import { NdArray } from "../core/array.js";
import * as b from "../ops/binary.js";
import { zerosLike as zerosLikeArray } from "../ops/creation.js";
import { sum as sumArray } from "../ops/reduce.js";
import {
  assertSameStructure,
  flatten,
  leafPaths,
  type TreeDef,
  TreeStructureError,
  treeDefEquals,
  treeDefToString,
  unflatten,
} from "./treedef.js";

export { type TreeDef, TreeStructureError, flatten, unflatten, treeDefEquals, treeDefToString };

/** A tree whose leaves are arrays (the shape of parameters, gradients and optimizer states). */
export type ArrayTree =
  | NdArray
  | readonly ArrayTree[]
  | { readonly [key: string]: ArrayTree }
  | null
  | undefined;

/** The same tree with every leaf replaced by `f(leaf, ...matching leaves of the other trees)`. */
export function map<T = unknown>(f: (...leaves: never[]) => unknown, tree: T, ...rest: unknown[]): T {
  const [leaves, def] = flatten(tree);
  const others = rest.map((r, i) => {
    const [l, d] = flatten(r);
    assertSameStructure(`tree.map (tree 0 vs tree ${i + 1})`, def, d);
    return l;
  });
  return unflatten<T>(
    def,
    leaves.map((leaf, i) => f(...([leaf, ...others.map((o) => o[i])] as never[]))),
  );
}

/** Like map, with the leaf's path (`conv1.weight`) as the first argument. */
export function mapWithPath<T = unknown>(
  f: (path: string, ...leaves: never[]) => unknown,
  tree: T,
  ...rest: unknown[]
): T {
  const [leaves, def] = flatten(tree);
  const paths = leafPaths(def);
  const others = rest.map((r, i) => {
    const [l, d] = flatten(r);
    assertSameStructure(`tree.mapWithPath (tree 0 vs tree ${i + 1})`, def, d);
    return l;
  });
  return unflatten<T>(
    def,
    leaves.map((leaf, i) => f(paths[i]!, ...([leaf, ...others.map((o) => o[i])] as never[]))),
  );
}

/** The leaves in flatten order (depth first, object keys in insertion order). */
export function leaves<L = NdArray>(tree: unknown): L[] {
  return flatten<L>(tree)[0];
}

/** The tree's structure without its leaves (compare with treeDefEquals). */
export function structure(tree: unknown): TreeDef {
  return flatten(tree)[1];
}

/** `[path, leaf]` pairs, paths like `conv1.weight` or `layers.0.bias`. */
export function flattenWithPath<L = NdArray>(tree: unknown): [string, L][] {
  const [ls, def] = flatten<L>(tree);
  const paths = leafPaths(def);
  return ls.map((l, i) => [paths[i]!, l]);
}

/** Throws a TreeStructureError naming `who` and the first differing path unless the structures agree. */
export function assertSameStructureOf(who: string, a: unknown, c: unknown): void {
  assertSameStructure(who, structure(a), structure(c));
}

/** The same tree of arrays with every leaf zero. */
export const zerosLike = <T>(t: T): T => map((x: NdArray) => zerosLikeArray(x), t);
/** Leafwise x + y of two trees of one structure. */
export const add = <T>(x: T, y: T): T => map((a: NdArray, c: NdArray) => b.add(a, c), x, y);
/** Leafwise x - y of two trees of one structure. */
export const sub = <T>(x: T, y: T): T => map((a: NdArray, c: NdArray) => b.subtract(a, c), x, y);
/** Every leaf multiplied by `s` (a number or a scalar array). */
export const scale = <T>(s: number | NdArray, x: T): T => map((a: NdArray) => b.multiply(a, s), x);
/** Sum over all leaves of the elementwise products: the inner product of two trees. */
export function dot(x: unknown, y: unknown): NdArray {
  const products = leaves(map((a: NdArray, c: NdArray) => sumArray(b.multiply(a, c)), x, y));
  return products.reduce((acc, p) => b.add(acc, p));
}
/** Number of array elements over all leaves. */
export function size(t: unknown): number {
  return leaves<unknown>(t).reduce<number>((n, l) => n + (l instanceof NdArray ? l.size : 1), 0);
}
export * from "./fp.js";
