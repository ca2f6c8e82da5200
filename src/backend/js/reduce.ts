/** Reduction kernels: an odometer over the input that tracks the output offset of kept axes. */
import { type DType, storageFor, type TypedArray } from "../../core/dtype.js";
import { type Shape, sizeOf, stridesOf } from "../../core/shape.js";

export type ReduceOp = "sum" | "max" | "min" | "prod" | "and" | "or";

const INIT: Record<ReduceOp, number> = {
  sum: 0,
  max: Number.NEGATIVE_INFINITY,
  min: Number.POSITIVE_INFINITY,
  prod: 1,
  and: 1,
  or: 0,
};

/** Stride in the output for every input axis (0 for reduced axes). */
export function outStridesFor(shape: Shape, axes: readonly number[]): number[] {
  const keptShape = shape.filter((_, i) => !axes.includes(i));
  const keptStrides = stridesOf(keptShape);
  let j = 0;
  return shape.map((_, i) => (axes.includes(i) ? 0 : keptStrides[j++]!));
}

function forEachWithOutIndex(
  shape: Shape,
  outStrides: readonly number[],
  visit: (inIndex: number, outIndex: number) => void,
): void {
  const n = sizeOf(shape);
  const rank = shape.length;
  if (n === 0) return;
  if (rank === 0) {
    visit(0, 0);
    return;
  }
  const idx = new Array<number>(rank).fill(0);
  const last = shape[rank - 1]!;
  const lastStride = outStrides[rank - 1]!;
  let o = 0;
  for (let i = 0; i < n; ) {
    for (let j = 0; j < last; j++) visit(i++, o + j * lastStride);
    let ax = rank - 2;
    while (ax >= 0) {
      idx[ax]!++;
      o += outStrides[ax]!;
      if (idx[ax]! < shape[ax]!) break;
      o -= outStrides[ax]! * shape[ax]!;
      idx[ax] = 0;
      ax--;
    }
  }
}

export function reduceKernel(
  op: ReduceOp,
  x: TypedArray,
  shape: Shape,
  axes: readonly number[],
  dtype: DType,
): TypedArray {
  const m = sizeOf(shape.filter((_, i) => !axes.includes(i)));
  const out = storageFor(dtype, m);
  reduceInto(op, x, shape, out, new Float64Array(m), outStridesFor(shape, axes));
  return out;
}

/** Reduces into `out` using `acc` (float64, one per output element) as the accumulator. */
export function reduceInto(
  op: ReduceOp,
  x: TypedArray,
  shape: Shape,
  out: TypedArray,
  acc: Float64Array,
  outStrides: readonly number[],
): void {
  const m = acc.length;
  acc.fill(INIT[op]);
  if (op === "sum" && outStrides.every((s) => s === 0)) {
    // Full sum: one tight loop.
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i]!;
    out[0] = s;
    return;
  }
  switch (op) {
    case "sum":
      forEachWithOutIndex(shape, outStrides, (i, o) => {
        acc[o]! += x[i];
      });
      break;
    case "prod":
      forEachWithOutIndex(shape, outStrides, (i, o) => {
        acc[o]! *= x[i];
      });
      break;
    case "max":
      forEachWithOutIndex(shape, outStrides, (i, o) => {
        const v = x[i]!;
        if (v > acc[o]! || Number.isNaN(v)) acc[o] = v;
      });
      break;
    case "min":
      forEachWithOutIndex(shape, outStrides, (i, o) => {
        const v = x[i]!;
        if (v < acc[o]! || Number.isNaN(v)) acc[o] = v;
      });
      break;
    case "and":
      forEachWithOutIndex(shape, outStrides, (i, o) => {
        if (!x[i]) acc[o] = 0;
      });
      break;
    case "or":
      forEachWithOutIndex(shape, outStrides, (i, o) => {
        if (x[i]) acc[o] = 1;
      });
      break;
  }
  if (out instanceof Int32Array) for (let i = 0; i < m; i++) out[i] = acc[i]! | 0;
  else for (let i = 0; i < m; i++) out[i] = acc[i]!;
}

/** Index of the first maximum (or minimum) along `axis`; NaN counts as the extreme, as in numpy. */
export function argReduceKernel(kind: "max" | "min", x: TypedArray, shape: Shape, axis: number): Int32Array {
  const outer = sizeOf(shape.slice(0, axis));
  const n = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < inner; k++) {
      const base = o * n * inner + k;
      let best = x[base]!;
      let bestIdx = 0;
      if (!Number.isNaN(best)) {
        for (let j = 1; j < n; j++) {
          const v = x[base + j * inner]!;
          if (Number.isNaN(v)) {
            bestIdx = j;
            break;
          }
          if (kind === "max" ? v > best : v < best) {
            best = v;
            bestIdx = j;
          }
        }
      }
      out[o * inner + k] = bestIdx;
    }
  }
  return out;
}

/** Inclusive cumulative sum along `axis` (from the end when `reverse`). */
export function cumsumKernel(
  x: TypedArray,
  shape: Shape,
  axis: number,
  reverse: boolean,
  dtype: DType,
): TypedArray {
  const outer = sizeOf(shape.slice(0, axis));
  const n = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const out = storageFor(dtype, x.length);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < inner; k++) {
      const base = o * n * inner + k;
      let acc = 0;
      for (let jj = 0; jj < n; jj++) {
        const j = reverse ? n - 1 - jj : jj;
        acc += x[base + j * inner]!;
        out[base + j * inner] = acc;
      }
    }
  }
  return out;
}
