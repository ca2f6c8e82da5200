/**
 * Pytrees: nested plain objects and JS arrays whose leaves are anything else (arrays, numbers, ...).
 * `null` and `undefined` are empty subtrees, as `None` is in JAX. Object keys keep insertion order.
 */

import { zip } from "../core/tuple.js";

/** The structure of a pytree without its leaves (JAX's PyTreeDef): compare with treeDefEquals. */
export type TreeDef =
  | { readonly kind: "leaf" }
  | { readonly kind: "none"; readonly value: null | undefined }
  | { readonly kind: "array"; readonly children: readonly TreeDef[] }
  | { readonly kind: "object"; readonly keys: readonly string[]; readonly children: readonly TreeDef[] };

/** Thrown when trees that must have one structure (e.g. params and grads) differ; names the first differing path. */
export class TreeStructureError extends Error {
  override name = "TreeStructureError";
}

const LEAF: TreeDef = { kind: "leaf" };

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object" || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** The leaves of a tree in order, and its structure. */
export function flatten<L = unknown>(tree: unknown): [L[], TreeDef] {
  const leaves: L[] = [];
  const rec = (t: unknown): TreeDef => {
    if (t === null || t === undefined) return { kind: "none", value: t };
    if (Array.isArray(t)) return { kind: "array", children: t.map(rec) };
    if (isPlainObject(t)) {
      const keys = Object.keys(t);
      return { kind: "object", keys, children: keys.map((k) => rec(t[k])) };
    }
    leaves.push(t as L);
    return LEAF;
  };
  const def = rec(tree);
  return [leaves, def];
}

export function numLeaves(def: TreeDef): number {
  switch (def.kind) {
    case "leaf":
      return 1;
    case "none":
      return 0;
    default:
      return def.children.reduce((n, c) => n + numLeaves(c), 0);
  }
}

/** Rebuilds a tree of structure `def` from leaves in order. */
export function unflatten<T = unknown>(def: TreeDef, leaves: readonly unknown[]): T {
  const expected = numLeaves(def);
  if (leaves.length !== expected) {
    throw new TreeStructureError(
      `tree.unflatten: structure has ${expected} leaves but ${leaves.length} were given`,
    );
  }
  let i = 0;
  const rec = (d: TreeDef): unknown => {
    switch (d.kind) {
      case "leaf":
        return leaves[i++];
      case "none":
        return d.value;
      case "array":
        return d.children.map(rec);
      case "object": {
        // Index loops, not zip: unflatten runs for every tree op of a training step.
        const out: Record<string, unknown> = {};
        for (let j = 0; j < d.keys.length; j++) out[d.keys[j]!] = rec(d.children[j]!);
        return out;
      }
    }
  };
  return rec(def) as T;
}

/** Whether two structures are the same (same nesting, array lengths, object keys in order). */
export function treeDefEquals(a: TreeDef, b: TreeDef): boolean {
  // No paths built here: jit compares the structure of every call's arguments.
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case "leaf":
      return true;
    case "none":
      return a.value === (b as typeof a).value;
    case "array":
    case "object": {
      const other = b as typeof a;
      if (a.children.length !== other.children.length) return false;
      if (a.kind === "object") {
        const keys = (other as typeof a).keys;
        for (let i = 0; i < keys.length; i++) if (a.keys[i] !== keys[i]) return false;
      }
      for (let i = 0; i < a.children.length; i++)
        if (!treeDefEquals(a.children[i]!, other.children[i]!)) return false;
      return true;
    }
  }
}

/** The path where two structures first differ and what each has there, or null when they agree. */
export function firstDifference(a: TreeDef, b: TreeDef, path: string): string | null {
  const here = path === "" ? "<root>" : path;
  if (a.kind !== b.kind) return `at ${here}: ${describe(a)} vs ${describe(b)}`;
  if (a.kind === "array" && b.kind === "array") {
    if (a.children.length !== b.children.length) {
      return `at ${here}: array of length ${a.children.length} vs ${b.children.length}`;
    }
    for (const [i, [x, y]] of zip(a.children, b.children).entries()) {
      const d = firstDifference(x, y, joinPath(path, String(i)));
      if (d) return d;
    }
  }
  if (a.kind === "object" && b.kind === "object") {
    const ka = a.keys.join(",");
    const kb = b.keys.join(",");
    if (ka !== kb) return `at ${here}: keys {${ka}} vs {${kb}}`;
    for (const [k, x, y] of zip(a.keys, a.children, b.children)) {
      const d = firstDifference(x, y, joinPath(path, k));
      if (d) return d;
    }
  }
  return null;
}

function describe(d: TreeDef): string {
  switch (d.kind) {
    case "leaf":
      return "a leaf";
    case "none":
      return String(d.value);
    case "array":
      return `an array of length ${d.children.length}`;
    case "object":
      return `an object with keys {${d.keys.join(",")}}`;
  }
}

export function joinPath(prefix: string, key: string): string {
  return prefix === "" ? key : `${prefix}.${key}`;
}

/** Throws a TreeStructureError naming `who` and the first path where the structures differ. */
export function assertSameStructure(who: string, a: TreeDef, b: TreeDef): void {
  if (treeDefEquals(a, b)) return;
  const d = firstDifference(a, b, "");
  if (d) throw new TreeStructureError(`${who}: tree structures differ ${d}`);
}

/** Leaf paths in flatten order, like `conv1.weight` or `layers.0.bias`. */
export function leafPaths(def: TreeDef): string[] {
  const out: string[] = [];
  const rec = (d: TreeDef, path: string): void => {
    if (d.kind === "leaf") out.push(path);
    else if (d.kind === "array") d.children.forEach((c, i) => rec(c, joinPath(path, String(i))));
    else if (d.kind === "object") d.children.forEach((c, j) => rec(c, joinPath(path, d.keys[j]!)));
  };
  rec(def, "");
  return out;
}

/** A compact form of a structure, leaves as `*`: `{w: *, b: [*, null]}`. */
export function treeDefToString(def: TreeDef): string {
  switch (def.kind) {
    case "leaf":
      return "*";
    case "none":
      return String(def.value);
    case "array":
      return `[${def.children.map(treeDefToString).join(", ")}]`;
    case "object":
      return `{${zip(def.keys, def.children)
        .map(([k, c]) => `${k}: ${treeDefToString(c)}`)
        .join(", ")}}`;
  }
}
