/** Shared helpers for the testing tools: element paths, number formatting, a seeded random stream. */
import type { Shape } from "../core/shape.js";

/** The multi-index of row-major element `flat` of `shape`, as `[1, 2]` (empty for a scalar). */
export function formatIndex(shape: Shape, flat: number): string {
  if (shape.length === 0) return "";
  const index = new Array<number>(shape.length);
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const d = shape[axis]!;
    index[axis] = rest % d;
    rest = Math.floor(rest / d);
  }
  return `[${index.join(", ")}]`;
}

/** `prefix.path` for a leaf path from tree.flattenWithPath (the root leaf has the empty path). */
export function joinLeafPath(prefix: string, path: string): string {
  return path === "" ? prefix : `${prefix}.${path}`;
}

/** A number with enough digits to see how two values differ. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-4 || a >= 1e6) return v.toExponential(8);
  return String(Number(v.toPrecision(10)));
}

/** A short number for tolerances and errors. */
export function formatShort(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return v === 0 ? "0" : v.toExponential(2);
}

/** A tolerance or step as written in code: 1e-6 rather than 0.000001. */
export function formatSetting(v: number): string {
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v);
}

/** A deterministic stream of uniform numbers in [0, 1) (mulberry32): directions must be reproducible. */
export function uniformStream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
