/**
 * Gather and scatter kernels along one axis. The operand is viewed as [outer, n, inner] around the
 * indexed axis, so each index moves a contiguous run of `inner` elements. Indices are checked and
 * wrapped (negative counts from the end, as numpy) before any element moves; an error names `op`, the
 * function the user called.
 */
import { type DType, storageFor, type TypedArray } from "../../core/dtype.js";
import { type Shape, sizeOf } from "../../core/shape.js";

interface AxisView {
  outer: number;
  n: number;
  inner: number;
}

function viewAround(shape: Shape, axis: number): AxisView {
  return { outer: sizeOf(shape.slice(0, axis)), n: shape[axis]!, inner: sizeOf(shape.slice(axis + 1)) };
}

/** Indices wrapped into [0, size); an index outside [-size, size) throws a RangeError naming the op. */
export function wrapIndices(op: string, indices: Int32Array, size: number, axis: number): Int32Array {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (v < -size || v >= size) {
      throw new RangeError(`${op}: index ${v} is out of bounds for axis ${axis} with size ${size}`);
    }
    out[i] = v < 0 ? v + size : v;
  }
  return out;
}

/** out[o, k, i] = x[o, indices[k], i]: x of `shape` gathered along `axis` at the flat list of indices. */
export function takeKernel(
  op: string,
  x: TypedArray,
  shape: Shape,
  axis: number,
  indices: Int32Array,
  dtype: DType,
): TypedArray {
  const { outer, n, inner } = viewAround(shape, axis);
  const idx = wrapIndices(op, indices, n, axis);
  const k = idx.length;
  const out = storageFor(dtype, outer * k * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const src = (o * n + idx[j]!) * inner;
      const dst = (o * k + j) * inner;
      if (inner >= 16) out.set(x.subarray(src, src + inner) as never, dst);
      else for (let i = 0; i < inner; i++) out[dst + i] = x[src + i]!;
    }
  }
  return out;
}

/** x + updates added at the positions `take` reads (duplicates accumulate); updates are [outer, k, inner]. */
export function scatterAddKernel(
  op: string,
  x: TypedArray,
  shape: Shape,
  axis: number,
  indices: Int32Array,
  updates: TypedArray,
  dtype: DType,
): TypedArray {
  const { outer, n, inner } = viewAround(shape, axis);
  const idx = wrapIndices(op, indices, n, axis);
  const k = idx.length;
  const out = x.slice();
  const wrapInt = dtype === "int32";
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const dst = (o * n + idx[j]!) * inner;
      const src = (o * k + j) * inner;
      if (wrapInt) for (let i = 0; i < inner; i++) out[dst + i] = (out[dst + i]! + updates[src + i]!) | 0;
      else for (let i = 0; i < inner; i++) out[dst + i]! += updates[src + i];
    }
  }
  return out;
}

/** out[o, j, i] = x[o, indices[o, j, i], i]; indices have x's shape except `k` along `axis`. */
export function takeAlongAxisKernel(
  op: string,
  x: TypedArray,
  shape: Shape,
  axis: number,
  indices: Int32Array,
  indicesShape: Shape,
  dtype: DType,
): TypedArray {
  const { outer, n, inner } = viewAround(shape, axis);
  const k = indicesShape[axis]!;
  const idx = wrapIndices(op, indices, n, axis);
  const out = storageFor(dtype, idx.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const row = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) out[row + i] = x[(o * n + idx[row + i]!) * inner + i]!;
    }
  }
  return out;
}

/** x + updates[o, j, i] added at x[o, indices[o, j, i], i] (duplicates accumulate). */
export function scatterAddAlongAxisKernel(
  op: string,
  x: TypedArray,
  shape: Shape,
  axis: number,
  indices: Int32Array,
  indicesShape: Shape,
  updates: TypedArray,
  dtype: DType,
): TypedArray {
  const { outer, n, inner } = viewAround(shape, axis);
  const k = indicesShape[axis]!;
  const idx = wrapIndices(op, indices, n, axis);
  const out = x.slice();
  const wrapInt = dtype === "int32";
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const row = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) {
        const dst = (o * n + idx[row + i]!) * inner + i;
        out[dst] = wrapInt ? (out[dst]! + updates[row + i]!) | 0 : out[dst]! + updates[row + i]!;
      }
    }
  }
  return out;
}
