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

/**
 * The input's axes with size-1 axes dropped and neighbours of the same kind merged (reduced with reduced;
 * kept with kept), so the innermost loop runs over the longest contiguous stretch: [32, 6, 28, 28] summed
 * over axes 0, 2, 3 becomes [32 reduced, 6 kept, 784 reduced].
 */
export function collapseAxes(
  shape: Shape,
  outStrides: readonly number[],
): { sizes: number[]; strides: number[] } {
  const sizes: number[] = [];
  const strides: number[] = [];
  shape.forEach((size, i) => {
    if (size === 1) return;
    const stride = outStrides[i]!;
    const k = sizes.length - 1;
    if (k >= 0 && (stride === 0) === (strides[k] === 0)) {
      sizes[k]! *= size;
      strides[k] = stride;
    } else {
      sizes.push(size);
      strides.push(stride);
    }
  });
  if (sizes.length === 0) return { sizes: [1], strides: [0] };
  return { sizes, strides };
}

/**
 * Combines x[start .. start+length) into acc: all into acc[o] when the run is reduced (stride 0), else
 * elementwise into acc[o ..] (a kept innermost axis has output stride 1). In input order, as a plain loop.
 */
function combineRun(
  op: ReduceOp,
  x: TypedArray,
  start: number,
  length: number,
  acc: Float64Array,
  o: number,
  stride: number,
): void {
  const end = start + length;
  if (stride === 0) {
    let a = acc[o]!;
    switch (op) {
      case "sum":
        for (let i = start; i < end; i++) a += x[i]!;
        break;
      case "prod":
        for (let i = start; i < end; i++) a *= x[i]!;
        break;
      case "max":
        for (let i = start; i < end; i++) {
          const v = x[i]!;
          if (v > a || Number.isNaN(v)) a = v;
        }
        break;
      case "min":
        for (let i = start; i < end; i++) {
          const v = x[i]!;
          if (v < a || Number.isNaN(v)) a = v;
        }
        break;
      case "and":
        for (let i = start; i < end; i++) if (!x[i]) a = 0;
        break;
      case "or":
        for (let i = start; i < end; i++) if (x[i]) a = 1;
        break;
    }
    acc[o] = a;
    return;
  }
  const shift = o - start;
  switch (op) {
    case "sum":
      for (let i = start; i < end; i++) acc[i + shift] = acc[i + shift]! + x[i]!;
      break;
    case "prod":
      for (let i = start; i < end; i++) acc[i + shift] = acc[i + shift]! * x[i]!;
      break;
    case "max":
      for (let i = start; i < end; i++) {
        const v = x[i]!;
        if (v > acc[i + shift]! || Number.isNaN(v)) acc[i + shift] = v;
      }
      break;
    case "min":
      for (let i = start; i < end; i++) {
        const v = x[i]!;
        if (v < acc[i + shift]! || Number.isNaN(v)) acc[i + shift] = v;
      }
      break;
    case "and":
      for (let i = start; i < end; i++) if (!x[i]) acc[i + shift] = 0;
      break;
    case "or":
      for (let i = start; i < end; i++) if (x[i]) acc[i + shift] = 1;
      break;
  }
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
  const n = sizeOf(shape);
  if (n > 0) {
    // An odometer over the outer axes; the innermost (collapsed) axis is one tight run.
    const { sizes, strides } = collapseAxes(shape, outStrides);
    const rank = sizes.length;
    const run = sizes[rank - 1]!;
    const runStride = strides[rank - 1]!;
    const idx = new Array<number>(rank).fill(0);
    let o = 0;
    for (let i = 0; i < n; i += run) {
      combineRun(op, x, i, run, acc, o, runStride);
      for (let ax = rank - 2; ax >= 0; ax--) {
        idx[ax]!++;
        o += strides[ax]!;
        if (idx[ax]! < sizes[ax]!) break;
        o -= strides[ax]! * sizes[ax]!;
        idx[ax] = 0;
      }
    }
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
  // numpy's add.accumulate: the first element as it is (a -0 stays -0), then each sum stored and read
  // back, so the storage rounds it to the dtype (float32 sums in float32; integer ones wrap).
  const first = reverse ? (n - 1) * inner : 0;
  const delta = reverse ? -inner : inner;
  if (n === 0) return out;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < inner; k++) {
      let at = o * n * inner + k + first;
      let acc = x[at]!;
      out[at] = acc;
      for (let j = 1; j < n; j++) {
        at += delta;
        out[at] = acc + x[at]!;
        acc = out[at]!;
      }
    }
  }
  return out;
}
