/**
 * 2-D convolution kernels on NCHW input and OIHW weights (cross-correlation, PyTorch layout), as
 * im2col + GEMM: per image and group, the receptive fields are unrolled into a [Cg*KH*KW, OH*OW]
 * matrix so that the three products of the convolution's trilinear form become plain matrix
 * products with long contiguous inner loops.
 *
 * Kernels compute in float64 (float32 operands are widened once, outside the hot loops) so that each
 * kernel sees a single array type and the accumulation is as accurate as matmulKernel's.
 */
import { type DType, storageFor, type TypedArray } from "../../core/dtype.js";

/** Everything a kernel needs to know about one convolution; spatial padding may be negative (cropping). */
export interface ConvGeometry {
  batch: number;
  inChannels: number;
  inHeight: number;
  inWidth: number;
  outChannels: number;
  kernelHeight: number;
  kernelWidth: number;
  outHeight: number;
  outWidth: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  dilationH: number;
  dilationW: number;
  groups: number;
}

/** Elements of the im2col matrix of one image and group: [Cg*KH*KW, OH*OW]. */
export function colsSize(g: ConvGeometry): number {
  return (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth * g.outHeight * g.outWidth;
}

export function weightSize(g: ConvGeometry): number {
  return g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth;
}

/** Storage as float64: the array itself when it already is, else a widened copy. */
export function toFloat64(data: TypedArray): Float64Array {
  return data instanceof Float64Array ? data : Float64Array.from(data);
}

/** A float64 result in the storage of `dtype` (rounded once, at the end, for float32). */
export function fromFloat64(data: Float64Array, dtype: DType): TypedArray {
  if (dtype === "float64") return data;
  const out = storageFor(dtype, data.length);
  out.set(data);
  return out;
}

/**
 * The output positions i in [0, outSize) whose tap `offset` lands inside the input:
 * 0 <= i*stride - pad + offset < inSize. Returned as a half-open range [lo, hi).
 */
export function validRange(
  outSize: number,
  stride: number,
  pad: number,
  offset: number,
  inSize: number,
): [number, number] {
  const lo = Math.max(0, Math.ceil((pad - offset) / stride));
  const hi = Math.min(outSize, Math.floor((inSize - 1 + pad - offset) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/** Unrolls the receptive fields of `channels` input planes starting at `xOff` into cols [channels*KH*KW, OH*OW]. */
function im2col(x: Float64Array, xOff: number, cols: Float64Array, channels: number, g: ConvGeometry): void {
  const { inHeight: H, inWidth: W, kernelHeight: KH, kernelWidth: KW, outHeight: OH, outWidth: OW } = g;
  const { strideH: sh, strideW: sw, padTop: pt, padLeft: pl, dilationH: dh, dilationW: dw } = g;
  const P = OH * OW;
  let row = 0;
  for (let c = 0; c < channels; c++) {
    const plane = xOff + c * H * W;
    for (let p = 0; p < KH; p++) {
      const [iLo, iHi] = validRange(OH, sh, pt, p * dh, H);
      for (let q = 0; q < KW; q++, row += P) {
        const [jLo, jHi] = validRange(OW, sw, pl, q * dw, W);
        if (iLo > 0 || iHi < OH || jLo > 0 || jHi < OW) cols.fill(0, row, row + P);
        const colOff = q * dw - pl;
        for (let i = iLo; i < iHi; i++) {
          const src = plane + (i * sh - pt + p * dh) * W + colOff;
          const dst = row + i * OW;
          if (sw === 1) for (let j = jLo; j < jHi; j++) cols[dst + j] = x[src + j]!;
          else for (let j = jLo; j < jHi; j++) cols[dst + j] = x[src + j * sw]!;
        }
      }
    }
  }
}

/** The transpose of im2col: adds every column entry back into the input plane it was read from. */
function col2imAdd(
  cols: Float64Array,
  out: Float64Array,
  outOff: number,
  channels: number,
  g: ConvGeometry,
): void {
  const { inHeight: H, inWidth: W, kernelHeight: KH, kernelWidth: KW, outHeight: OH, outWidth: OW } = g;
  const { strideH: sh, strideW: sw, padTop: pt, padLeft: pl, dilationH: dh, dilationW: dw } = g;
  const P = OH * OW;
  let row = 0;
  for (let c = 0; c < channels; c++) {
    const plane = outOff + c * H * W;
    for (let p = 0; p < KH; p++) {
      const [iLo, iHi] = validRange(OH, sh, pt, p * dh, H);
      for (let q = 0; q < KW; q++, row += P) {
        const [jLo, jHi] = validRange(OW, sw, pl, q * dw, W);
        const colOff = q * dw - pl;
        for (let i = iLo; i < iHi; i++) {
          const dst = plane + (i * sh - pt + p * dh) * W + colOff;
          const src = row + i * OW;
          if (sw === 1) for (let j = jLo; j < jHi; j++) out[dst + j]! += cols[src + j];
          else for (let j = jLo; j < jHi; j++) out[dst + j * sw]! += cols[src + j];
        }
      }
    }
  }
}

/**
 * out[oOff + r*n + j] += sum_k a[aOff + r*k + kk] * b[kk*n + j] for r < m: a row-major GEMM accumulating
 * into `out`, four rows of b per pass so each output element is loaded and stored a quarter as often.
 */
function gemmAccumulate(
  a: Float64Array,
  aOff: number,
  b: Float64Array,
  out: Float64Array,
  oOff: number,
  m: number,
  k: number,
  n: number,
): void {
  let r = 0;
  // Two rows of out per pass share the loads of b.
  for (; r + 1 < m; r += 2) {
    const aRow = aOff + r * k;
    const oRow = oOff + r * n;
    const oRow1 = oRow + n;
    let kk = 0;
    for (; kk + 3 < k; kk += 4) {
      const a0 = a[aRow + kk]!;
      const a1 = a[aRow + kk + 1]!;
      const a2 = a[aRow + kk + 2]!;
      const a3 = a[aRow + kk + 3]!;
      const c0 = a[aRow + k + kk]!;
      const c1 = a[aRow + k + kk + 1]!;
      const c2 = a[aRow + k + kk + 2]!;
      const c3 = a[aRow + k + kk + 3]!;
      const b0 = kk * n;
      const b1 = b0 + n;
      const b2 = b1 + n;
      const b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        const v0 = b[b0 + j]!;
        const v1 = b[b1 + j]!;
        const v2 = b[b2 + j]!;
        const v3 = b[b3 + j]!;
        out[oRow + j]! += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3;
        out[oRow1 + j]! += c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3;
      }
    }
    for (; kk < k; kk++) {
      const av = a[aRow + kk]!;
      const cv = a[aRow + k + kk]!;
      const b0 = kk * n;
      for (let j = 0; j < n; j++) {
        const v = b[b0 + j]!;
        out[oRow + j]! += av * v;
        out[oRow1 + j]! += cv * v;
      }
    }
  }
  for (; r < m; r++) {
    const aRow = aOff + r * k;
    const oRow = oOff + r * n;
    let kk = 0;
    for (; kk + 3 < k; kk += 4) {
      const a0 = a[aRow + kk]!;
      const a1 = a[aRow + kk + 1]!;
      const a2 = a[aRow + kk + 2]!;
      const a3 = a[aRow + kk + 3]!;
      const b0 = kk * n;
      const b1 = b0 + n;
      const b2 = b1 + n;
      const b3 = b2 + n;
      for (let j = 0; j < n; j++)
        out[oRow + j]! += a0 * b[b0 + j]! + a1 * b[b1 + j]! + a2 * b[b2 + j]! + a3 * b[b3 + j]!;
    }
    for (; kk < k; kk++) {
      const av = a[aRow + kk]!;
      const b0 = kk * n;
      for (let j = 0; j < n; j++) out[oRow + j]! += av * b[b0 + j]!;
    }
  }
}

/** y[n, o] = sum over the input channels c of o's group of x[n, c] (cross-correlated with) w[o, c]. */
export function conv2dKernel(
  x: Float64Array,
  w: Float64Array,
  g: ConvGeometry,
  out: Float64Array = new Float64Array(g.batch * g.outChannels * g.outHeight * g.outWidth),
  cols: Float64Array = new Float64Array(colsSize(g)),
): Float64Array {
  const { batch: N, inChannels: C, inHeight: H, inWidth: W, outChannels: O, groups: G } = g;
  const Cg = C / G;
  const Og = O / G;
  const K = Cg * g.kernelHeight * g.kernelWidth;
  const P = g.outHeight * g.outWidth;
  out.fill(0);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < G; gi++) {
      im2col(x, (n * C + gi * Cg) * H * W, cols, Cg, g);
      gemmAccumulate(w, gi * Og * K, cols, out, (n * O + gi * Og) * P, Og, K, P);
    }
  }
  return out;
}

/** The gradient of conv2d with respect to its input: cols = wᵀ @ ct per image and group, then col2im. */
export function conv2dInputGradKernel(
  ct: Float64Array,
  w: Float64Array,
  g: ConvGeometry,
  out: Float64Array = new Float64Array(g.batch * g.inChannels * g.inHeight * g.inWidth),
  cols: Float64Array = new Float64Array(colsSize(g)),
  wT: Float64Array = new Float64Array(weightSize(g)),
): Float64Array {
  const { batch: N, inChannels: C, inHeight: H, inWidth: W, outChannels: O, groups: G } = g;
  const Cg = C / G;
  const Og = O / G;
  const K = Cg * g.kernelHeight * g.kernelWidth;
  const P = g.outHeight * g.outWidth;
  out.fill(0);
  // wᵀ per group, so the product below walks rows of both operands.
  for (let gi = 0; gi < G; gi++) {
    for (let o = 0; o < Og; o++) {
      for (let kk = 0; kk < K; kk++) wT[gi * K * Og + kk * Og + o] = w[(gi * Og + o) * K + kk]!;
    }
  }
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < G; gi++) {
      cols.fill(0);
      gemmAccumulate(wT, gi * K * Og, ct.subarray((n * O + gi * Og) * P), cols, 0, K, Og, P);
      col2imAdd(cols, out, (n * C + gi * Cg) * H * W, Cg, g);
    }
  }
  return out;
}

