/**
 * Kernels of the dynamic slices (lax.dynamic_slice and dynamic_update_slice): a window whose start is read
 * from int32 operands when the kernel runs, clamped so that the window lies inside the operand. Each is one
 * strided copy (shape.ts's stridedCopy) at an offset computed per call, so a jit plan's kernel is built once
 * for the shapes and reads its starts from their buffers on every run.
 */
import type { TypedArray } from "../../core/dtype.js";
import { type Shape, sizeOf, stridesOf } from "../../core/shape.js";
import { stridedCopy } from "./shape.js";

/**
 * The start a window of `size` elements takes on an axis of `dim` elements when asked for `start`: with
 * `allowNegative`, a negative start first counts from the end once (start + dim, as JAX's default); then it
 * is clamped to [0, dim - size], XLA's rule, so the window always fits (size <= dim is checked at trace time).
 */
export function clampedStart(start: number, size: number, dim: number, allowNegative: boolean): number {
  const s = allowNegative && start < 0 ? start + dim : start;
  return Math.min(Math.max(s, 0), dim - size);
}

/** The flat offset of the window's first element, from one int32 scalar buffer per axis. */
function windowBase(
  starts: readonly TypedArray[],
  shape: Shape,
  sizes: Shape,
  strides: readonly number[],
  allowNegative: readonly boolean[],
): number {
  let base = 0;
  for (let a = 0; a < shape.length; a++) {
    base += clampedStart(starts[a]![0]!, sizes[a]!, shape[a]!, allowNegative[a]!) * strides[a]!;
  }
  return base;
}

/** out (of shape `sizes`) = the window of x (of `shape`) at the clamped starts. */
export function dynamicSliceKernel(
  x: TypedArray,
  shape: Shape,
  starts: readonly TypedArray[],
  sizes: Shape,
  allowNegative: readonly boolean[],
  out: TypedArray,
): void {
  if (sizeOf(sizes) === 0) return;
  const strides = stridesOf(shape);
  const base = windowBase(starts, shape, sizes, strides, allowNegative);
  stridedCopy(x, base, strides, out, 0, stridesOf(sizes), sizes);
}

/** out = x with the window at the clamped starts overwritten by `update` (of shape `sizes`). */
export function dynamicUpdateSliceKernel(
  x: TypedArray,
  shape: Shape,
  update: TypedArray,
  sizes: Shape,
  starts: readonly TypedArray[],
  allowNegative: readonly boolean[],
  out: TypedArray,
): void {
  if (out !== x) out.set(x as never);
  if (sizeOf(sizes) === 0) return;
  const strides = stridesOf(shape);
  const base = windowBase(starts, shape, sizes, strides, allowNegative);
  stridedCopy(update, 0, stridesOf(sizes), out, base, strides, sizes);
}
