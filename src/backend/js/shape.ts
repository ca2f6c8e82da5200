/**
 * Kernels behind the shape primitives (concatenate, pad with interior padding, strided slice, rev). Each
 * is one strided copy: an odometer over a shape that walks a source and a destination with their own
 * strides, so negative strides (rev) and gaps (interior padding, slice steps) cost nothing extra.
 */
import { type DType, storageFor, type TypedArray } from "../../core/dtype.js";
import { type Shape, sizeOf, stridesOf } from "../../core/shape.js";

/** For every index i of `shape`: dst[dstBase + i·dstStrides] = src[srcBase + i·srcStrides]. */
export function stridedCopy(
  src: TypedArray,
  srcBase: number,
  srcStrides: readonly number[],
  dst: TypedArray,
  dstBase: number,
  dstStrides: readonly number[],
  shape: Shape,
): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const rank = shape.length;
  if (rank === 0) {
    dst[dstBase] = src[srcBase]!;
    return;
  }
  const idx = new Array<number>(rank).fill(0);
  const last = shape[rank - 1]!;
  const srcLast = srcStrides[rank - 1]!;
  const dstLast = dstStrides[rank - 1]!;
  let s = srcBase;
  let d = dstBase;
  for (let done = 0; done < n; done += last) {
    // Long contiguous rows go through set() (a memcpy); short ones are cheaper element by element.
    if (srcLast === 1 && dstLast === 1 && last >= 16) dst.set(src.subarray(s, s + last) as never, d);
    else for (let j = 0; j < last; j++) dst[d + j * dstLast] = src[s + j * srcLast]!;
    // Advance the multi-index over all but the last axis.
    let ax = rank - 2;
    while (ax >= 0) {
      idx[ax]!++;
      s += srcStrides[ax]!;
      d += dstStrides[ax]!;
      if (idx[ax]! < shape[ax]!) break;
      s -= srcStrides[ax]! * shape[ax]!;
      d -= dstStrides[ax]! * shape[ax]!;
      idx[ax] = 0;
      ax--;
    }
  }
}

/** Operands (of `shapes`: equal but along `axis`) laid side by side along it, into `out` (of `outShape`). */
export function concatenateInto(
  xs: readonly TypedArray[],
  shapes: readonly Shape[],
  axis: number,
  outShape: Shape,
  out: TypedArray,
): void {
  const outStrides = stridesOf(outShape);
  let offset = 0;
  shapes.forEach((shape, k) => {
    stridedCopy(xs[k]!, 0, stridesOf(shape), out, offset * outStrides[axis]!, outStrides, shape);
    offset += shape[axis]!;
  });
}

/** The size of an axis of `d` elements after lo/hi edge padding and `interior` padding between elements. */
export function paddedSize(d: number, lo: number, hi: number, interior: number): number {
  return lo + hi + d + Math.max(d - 1, 0) * interior;
}

/**
 * x surrounded by `lo`/`hi` elements of `fill` per axis, with `interior` elements between neighbours,
 * written into `out` (of the padded size) whatever it held; `fill` is the value cast to out's dtype.
 */
export function padInto(
  x: TypedArray,
  shape: Shape,
  lo: readonly number[],
  hi: readonly number[],
  interior: readonly number[],
  fill: number,
  out: TypedArray,
): void {
  const outShape = shape.map((d, a) => paddedSize(d, lo[a]!, hi[a]!, interior[a]!));
  out.fill(fill);
  const outStrides = stridesOf(outShape);
  let base = 0;
  shape.forEach((_, a) => {
    base += lo[a]! * outStrides[a]!;
  });
  const dstStrides = outStrides.map((s, a) => s * (interior[a]! + 1));
  stridedCopy(x, 0, stridesOf(shape), out, base, dstStrides, shape);
}

function slicedShapeOf(
  shape: Shape,
  start: readonly number[],
  limit: readonly number[],
  strides: readonly number[],
): number[] {
  return shape.map((_, a) => Math.max(0, Math.ceil((limit[a]! - start[a]!) / strides[a]!)));
}

/** Elements start, start + stride, ... (below limit) along every axis, written into `out`. */
export function sliceInto(
  x: TypedArray,
  shape: Shape,
  start: readonly number[],
  limit: readonly number[],
  strides: readonly number[],
  out: TypedArray,
): void {
  const outShape = slicedShapeOf(shape, start, limit, strides);
  const inStrides = stridesOf(shape);
  let base = 0;
  shape.forEach((_, a) => {
    base += start[a]! * inStrides[a]!;
  });
  stridedCopy(
    x,
    base,
    inStrides.map((s, a) => s * strides[a]!),
    out,
    0,
    stridesOf(outShape),
    outShape,
  );
}

/** x with the order of elements reversed along each of `axes`. */
export function revKernel(x: TypedArray, shape: Shape, axes: readonly number[], dtype: DType): TypedArray {
  const out = storageFor(dtype, sizeOf(shape));
  const inStrides = stridesOf(shape);
  let base = 0;
  const srcStrides = inStrides.map((s, a) => {
    if (!axes.includes(a)) return s;
    base += Math.max(shape[a]! - 1, 0) * s;
    return -s;
  });
  stridedCopy(x, base, srcStrides, out, 0, inStrides, shape);
  return out;
}
