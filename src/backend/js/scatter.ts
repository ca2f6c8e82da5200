/**
 * Scatter and gather by flat positions: the kernels of ops/scatter.ts. The operand is read as one flat
 * array; `positions[j]` is the flat index update j goes to (or gather element j comes from). A position
 * outside [0, size) is dropped by the scatters and reads `fill` in the gather (JAX's "drop"/"fill"
 * modes), so no kernel ever reads or writes out of bounds. Updates apply in order, so with repeated
 * positions `set` keeps the last update, and the accumulating modes combine them left to right.
 */
import type { TypedArray } from "../../core/dtype.js";

/** How an update combines with the element it lands on. */
export type ScatterMode = "set" | "add" | "mul" | "min" | "max";

/**
 * out = x, then each update combined into out[positions[j]] by `mode` (positions outside [0, out.length)
 * dropped). `kind` picks the arithmetic of the storage: integers wrap their products (Math.imul; sums wrap
 * when stored), bool adds as OR and multiplies as AND, floats propagate NaN through min and max.
 */
export function scatterKernel(
  mode: ScatterMode,
  kind: "float" | "int" | "bool",
  x: TypedArray,
  positions: Int32Array,
  updates: TypedArray,
  out: TypedArray,
): void {
  if (out !== x) out.set(x);
  const size = out.length;
  const k = positions.length;
  // One loop per mode, the bound check an unsigned compare: the loops are the whole cost at 1M updates.
  switch (mode) {
    case "set":
      for (let j = 0; j < k; j++) {
        const p = positions[j]!;
        if (p >>> 0 < size) out[p] = updates[j]!;
      }
      return;
    case "add":
      if (kind === "bool") {
        for (let j = 0; j < k; j++) {
          const p = positions[j]!;
          if (p >>> 0 < size) out[p] = out[p]! | updates[j]!;
        }
      } else {
        for (let j = 0; j < k; j++) {
          const p = positions[j]!;
          if (p >>> 0 < size) out[p] = out[p]! + updates[j]!;
        }
      }
      return;
    case "mul":
      if (kind === "int") {
        for (let j = 0; j < k; j++) {
          const p = positions[j]!;
          if (p >>> 0 < size) out[p] = Math.imul(out[p]!, updates[j]!);
        }
      } else {
        // bool: 0/1 products are AND already.
        for (let j = 0; j < k; j++) {
          const p = positions[j]!;
          if (p >>> 0 < size) out[p] = out[p]! * updates[j]!;
        }
      }
      return;
    case "min":
      for (let j = 0; j < k; j++) {
        const p = positions[j]!;
        if (p >>> 0 < size) {
          const u = updates[j]!;
          // NaN in either wins, as np.minimum.
          if (u < out[p]! || Number.isNaN(u)) out[p] = u;
        }
      }
      return;
    case "max":
      for (let j = 0; j < k; j++) {
        const p = positions[j]!;
        if (p >>> 0 < size) {
          const u = updates[j]!;
          if (u > out[p]! || Number.isNaN(u)) out[p] = u;
        }
      }
      return;
  }
}

/** out[j] = x[positions[j]], or `fill` where the position is outside [0, x.length). */
export function gatherKernel(x: TypedArray, positions: Int32Array, fill: number, out: TypedArray): void {
  const size = x.length;
  for (let j = 0; j < positions.length; j++) {
    const p = positions[j]!;
    out[j] = p >>> 0 < size ? x[p]! : fill;
  }
}
