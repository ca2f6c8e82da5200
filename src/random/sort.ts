/**
 * `sort_by_key`: reorders `values` along `axis` by the stable ascending order of random keys (uint32 bits
 * in int32 storage, compared as unsigned), as `lax.sort_key_val` does in JAX's `_shuffle`. The keys hold
 * one key per position along `axis`, shared by every lane that only differs in the axes after `axis` or
 * between the keys' leading axes and `axis`, so one set of keys permutes whole rows at O(n + size) (the
 * library's one sort kernel, backend/js/sort.ts).
 */
import { stableOrderOfUint32 } from "../backend/js/sort.js";
import { ConcreteArray, fmtAval, NdArray } from "../core/array.js";
import { storageFor } from "../core/dtype.js";
import { type Primitive, primitive, UndefinedPrimal } from "../core/primitive.js";
import { fmtShape, type Shape, ShapeError, sizeOf } from "../core/shape.js";
import { arange } from "../ops/creation.js";
import { alignBatched } from "../ops/elementwise-kit.js";
import { broadcastInDimPrim } from "../ops/layout.js";
import { sortByKeyToOnnx } from "../ops/sort-onnx.js";

export interface SortByKeyParams {
  /** The axis of `values` to reorder. */
  axis: number;
}

/**
 * Keys `[...lead, n]` sort values whose shape starts with `lead` and has `n` at `axis` (>= lead.length);
 * values are viewed as `[outer = prod(lead), middle, n, inner]`.
 */
function checkSortArgs(keys: { shape: Shape; dtype: string }, values: { shape: Shape }, axis: number): void {
  const lead = keys.shape.slice(0, -1);
  const n = keys.shape[keys.shape.length - 1];
  const ok =
    keys.dtype === "int32" &&
    keys.shape.length >= 1 &&
    Number.isInteger(axis) &&
    axis >= lead.length &&
    axis < values.shape.length &&
    values.shape[axis] === n &&
    lead.every((d, i) => values.shape[i] === d);
  if (!ok) {
    throw new ShapeError(
      `sort_by_key: keys ${keys.dtype}${fmtShape(keys.shape)} cannot order values ${fmtShape(values.shape)} along axis ${axis}`,
    );
  }
}

export const sortByKeyPrim: Primitive<SortByKeyParams, [keys: unknown, values: unknown], [sorted: unknown]> =
  primitive({
    name: "sort_by_key",
    onnx: (g, [keys, values], { axis }, [keysAval, valuesAval]) => [
      sortByKeyToOnnx(g, keys!, values!, axis, keysAval!, valuesAval!),
    ],
    abstractEval([keys, values], { axis }) {
      checkSortArgs(keys, values, axis);
      return [values];
    },
    impl([keys, values], { axis }) {
      const shape = values.shape;
      const lead = keys.shape.length - 1;
      const n = shape[axis]!;
      const outer = sizeOf(shape.slice(0, lead));
      const middle = sizeOf(shape.slice(lead, axis));
      const inner = sizeOf(shape.slice(axis + 1));
      const src = values.storage;
      const out = storageFor(values.dtype, src.length);
      for (let o = 0; o < outer; o++) {
        const order = stableOrderOfUint32(keys.storage, o * n, n);
        for (let m = 0; m < middle; m++) {
          const base = (o * middle + m) * n * inner;
          for (let j = 0; j < n; j++) {
            const from = base + order[j]! * inner;
            const to = base + j * inner;
            for (let k = 0; k < inner; k++) out[to + k] = src[from + k]!;
          }
        }
      }
      return [new ConcreteArray(shape, values.dtype, out)];
    },
    // A permutation chosen by the keys: linear in the values, constant in the keys.
    jvp: ([keys, values], [, tValues], params) => ({
      primalsOut: [sortByKeyPrim.bind1([keys, values], params)],
      tangentsOut: [sortByKeyPrim.bind1([keys, tValues], params)],
    }),
    transpose([ct], [keys, values], { axis }) {
      if (!(keys instanceof NdArray) || !(values instanceof UndefinedPrimal)) {
        throw new Error("sort_by_key: transpose is linear only in the values");
      }
      const k = keys;
      // The inverse permutation: sort the positions 0..n-1 by the keys, then sort the cotangent by that.
      const lead = k.shape.slice(0, -1);
      const n = k.shape[k.shape.length - 1]!;
      const positions = broadcastInDimPrim.bind1([arange(n)], {
        shape: k.shape,
        broadcastDimensions: [lead.length],
      });
      const perm = sortByKeyPrim.bind1([k, positions], { axis: lead.length });
      return [null, sortByKeyPrim.bind1([perm, ct], { axis })];
    },
    batch(args, dims, { axis }) {
      // Both operands get the batch axis in front (unbatched ones are broadcast), which keeps keys a prefix.
      return [[sortByKeyPrim.bind1(alignBatched(args, dims), { axis: axis + 1 })], [0]];
    },
    formatParams: ({ axis }) => `axis=${axis}`,
  });

/** Reorders `values` along `axis` by the stable ascending order of `keys` (compared as uint32). */
export function sortByKey(keys: NdArray, values: NdArray, axis: number): NdArray {
  if (keys.dtype !== "int32")
    throw new ShapeError(`sortByKey: keys must be int32 bits, got ${fmtAval(keys)}`);
  return sortByKeyPrim.bind1([keys, values], { axis });
}
