/**
 * The geometry of one 2-D convolution, and which taps of its kernel fall inside the input: the bounds
 * both the JS unrolling (conv-gemm.ts) and the emitted wasm one (wasm/conv-moves.ts) walk.
 */

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

/** The output indices [lo, hi) at which one kernel tap reads inside the input (empty: lo === hi). */
export interface TapRange {
  readonly lo: number;
  readonly hi: number;
}

/**
 * For each kernel row p the output rows i with 0 <= i*sh - pt + p*dh < H (`rows[p]`), and for each kernel
 * column q the output columns j with 0 <= j*sw - pl + q*dw < W (`cols[q]`); outside them a tap reads padding.
 */
export function tapRanges(g: ConvGeometry): { rows: TapRange[]; cols: TapRange[] } {
  const range = (outSize: number, stride: number, pad: number, offset: number, inSize: number): TapRange => {
    const lo = Math.max(0, Math.ceil((pad - offset) / stride));
    const end = Math.min(outSize, Math.floor((inSize - 1 + pad - offset) / stride) + 1);
    return { lo, hi: Math.max(lo, end) };
  };
  return {
    rows: Array.from({ length: g.kernelHeight }, (_, p) =>
      range(g.outHeight, g.strideH, g.padTop, p * g.dilationH, g.inHeight),
    ),
    cols: Array.from({ length: g.kernelWidth }, (_, q) =>
      range(g.outWidth, g.strideW, g.padLeft, q * g.dilationW, g.inWidth),
    ),
  };
}

/**
 * The element offset in x of tap k = (c*KH + p)*KW + q from output position (n, i, j) of a stride-1,
 * undilated convolution: x[n, c, i + p, j + q] lies `tapOffset(g, k)` elements after x[n, 0, i, j].
 */
export function tapOffset(g: ConvGeometry, k: number): number {
  const q = k % g.kernelWidth;
  const p = Math.floor(k / g.kernelWidth) % g.kernelHeight;
  const c = Math.floor(k / (g.kernelWidth * g.kernelHeight));
  return (c * g.inHeight + p) * g.inWidth + q;
}
