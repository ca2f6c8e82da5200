/** Max-pooling kernels on NCHW planes, and the gather / scatter-add that route values through its argmax. */
import type { TypedArray } from "../../core/dtype.js";

export interface PoolGeometry {
  /** N * C: pooling treats every (n, c) plane alike. */
  planes: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
}

/**
 * The maximum of every window and its flat index h*W + w in the unpadded plane. Padding is -infinity and
 * never wins; ties go to the first maximum in row-major window order; NaN wins (and the last NaN's index
 * is kept), exactly PyTorch's CPU kernel (`val > max || isnan(val)`).
 */
export function maxPool2dKernel(
  x: TypedArray,
  g: PoolGeometry,
  values: TypedArray | null,
  indices: Int32Array | null,
): void {
  const { planes, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, kernelH: kh, kernelW: kw } = g;
  const { strideH: sh, strideW: sw, padTop: pt, padLeft: pl } = g;
  let o = 0;
  for (let plane = 0; plane < planes; plane++) {
    const base = plane * H * W;
    for (let i = 0; i < OH; i++) {
      const h0 = i * sh - pt;
      const hStart = Math.max(h0, 0);
      const hEnd = Math.min(h0 + kh, H);
      for (let j = 0; j < OW; j++, o++) {
        const w0 = j * sw - pl;
        const wStart = Math.max(w0, 0);
        const wEnd = Math.min(w0 + kw, W);
        let best = Number.NEGATIVE_INFINITY;
        let at = hStart * W + wStart;
        for (let h = hStart; h < hEnd; h++) {
          const row = h * W;
          for (let w = wStart; w < wEnd; w++) {
            const v = x[base + row + w]!;
            if (v > best || Number.isNaN(v)) {
              best = v;
              at = row + w;
            }
          }
        }
        if (values !== null) values[o] = best;
        if (indices !== null) indices[o] = at;
      }
    }
  }
}

/** out[p, k] = t[p, idx[p, k]] for every plane p: the value of each window's argmax. */
export function poolGatherKernel(
  t: TypedArray,
  idx: Int32Array,
  planes: number,
  planeSize: number,
  out: TypedArray,
): void {
  const per = idx.length / planes;
  for (let p = 0; p < planes; p++) {
    const base = p * planeSize;
    const o0 = p * per;
    for (let k = 0; k < per; k++) {
      const at = idx[o0 + k]!;
      if (at < 0 || at >= planeSize)
        throw new RangeError(`pool_gather: index ${at} is outside a plane of ${planeSize} elements`);
      out[o0 + k] = t[base + at]!;
    }
  }
}

/**
 * out[p, idx[p, k]] += ct[p, k] on zero planes: the transpose of poolGatherKernel (overlapping windows
 * accumulate, in `acc` in float64, then rounded once into out).
 */
export function poolScatterAddKernel(
  ct: TypedArray,
  idx: Int32Array,
  planes: number,
  planeSize: number,
  acc: Float64Array,
  out: TypedArray,
): void {
  const per = idx.length / planes;
  acc.fill(0);
  for (let p = 0; p < planes; p++) {
    const base = p * planeSize;
    const o0 = p * per;
    for (let k = 0; k < per; k++) {
      const at = idx[o0 + k]!;
      if (at < 0 || at >= planeSize)
        throw new RangeError(`pool_scatter_add: index ${at} is outside a plane of ${planeSize} elements`);
      acc[base + at] = acc[base + at]! + ct[o0 + k]!;
    }
  }
  out.set(acc);
}
