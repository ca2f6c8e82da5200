/**
 * Masks and labels over parameter trees: which leaves a transformation applies to (optax's `mask`
 * arguments: a tree of booleans shaped like the params, a prefix of it, or a function of the params
 * returning one) and which group a leaf belongs to (`multiTransform`'s labels). `decayMask` builds the
 * usual weight-decay mask: matrices decay, biases and norm scales do not.
 */
import { NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import { flatten, mapWithPath, type TreeDef } from "../tree/index.js";
import { isPlainObject, joinPath, numLeaves } from "../tree/treedef.js";
import type { StepContext } from "./stage.js";

/** A tree of booleans with the params' structure, or a prefix of it (a boolean stands for a whole subtree). */
export type MaskTree =
  | boolean
  | null
  | undefined
  | readonly MaskTree[]
  | { readonly [key: string]: MaskTree };

/**
 * Which parameters a transformation applies to: a `MaskTree`, or a function of the params (of the
 * gradients in `update`, as optax: both have the same structure and shapes) returning one (typed loosely,
 * as `tree.map` returns the params' type: what it returns is checked when it runs).
 */
export type Mask = MaskTree | ((params: never) => unknown);

/** A tree of group labels with the params' structure, or a prefix of it (a label for a whole subtree). */
export type LabelTree =
  | string
  | null
  | undefined
  | readonly LabelTree[]
  | { readonly [key: string]: LabelTree };

/** `multiTransform`'s labels: a `LabelTree`, or a function of the params returning one (checked when it runs). */
export type Labels = LabelTree | ((params: never) => unknown);

const where = (path: string): string => (path === "" ? "the root" : path);

/**
 * One value per leaf of `tree` from `prefix`, a tree of values (`isValue`) with `tree`'s structure or a
 * prefix of it: a value stands for every leaf below it. Errors name `who`, `what` and the first path
 * where the two trees differ.
 */
export function broadcastPrefix<V>(
  who: string,
  what: string,
  prefix: unknown,
  def: TreeDef,
  isValue: (x: unknown) => x is V,
  expected: string,
): V[] {
  const out: V[] = [];
  const rec = (d: TreeDef, p: unknown, path: string): void => {
    if (isValue(p)) {
      for (let i = numLeaves(d); i > 0; i--) out.push(p);
      return;
    }
    const mismatch = (found: string): never => {
      throw new TypeError(
        `${who}: the ${what} at ${where(path)} must be ${expected} or a tree matching the params there, got ${found}`,
      );
    };
    const describe = (x: unknown): string =>
      Array.isArray(x)
        ? `a list of ${x.length}`
        : isPlainObject(x)
          ? `an object with keys ${Object.keys(x).join(", ") || "(none)"}`
          : x instanceof NdArray
            ? "an array"
            : x === null || x === undefined
              ? String(x)
              : typeof x;
    switch (d.kind) {
      case "none":
        if (p !== null && p !== undefined) mismatch(describe(p));
        return;
      case "leaf":
        mismatch(describe(p));
        return;
      case "array":
        if (!Array.isArray(p) || p.length !== d.children.length)
          mismatch(`${describe(p)} where the params have a list of ${d.children.length}`);
        d.children.forEach((c, i) => rec(c, (p as unknown[])[i], joinPath(path, String(i))));
        return;
      case "object": {
        const keys = isPlainObject(p) ? Object.keys(p) : null;
        if (keys === null || keys.length !== d.keys.length || !d.keys.every((k) => keys.includes(k)))
          mismatch(`${describe(p)} where the params have keys ${d.keys.join(", ")}`);
        d.keys.forEach((k, i) => rec(d.children[i]!, (p as Record<string, unknown>)[k], joinPath(path, k)));
        return;
      }
    }
  };
  rec(def, prefix, "");
  return out;
}

const isBoolean = (x: unknown): x is boolean => typeof x === "boolean";
const isLabel = (x: unknown): x is string => typeof x === "string";

/** A checked mask: per-leaf booleans for a tree (`tree` is what a mask function is called with). */
export type LeafMask = (def: TreeDef, tree: unknown) => boolean[];

/** Checks `mask` (a boolean tree or a function) and returns it as a function of a tree to per-leaf booleans. */
export function leafMask(who: string, mask: unknown): LeafMask {
  if (typeof mask !== "function" && !isMaskLike(mask)) {
    throw new TypeError(
      `${who}: mask must be a tree of booleans or a function of the params returning one, got ${typeof mask}`,
    );
  }
  return (def, tree) => {
    const resolved = typeof mask === "function" ? (mask as (p: unknown) => unknown)(tree) : mask;
    return broadcastPrefix(who, "mask", resolved, def, isBoolean, "a boolean");
  };
}

function isMaskLike(x: unknown): boolean {
  return typeof x === "boolean" || x === null || x === undefined || Array.isArray(x) || isPlainObject(x);
}

/** Per-leaf labels of a tree from `labels` (a label tree or a function of the tree). */
export function leafLabels(who: string, labels: unknown, tree: unknown): string[] {
  const resolved = typeof labels === "function" ? (labels as (p: unknown) => unknown)(tree) : labels;
  return broadcastPrefix(who, "label", resolved, flatten(tree)[1], isLabel, "a string label");
}

const selections = new WeakMap<StepContext, boolean[]>();

/**
 * For a stage: whether leaf `i` of this step is selected by `mask` (every leaf without one). The mask is
 * resolved once per step, on the params (or the gradients when the stage has no params).
 */
export function leafSelector(mask: LeafMask | undefined): (step: StepContext, i: number) => boolean {
  if (mask === undefined) return () => true;
  return (step, i) => {
    let chosen = selections.get(step);
    if (chosen === undefined) {
      chosen = mask(step.def, step.tree);
      selections.set(step, chosen);
    }
    return chosen[i] ?? false;
  };
}

/** The leaves of `leaves` where `keep` holds, others replaced by null (an empty subtree), as a tree of `def`. */
export function selectLeaves(leaves: readonly unknown[], keep: readonly boolean[]): unknown[] {
  return leaves.map((leaf, i) => (keep[i] ? leaf : null));
}

/** Options of `decayMask`. */
export interface DecayMaskOptions {
  /** Leaves of lower rank are not decayed: biases and norm scales are vectors (default 2). */
  minRank?: number;
  /** Leaves whose path (`blocks.0.attn.inProjWeight`) matches are not decayed either (e.g. /embedding/). */
  exclude?: RegExp;
}

/**
 * The usual weight-decay mask (nanoGPT's and most transformer recipes'): true for weight matrices,
 * kernels and embeddings (rank >= 2), false for biases and normalization scales and shifts (vectors), and
 * false wherever `exclude` matches the leaf's path. Give it to `addDecayedWeights`, `masked` or
 * `adamw({ mask: optim.decayMask })`.
 */
export function decayMask<T>(params: T, options: DecayMaskOptions = {}): MaskTree {
  const who = "decayMask";
  checkOptions(who, options, optionKeys<DecayMaskOptions>({ minRank: true, exclude: true }));
  const minRank = options.minRank ?? 2;
  if (!Number.isInteger(minRank) || minRank < 0)
    throw new RangeError(`${who}: minRank must be a non-negative integer, got ${String(minRank)}`);
  if (options.exclude !== undefined && !(options.exclude instanceof RegExp))
    throw new TypeError(`${who}: exclude must be a RegExp over leaf paths`);
  return mapWithPath((path: string, leaf: unknown) => {
    if (!(leaf instanceof NdArray))
      throw new TypeError(`${who}: the param at ${where(path)} is not an array (got ${typeof leaf})`);
    return leaf.ndim >= minRank && !(options.exclude?.test(path) ?? false);
  }, params) as MaskTree;
}
