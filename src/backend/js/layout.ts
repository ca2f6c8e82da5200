/** Data-movement kernels on row-major storage. */
import type { TypedArray } from "../../core/dtype.js";
import { type Shape, sizeOf, stridesOf } from "../../core/shape.js";
import { cachedKernel } from "../kernel-cache.js";

/** Broadcast x (shape `inShape`) into `out` (`outShape`); `dims[i]` is the output axis of input axis i. */
export function broadcastInto(
  x: TypedArray,
  inShape: Shape,
  outShape: Shape,
  dims: readonly number[],
  out: TypedArray,
): TypedArray {
  const n = sizeOf(outShape);
  if (n === 0) return out;
  if (sizeOf(inShape) === 1) {
    out.fill(x[0]! as never);
    return out;
  }
  const rank = outShape.length;
  const inStrides = stridesOf(inShape);
  const srcStride = new Array<number>(rank).fill(0);
  dims.forEach((d, i) => {
    if (inShape[i] !== 1) srcStride[d] = inStrides[i]!;
  });
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  const lastDim = outShape[rank - 1]!;
  const lastStride = srcStride[rank - 1]!;
  for (let o = 0; o < n; ) {
    if (lastStride === 0) {
      const v = x[src]!;
      for (let j = 0; j < lastDim; j++) out[o++] = v;
    } else for (let j = 0; j < lastDim; j++) out[o++] = x[src + j * lastStride]!;
    let ax = rank - 2;
    while (ax >= 0) {
      idx[ax]!++;
      src += srcStride[ax]!;
      if (idx[ax]! < outShape[ax]!) break;
      src -= srcStride[ax]! * outShape[ax]!;
      idx[ax] = 0;
      ax--;
    }
  }
  return out;
}

/**
 * A transpose specialised for one shape and permutation (constant bounds and strides, one element type
 * per call site), generated once; transposes of the last two axes run in cache-sized tiles.
 */
export function transposeCompiled(
  shape: Shape,
  perm: readonly number[],
): (x: TypedArray, out: TypedArray) => void {
  return cachedKernel(`js transpose ${shape.join(",")}|${perm.join(",")}`, () =>
    compileTranspose(shape, perm),
  );
}

function compileTranspose(shape: Shape, perm: readonly number[]): (x: TypedArray, out: TypedArray) => void {
  const rank = shape.length;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]!);
  const src = perm.map((p) => inStrides[p]!);
  const swapsLastTwo =
    rank >= 2 &&
    perm[rank - 1] === rank - 2 &&
    perm[rank - 2] === rank - 1 &&
    perm.slice(0, -2).every((p, i) => p === i);
  let code: string;
  if (swapsLastTwo) {
    // out[b, j, i] = x[b, i, j], in TILE x TILE blocks.
    const rows = shape[rank - 2]!;
    const cols = shape[rank - 1]!;
    const TILE = 32;
    code = `for (let b = 0; b < ${sizeOf(shape.slice(0, -2))}; b++) {
  const base = b * ${rows * cols};
  for (let i0 = 0; i0 < ${rows}; i0 += ${TILE}) {
    const i1 = Math.min(i0 + ${TILE}, ${rows});
    for (let j0 = 0; j0 < ${cols}; j0 += ${TILE}) {
      const j1 = Math.min(j0 + ${TILE}, ${cols});
      for (let i = i0; i < i1; i++) {
        const row = base + i * ${cols};
        for (let j = j0; j < j1; j++) out[base + j * ${rows} + i] = x[row + j];
      }
    }
  }
}`;
  } else {
    // Nested loops over the output, reading the input with constant strides.
    const idx = outShape.map((_, d) => `i${d}`);
    let body = `out[o++] = x[${idx.map((v, d) => `${v} * ${src[d]}`).join(" + ") || "0"}];`;
    for (let d = rank - 1; d >= 0; d--)
      body = `for (let ${idx[d]} = 0; ${idx[d]} < ${outShape[d]}; ${idx[d]}++) { ${body} }`;
    code = `let o = 0;\n${body}`;
  }
  return new Function("x", "out", code) as (x: TypedArray, out: TypedArray) => void;
}
