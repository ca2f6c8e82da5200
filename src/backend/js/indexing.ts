/**
 * Gather and scatter kernels along one axis, writing into a given output (a plan's buffer, or a fresh
 * one eagerly). The operand is viewed as [outer, n, inner] around the indexed axis, so each index moves
 * a contiguous run of `inner` elements. One pass checks every index before any element is written (an
 * error names `op`, the function the user called); the copy loops then wrap negative indices (counted
 * from the end, as numpy) as they go, so nothing is allocated.
 */
import type { TypedArray } from "../../core/dtype.js";
import { type Shape, sizeOf } from "../../core/shape.js";

interface AxisView {
  outer: number;
  n: number;
  inner: number;
}

function viewAround(shape: Shape, axis: number): AxisView {
  return { outer: sizeOf(shape.slice(0, axis)), n: shape[axis]!, inner: sizeOf(shape.slice(axis + 1)) };
}

/** Throws a RangeError naming the op for the first index outside [-size, size). */
export function checkIndices(op: string, indices: Int32Array, size: number, axis: number): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (v < -size || v >= size) {
      throw new RangeError(`${op}: index ${v} is out of bounds for axis ${axis} with size ${size}`);
    }
  }
}

/** out[o, k, i] = x[o, indices[k], i]: x of `shape` gathered along `axis` at the flat list of indices. */
export function takeKernel(
  op: string,
  x: TypedArray,
  shape: Shape,
  axis: number,
  indices: Int32Array,
  out: TypedArray,
): void {
  const { outer, n, inner } = viewAround(shape, axis);
  checkIndices(op, indices, n, axis);
  const k = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const at = indices[j]!;
      const src = (o * n + (at < 0 ? at + n : at)) * inner;
      const dst = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = x[src + i]!;
    }
  }
}

/** out = x + updates added at the positions `take` reads (duplicates accumulate); updates are [outer, k, inner]. */
export function scatterAddKernel(
  op: string,
  x: TypedArray,
  shape: Shape,
  axis: number,
  indices: Int32Array,
  updates: TypedArray,
  out: TypedArray,
): void {
  const { outer, n, inner } = viewAround(shape, axis);
  checkIndices(op, indices, n, axis);
  const k = indices.length;
  out.set(x);
  const wrapInt = out instanceof Int32Array;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const at = indices[j]!;
      const dst = (o * n + (at < 0 ? at + n : at)) * inner;
      const src = (o * k + j) * inner;
      if (wrapInt) for (let i = 0; i < inner; i++) out[dst + i] = (out[dst + i]! + updates[src + i]!) | 0;
      else for (let i = 0; i < inner; i++) out[dst + i] = out[dst + i]! + updates[src + i]!;
    }
  }
}

/** out[o, j, i] = x[o, indices[o, j, i], i]; indices have x's shape except `k` along `axis`. */
export function takeAlongAxisKernel(
  op: string,
  x: TypedArray,
  shape: Shape,
  axis: number,
  indices: Int32Array,
  indicesShape: Shape,
  out: TypedArray,
): void {
  const { outer, n, inner } = viewAround(shape, axis);
  const k = indicesShape[axis]!;
  checkIndices(op, indices, n, axis);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const row = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) {
        const at = indices[row + i]!;
        out[row + i] = x[(o * n + (at < 0 ? at + n : at)) * inner + i]!;
      }
    }
  }
}

/** out = x + updates[o, j, i] added at x[o, indices[o, j, i], i] (duplicates accumulate). */
export function scatterAddAlongAxisKernel(
  op: string,
  x: TypedArray,
  shape: Shape,
  axis: number,
  indices: Int32Array,
  indicesShape: Shape,
  updates: TypedArray,
  out: TypedArray,
): void {
  const { outer, n, inner } = viewAround(shape, axis);
  const k = indicesShape[axis]!;
  checkIndices(op, indices, n, axis);
  out.set(x);
  const wrapInt = out instanceof Int32Array;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const row = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) {
        const at = indices[row + i]!;
        const dst = (o * n + (at < 0 ? at + n : at)) * inner + i;
        out[dst] = wrapInt ? (out[dst]! + updates[row + i]!) | 0 : out[dst]! + updates[row + i]!;
      }
    }
  }
}
