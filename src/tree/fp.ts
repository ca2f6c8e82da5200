/**
 * fp-ts instances for pytrees: Functor (map over leaves), Foldable (reduce over leaves in flatten
 * order), Traversable (traverse with any Applicative, effects in flatten order), and a Monoid for summing
 * gradient trees of one structure. Their laws are checked in laws/trees.test.ts.
 *
 * Structure is the pytree rule of tree.flatten (JS arrays and plain objects are nodes, null and undefined
 * are empty subtrees) with one addition: a plain object with a string `_tag` (an fp-ts value such as
 * Option or Either) is a leaf, so that `sequence` can walk a tree of effects.
 */
import type { Applicative } from "fp-ts/Applicative";
import type { Foldable1 } from "fp-ts/Foldable";
import type { Functor1 } from "fp-ts/Functor";
import type { HKT } from "fp-ts/HKT";
import type { Monoid } from "fp-ts/Monoid";
import type { Semigroup } from "fp-ts/Semigroup";
import type { Traversable1 } from "fp-ts/Traversable";
import type { NdArray } from "../core/array.js";
import { add } from "../ops/binary.js";
import { assertSameStructure, flatten, isPlainObject, unflatten } from "./treedef.js";

/** A pytree with leaves of type A. */
export type Tree<A> = A | readonly Tree<A>[] | { readonly [key: string]: Tree<A> } | null | undefined;

/** The fp-ts type-class tag of pytrees (`Tree<A>` as a kind), used by the instances below. */
export const URI = "tracegrad/Tree";
/** The type of `URI`. */
export type URI = typeof URI;

declare module "fp-ts/HKT" {
  interface URItoKind<A> {
    readonly [URI]: Tree<A>;
  }
}

function isNode(t: unknown): t is readonly unknown[] | Record<string, unknown> {
  if (Array.isArray(t)) return true;
  return isPlainObject(t) && typeof t["_tag"] !== "string";
}

/** The leaves in flatten order and a function that puts new leaves in their places. */
function split<A>(t: Tree<A>): [A[], <B>(leaves: readonly B[]) => Tree<B>] {
  const leaves: A[] = [];
  const walk = (node: unknown): void => {
    if (node === null || node === undefined) return;
    if (Array.isArray(node)) node.forEach(walk);
    else if (isNode(node)) Object.values(node).forEach(walk);
    else leaves.push(node as A);
  };
  walk(t);
  const rebuild = <B>(values: readonly B[]): Tree<B> => {
    let i = 0;
    const build = (node: unknown): unknown => {
      if (node === null || node === undefined) return node;
      if (Array.isArray(node)) return node.map(build);
      if (isNode(node)) return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, build(v)]));
      return values[i++];
    };
    return build(t) as Tree<B>;
  };
  return [leaves, rebuild];
}

const map = <A, B>(fa: Tree<A>, f: (a: A) => B): Tree<B> => {
  const [leaves, rebuild] = split(fa);
  return rebuild(leaves.map((a) => f(a)));
};

const reduce = <A, B>(fa: Tree<A>, b: B, f: (b: B, a: A) => B): B => split(fa)[0].reduce(f, b);

const reduceRight = <A, B>(fa: Tree<A>, b: B, f: (a: A, b: B) => B): B =>
  split(fa)[0].reduceRight((acc, a) => f(a, acc), b);

const foldMap =
  <M>(M: Monoid<M>) =>
  <A>(fa: Tree<A>, f: (a: A) => M): M =>
    split(fa)[0].reduce((acc, a) => M.concat(acc, f(a)), M.empty);

// One implementation for every kind of Applicative, as fp-ts does for its own instances.
const traverse =
  <F>(F: Applicative<F>) =>
  <A, B>(ta: Tree<A>, f: (a: A) => HKT<F, B>): HKT<F, Tree<B>> => {
    const [leaves, rebuild] = split(ta);
    const collected = leaves.reduce(
      (acc, a) =>
        F.ap(
          F.map(acc, (bs: readonly B[]) => (b: B) => [...bs, b]),
          f(a),
        ),
      F.of<readonly B[]>([]),
    );
    return F.map(collected, (bs) => rebuild(bs));
  };

const sequence =
  <F>(F: Applicative<F>) =>
  <A>(ta: Tree<HKT<F, A>>): HKT<F, Tree<A>> =>
    traverse(F)(ta, (fa: HKT<F, A>) => fa);

/** map over leaves, keeping the structure. */
export const Functor: Functor1<URI> = { URI, map };

/** reduce, reduceRight and foldMap over leaves in flatten order. */
export const Foldable: Foldable1<URI> = { URI, reduce, foldMap, reduceRight };

/** traverse and sequence with any Applicative (Option, Either, Task, ...), effects in flatten order. */
export const Traversable: Traversable1<URI> = {
  URI,
  map,
  reduce,
  foldMap,
  reduceRight,
  traverse: traverse as Traversable1<URI>["traverse"],
  sequence: sequence as Traversable1<URI>["sequence"],
};

function addTrees<T>(x: T, y: T): T {
  const [xs, def] = flatten<NdArray>(x);
  const [ys, yDef] = flatten<NdArray>(y);
  assertSameStructure("gradient monoid", def, yDef);
  return unflatten<T>(
    def,
    xs.map((a, i) => add(a, ys[i]!)),
  );
}

/** Leafwise sum of two array trees of one structure (a TreeStructureError otherwise). */
export const gradientSemigroup: Semigroup<unknown> = { concat: addTrees };

/**
 * Gradient trees of one structure under leafwise addition, with `zeros` (e.g. `tree.zerosLike(params)`)
 * as the identity: accumulating gradients over micro-batches is `concatAll(monoid)(grads)`.
 */
export function getGradientMonoid<T>(zeros: T): Monoid<T> {
  return { concat: addTrees, empty: zeros };
}