/** The gradient of conv2d with respect to its weight: wbar[o, k] = sum over images of ct[n, o] · cols[k]. */
export function conv2dWeightGradKernel(
  x: Float64Array,
  ct: Float64Array,
  g: ConvGeometry,
  out: Float64Array = new Float64Array(weightSize(g)),
  cols: Float64Array = new Float64Array(colsSize(g)),
): Float64Array {
  const { batch: N, inChannels: C, inHeight: H, inWidth: W, outChannels: O, groups: G } = g;
  const Cg = C / G;
  const Og = O / G;
  const K = Cg * g.kernelHeight * g.kernelWidth;
  const P = g.outHeight * g.outWidth;
  out.fill(0);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < G; gi++) {
      im2col(x, (n * C + gi * Cg) * H * W, cols, Cg, g);
      const ctOff = (n * O + gi * Og) * P;
      const outOff = gi * Og * K;
      let o = 0;
      // Dot products of two cotangent rows with four column rows per pass share their loads.
      for (; o + 1 < Og; o += 2) {
        const t0 = ctOff + o * P;
        const t1 = t0 + P;
        const o0 = outOff + o * K;
        const o1 = o0 + K;
        let kk = 0;
        for (; kk + 3 < K; kk += 4) {
          const r0 = kk * P;
          const r1 = r0 + P;
          const r2 = r1 + P;
          const r3 = r2 + P;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          let u0 = 0;
          let u1 = 0;
          let u2 = 0;
          let u3 = 0;
          for (let j = 0; j < P; j++) {
            const c = ct[t0 + j]!;
            const d = ct[t1 + j]!;
            const v0 = cols[r0 + j]!;
            const v1 = cols[r1 + j]!;
            const v2 = cols[r2 + j]!;
            const v3 = cols[r3 + j]!;
            s0 += c * v0;
            s1 += c * v1;
            s2 += c * v2;
            s3 += c * v3;
            u0 += d * v0;
            u1 += d * v1;
            u2 += d * v2;
            u3 += d * v3;
          }
          out[o0 + kk]! += s0;
          out[o0 + kk + 1]! += s1;
          out[o0 + kk + 2]! += s2;
          out[o0 + kk + 3]! += s3;
          out[o1 + kk]! += u0;
          out[o1 + kk + 1]! += u1;
          out[o1 + kk + 2]! += u2;
          out[o1 + kk + 3]! += u3;
        }
        for (; kk < K; kk++) {
          const r0 = kk * P;
          let s = 0;
          let u = 0;
          for (let j = 0; j < P; j++) {
            const v = cols[r0 + j]!;
            s += ct[t0 + j]! * v;
            u += ct[t1 + j]! * v;
          }
          out[o0 + kk]! += s;
          out[o1 + kk]! += u;
        }
      }
      for (; o < Og; o++) {
        const t0 = ctOff + o * P;
        const o0 = outOff + o * K;
        for (let kk = 0; kk < K; kk++) {
          const r0 = kk * P;
          let s = 0;
          for (let j = 0; j < P; j++) s += ct[t0 + j]! * cols[r0 + j]!;
          out[o0 + kk]! += s;
        }
      }
    }
  }
  return out;
}
